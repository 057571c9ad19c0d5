"""The report's charts (plotly): journey heat maps, the monthly trend and the NPS drivers.

Each builder takes rollup tables and returns a figure, or None when the rollup has nothing to draw, so
the page can say why instead of showing an empty box.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from pipeline.labels import FORCES, TERMS
from pipeline.rollup.display import (
    BAD_RED,
    FONT_STACK,
    display_touchpoint,
    fmt_pct,
    journey_order,
    label_order,
)
from pipeline.rollup.tables import ALL

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}
TREND_TOP_TOUCHPOINTS = 3

GOOD_GREEN = "#1e8449"
# Drivers whose interval crosses zero are drawn pale: the direction is not established.
BAD_RED_PALE = "#e6b0aa"
GOOD_GREEN_PALE = "#a9dfbf"
NEUTRAL_BLUE = "#2e86c1"
TOUCHPOINT_COLOURS = ("#8e44ad", "#d68910", "#17a589")


def base_layout(fig: go.Figure, height: int) -> go.Figure:
    """One look for every chart: white template, page font, tight margins."""
    fig.update_layout(
        template="plotly_white",
        height=height,
        font={"family": FONT_STACK, "size": 12, "color": "#1f2933"},
        margin={"l": 10, "r": 10, "t": 30, "b": 10},
        hoverlabel={"font": {"family": FONT_STACK}},
    )
    return fig


def figure_div(fig: go.Figure, div_id: str) -> str:
    """The chart as a <div> + call; plotly.js itself is inlined once for the whole page, not per chart."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        config=PLOTLY_CONFIG,
        default_width="100%",
    )


def overall_cells(cells: pd.DataFrame, dimension: str) -> pd.DataFrame:
    """The whole-period cells of one dimension (month rows feed the trend, not the heat maps)."""
    sub = cells[(cells["dimension"] == dimension) & (cells["month"] == ALL)]
    return sub.drop_duplicates(["touchpoint", "label"], keep="first")


def grid(sub: pd.DataFrame, column: str, rows: list[str], cols: list[str]) -> pd.DataFrame:
    """One value per touchpoint x label, NaN where the rollup has no cell."""
    return sub.pivot(index="touchpoint", columns="label", values=column).reindex(index=rows, columns=cols)


def customdata(sub: pd.DataFrame, columns: list[str], rows: list[str], cols: list[str]) -> list[Any]:
    """rows x cols x len(columns) values for hover templates (%{customdata[i]})."""
    grids = [grid(sub, c, rows, cols).to_numpy(dtype=float) for c in columns]
    return [[[g[i][j] for g in grids] for j in range(len(cols))] for i in range(len(rows))]


def heatmap_height(n_rows: int) -> int:
    """Rows tall enough to hold two lines of cell text."""
    return 110 + 44 * max(n_rows, 1)


HEAT_HOVER_COLUMNS = [
    "volume",
    "touchpoint_comments",
    "share",
    "share_lo",
    "share_hi",
    "negative_share",
    "negative_share_lo",
    "negative_share_hi",
    "pain_index",
    "pain_index_lo",
    "pain_index_hi",
    "net_sentiment",
]
HEAT_HOVER = (
    "<b>%{y} · %{x}</b><br>"
    "comments with label: %{customdata[0]:,} of %{customdata[1]:,}"
    " (%{customdata[2]:.1%} [%{customdata[3]:.1%} – %{customdata[4]:.1%}])<br>"
    "negative share: %{customdata[5]:.1%} [%{customdata[6]:.1%} – %{customdata[7]:.1%}]<br>"
    "pain index: %{customdata[8]:.1f} [%{customdata[9]:.1f} – %{customdata[10]:.1f}]<br>"
    "net sentiment: %{customdata[11]:+.2f}<extra></extra>"
)


@dataclass(frozen=True)
class HeatmapStyle:
    """What differs between the TERMS and the Forces heat map."""

    colour_column: str
    colorscale: str
    colorbar_title: str
    zmax: float | None  # None: stretch to the largest value


# the comments each colour is a share of: a cell's negative share rests on its own comments, a Force's
# share of a touchpoint on the touchpoint's comments
COLOUR_BASIS = {"negative_share": "volume", "share": "touchpoint_comments"}


def cell_text(volume: float, share: float, negative_share: float, colour_column: str, enough: bool) -> str:
    """Two short lines per cell: the count always (a deep colour over 4 comments is not a finding); when
    the colour rests on fewer than `rollup.min_n` comments (`enough` False), no share reads as a finding."""
    if math.isnan(volume) or volume == 0:
        return ""
    if not enough:
        return f"{int(volume):,}<br>too few"
    if colour_column == "negative_share":
        return f"{int(volume):,}<br>{fmt_pct(negative_share)} neg"
    return f"{fmt_pct(share)}<br>n={int(volume):,}"


def label_heatmap(
    cells: pd.DataFrame, dimension: str, scheme: Sequence[str], style: HeatmapStyle, min_n: int
) -> go.Figure | None:
    """Touchpoints (journey order, top to bottom) x labels, coloured by one cell column; None if no cells.
    A share over fewer than `min_n` comments (`COLOUR_BASIS`) is left uncoloured and marked "too few"."""
    sub = overall_cells(cells, dimension)
    if sub.empty:
        return None
    rows, cols = journey_order(sub["touchpoint"]), label_order(sub["label"], scheme)
    values = {
        c: grid(sub, c, rows, cols).to_numpy(dtype=float)
        for c in ("volume", "touchpoint_comments", "share", "negative_share")
    }
    enough = values[COLOUR_BASIS[style.colour_column]] >= min_n
    z = grid(sub, style.colour_column, rows, cols).to_numpy(dtype=float)
    z[~enough] = np.nan
    text = [
        [
            cell_text(
                values["volume"][i][j],
                values["share"][i][j],
                values["negative_share"][i][j],
                style.colour_column,
                bool(enough[i][j]),
            )
            for j in range(len(cols))
        ]
        for i in range(len(rows))
    ]
    observed = pd.Series(z.ravel()).max()
    zmax = style.zmax if style.zmax is not None else max(0.05, 0.0 if pd.isna(observed) else float(observed))
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=cols,
            y=[display_touchpoint(t) for t in rows],
            text=text,
            texttemplate="%{text}",
            textfont={"size": 11},
            customdata=customdata(sub, HEAT_HOVER_COLUMNS, rows, cols),
            hovertemplate=HEAT_HOVER,
            colorscale=style.colorscale,
            zmin=0,
            zmax=zmax,
            xgap=2,
            ygap=2,
            colorbar={"title": {"text": style.colorbar_title}, "tickformat": ".0%", "len": 0.9},
        )
    )
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(side="top")
    base_layout(fig, heatmap_height(len(rows)))
    fig.update_layout(margin={"t": 56})  # room for the column names above the cells and the mode bar
    return fig


def terms_heatmap(cells: pd.DataFrame, min_n: int) -> go.Figure | None:
    """Journey heat map: where each TERMS factor comes up, and how negative it is there.

    Colour is the negative share on a fixed 0-100% scale so two reports can be compared by eye.
    """
    style = HeatmapStyle("negative_share", "Reds", "negative<br>share", zmax=1.0)
    return label_heatmap(cells, "terms", TERMS, style, min_n)


def forces_heatmap(cells: pd.DataFrame, min_n: int) -> go.Figure | None:
    """Forces profile: the share of a touchpoint's comments that carry each Force.

    Shares of multi-label tags do not add up to 100% per row; the colour scale is stretched to the largest
    share because Forces are rarer than TERMS and a 0-100% scale would wash them out.
    """
    style = HeatmapStyle("share", "Blues", "share of<br>comments", zmax=None)
    return label_heatmap(cells, "forces", FORCES, style, min_n)


def monthly_rows(touchpoints: pd.DataFrame) -> pd.DataFrame:
    """Per-month touchpoint rows; empty when the rollup was not run with --by month.

    Comments whose date could not be read land in a month like "unknown": a trend point for them would sit
    at the end of the time axis and read as the latest month, so only YYYY-MM months are kept.
    """
    is_month = touchpoints["month"].str.fullmatch(r"\d{4}-\d{2}", na=False)
    return touchpoints[is_month].sort_values("month", kind="stable")


def undated_comments(touchpoints: pd.DataFrame) -> int:
    """Comments (all touchpoints) in a month that is neither "all" nor YYYY-MM, i.e. without a usable date."""
    rows = touchpoints[(touchpoints["touchpoint"] == ALL) & (touchpoints["month"] != ALL)]
    undated = rows[~rows["month"].str.fullmatch(r"\d{4}-\d{2}", na=False)]
    return int(undated["comments"].sum())


def overall_by_month(monthly: pd.DataFrame) -> pd.DataFrame:
    """One row per month for all touchpoints together.

    The rollup writes touchpoint "all" rows; when it did not, the totals are rebuilt from the per-touchpoint
    counts (NPS from promoters/detractors, so it stays exact; the intervals are then unknown).
    """
    total = monthly[monthly["touchpoint"] == ALL]
    if not total.empty:
        return total.sort_values("month").reset_index(drop=True)
    parts = monthly.assign(negatives=monthly["negative_share"] * monthly["comments"])
    agg = parts.groupby("month", as_index=False)[
        ["comments", "negatives", "n_scored", "promoters", "detractors"]
    ].sum()
    agg["negative_share"] = agg["negatives"] / agg["comments"].where(agg["comments"] > 0)
    agg["nps"] = 100 * (agg["promoters"] - agg["detractors"]) / agg["n_scored"].where(agg["n_scored"] > 0)
    for col in ("negative_share_lo", "negative_share_hi", "nps_lo", "nps_hi"):
        agg[col] = float("nan")
    return agg


def top_touchpoints(monthly: pd.DataFrame, k: int = TREND_TOP_TOUCHPOINTS) -> list[str]:
    """The k busiest touchpoints over the whole period: their lines are the ones worth a reader's eye."""
    per = monthly[monthly["touchpoint"] != ALL].groupby("touchpoint")["comments"].sum()
    return per.sort_values(ascending=False, kind="stable").head(k).index.tolist()


def trend_figure(touchpoints: pd.DataFrame) -> go.Figure | None:
    """Comments, negative share and NPS per month; None when there are no month rows."""
    monthly = monthly_rows(touchpoints)
    if monthly.empty:
        return None
    total = overall_by_month(monthly)
    months = total["month"].tolist()
    fig = make_subplots(
        rows=3,
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.09,
        subplot_titles=("Comments per month", "Negative share", "NPS (95% CI)"),
    )
    fig.add_trace(
        go.Bar(x=months, y=total["comments"], name="comments", marker_color="#9aa5b1", showlegend=False),
        row=1,
        col=1,
    )
    add_share_band(fig, total, months)
    fig.add_trace(
        go.Scatter(
            x=months,
            y=total["negative_share"],
            name="all touchpoints",
            mode="lines+markers",
            line={"color": BAD_RED, "width": 3},
            hovertemplate="%{x}: %{y:.1%}<extra>all touchpoints</extra>",
        ),
        row=2,
        col=1,
    )
    for colour, touchpoint in zip(TOUCHPOINT_COLOURS, top_touchpoints(monthly), strict=False):
        rows = monthly[monthly["touchpoint"] == touchpoint].set_index("month").reindex(months)
        fig.add_trace(
            go.Scatter(
                x=months,
                y=rows["negative_share"],
                name=touchpoint,
                mode="lines+markers",
                line={"color": colour, "width": 1.5, "dash": "dot"},
                customdata=rows["comments"],
                hovertemplate="%{x}: %{y:.1%} of %{customdata:,} comments<extra>" + touchpoint + "</extra>",
            ),
            row=2,
            col=1,
        )
    fig.add_trace(score_trace(total, months), row=3, col=1)
    fig.update_xaxes(type="category")
    fig.update_yaxes(tickformat=".0%", rangemode="tozero", row=2, col=1)
    if uses_csat(total):
        fig.update_yaxes(tickformat=".0%", row=3, col=1)
        fig.layout.annotations[2].text = "CSAT (% scoring 4–5)"
    else:
        fig.update_yaxes(zeroline=True, zerolinecolor="#9aa5b1", row=3, col=1)
    base_layout(fig, 720)
    fig.update_layout(legend={"orientation": "h", "y": -0.06, "x": 0}, margin={"t": 40, "b": 40})
    return fig


def uses_csat(total: pd.DataFrame) -> bool:
    """The rollup fills either NPS (0-10 scores) or CSAT (1-5 scores); plot whichever it has."""
    return bool(total["nps"].isna().all() and "csat" in total and total["csat"].notna().any())


def score_trace(total: pd.DataFrame, months: list[str]) -> go.Scatter:
    """Monthly NPS with its 95% interval as error bars, or CSAT share when the scores were 1-5."""
    if uses_csat(total):
        return go.Scatter(
            x=months,
            y=total["csat"],
            name="CSAT",
            mode="lines+markers",
            line={"color": NEUTRAL_BLUE, "width": 2},
            showlegend=False,
            hovertemplate="%{x}: CSAT %{y:.1%}<extra></extra>",
        )
    return go.Scatter(
        x=months,
        y=total["nps"],
        name="NPS",
        mode="lines+markers",
        line={"color": NEUTRAL_BLUE, "width": 2},
        error_y={
            "type": "data",
            "array": total["nps_hi"] - total["nps"],
            "arrayminus": total["nps"] - total["nps_lo"],
            "thickness": 1,
        },
        showlegend=False,
        hovertemplate="%{x}: NPS %{y:+.1f}<extra></extra>",
    )


def add_share_band(fig: go.Figure, total: pd.DataFrame, months: list[str]) -> None:
    """Shade the Wilson interval of the overall negative share so month-to-month noise reads as noise."""
    if total["negative_share_lo"].isna().all():
        return
    fig.add_trace(
        go.Scatter(
            x=months + months[::-1],
            y=total["negative_share_hi"].tolist() + total["negative_share_lo"].tolist()[::-1],
            mode="lines",
            fill="toself",
            fillcolor="rgba(192,57,43,0.12)",
            line={"width": 0},
            hoverinfo="skip",
            name="95% CI (all)",
        ),
        row=2,
        col=1,
    )


def driver_name(dimension: str, label: str) -> str:
    """Axis label that keeps the two schemes apart ("risk" alone would not say which head)."""
    head = {"terms": "TERMS", "forces": "Force"}.get(dimension, dimension)
    return f"{label} ({head})"


def driver_colour(row: Any) -> str:
    """Red lowers NPS, green raises it; pale when the interval crosses zero (direction not established)."""
    crosses_zero = not (row.impact_lo > 0 or row.impact_hi < 0)  # NaN bounds count as crossing
    if row.impact < 0:
        return BAD_RED_PALE if crosses_zero else BAD_RED
    return GOOD_GREEN_PALE if crosses_zero else GOOD_GREEN


def drivers_figure(drivers: pd.DataFrame) -> go.Figure | None:
    """NPS impact of each label with its bootstrap interval, sorted so the biggest drags sit together.

    Red bars pull NPS down (comments with the label score lower than those without), green ones lift it.
    """
    d = drivers.dropna(subset=["impact"])
    if d.empty:
        return None
    d = d.assign(name=[driver_name(a, b) for a, b in zip(d["dimension"], d["label"], strict=True)])
    d = d.sort_values("impact", kind="stable")
    fig = go.Figure(
        go.Bar(
            x=d["impact"],
            y=d["name"],
            orientation="h",
            marker_color=[driver_colour(r) for r in d.itertuples(index=False)],
            error_x={
                "type": "data",
                "array": (d["impact_hi"] - d["impact"]).clip(lower=0),
                "arrayminus": (d["impact"] - d["impact_lo"]).clip(lower=0),
                "color": "#52606d",
                "thickness": 1.2,
            },
            customdata=d[["n_with", "n_without", "nps_with", "nps_without", "impact_lo", "impact_hi"]],
            hovertemplate=(
                "<b>%{y}</b><br>"
                "impact: %{x:+.1f} NPS points [%{customdata[4]:+.1f} – %{customdata[5]:+.1f}]<br>"
                "NPS with label: %{customdata[2]:+.1f} (n=%{customdata[0]:,})<br>"
                "NPS without: %{customdata[3]:+.1f} (n=%{customdata[1]:,})<extra></extra>"
            ),
        )
    )
    fig.update_yaxes(type="category", categoryorder="array", categoryarray=d["name"].tolist())
    fig.update_xaxes(title_text="NPS points (with label − without)", zeroline=True, zerolinecolor="#52606d")
    return base_layout(fig, 90 + 26 * len(d))
