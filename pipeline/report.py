"""Self-contained HTML journey report built from a `cx rollup` folder.

The report is one HTML file with plotly.js inlined and a Content-Security-Policy that forbids any network
access: it has to open from an e-mail attachment, a shared drive or an air-gapped laptop, and it must not
leak that someone is reading customer comments by fetching a CDN script or a web font.

Input files (written by the rollup): cells.csv, touchpoints.csv, summary.json (required) and drivers.csv,
quotes.csv (optional: their sections say so when they are missing or empty).
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from pipeline.labels import FORCES, TERMS
from pipeline.rollup import CELL_COLUMNS as ROLLUP_CELL_COLUMNS
from pipeline.rollup import TOUCHPOINT_COLUMNS as ROLLUP_TOUCHPOINT_COLUMNS

ALL = "all"
MAX_PAIN_QUOTES = 6
TREND_TOP_TOUCHPOINTS = 3

# Journey order for rows: where the customer meets the brand first comes first. Unknown touchpoints follow.
JOURNEY_ORDER = (
    "advertising",
    "website",
    "mobile_app",
    "store_branch",
    "ordering",
    "payment_billing",
    "delivery",
    "installation_onboarding",
    "product_use",
    "call_center",
    "chat_support",
    "returns_refunds",
    "warranty_repair",
    "cancellation",
    "loyalty_program",
)


def _split_columns(columns: list[str], text: list[str]) -> dict[str, list[str]]:
    """The rollup's column contract (pipeline/rollup.py), split into text and numeric columns. The `small`
    flag is not required: the report derives it from the volume and the summary's `min_n`, so rollups
    written before the flag existed still render."""
    return {"text": text, "numeric": [c for c in columns if c not in text and c != "small"]}


CELL_COLUMNS = _split_columns(ROLLUP_CELL_COLUMNS, ["dimension", "touchpoint", "month", "label"])
TOUCHPOINT_COLUMNS = _split_columns(ROLLUP_TOUCHPOINT_COLUMNS, ["touchpoint", "month"])
DRIVER_COLUMNS = {
    "text": ["dimension", "label"],
    "numeric": ["n_with", "n_without", "nps_with", "nps_without", "impact", "impact_lo", "impact_hi"],
}
QUOTE_COLUMNS = {
    "text": ["dimension", "touchpoint", "label", "id", "text", "sentiment"],
    "numeric": ["rank", "probability"],
}

# Local fonts only: a web font would be a network request, and the page must render offline.
FONT_STACK = 'system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif'

# The browser enforces "no network": anything that tries to load from elsewhere is blocked (and logged).
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'"
)

PLOTLY_CONFIG = {"displaylogo": False, "responsive": True, "showSendToCloud": False}

BAD_RED = "#c0392b"
GOOD_GREEN = "#1e8449"
# Drivers whose interval crosses zero are drawn pale: the direction is not established.
BAD_RED_PALE = "#e6b0aa"
GOOD_GREEN_PALE = "#a9dfbf"
NEUTRAL_BLUE = "#2e86c1"
TOUCHPOINT_COLOURS = ("#8e44ad", "#d68910", "#17a589")

CSS_TEMPLATE = """
:root { --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; --bg: #f7f8fa; }
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--ink); font: 15px/1.5 $FONT; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 4px; }
h3 { font-size: 15px; margin: 0 0 2px; }
section, header { background: #fff; border: 1px solid var(--line); border-radius: 8px;
  padding: 18px 22px; margin-bottom: 18px; }
.muted, .note { color: var(--muted); }
.note { font-size: 13px; margin: 2px 0 10px; }
.meta { color: var(--muted); font-size: 13px; margin: 0 0 14px; word-break: break-all; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(165px, 1fr)); gap: 10px; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 12px; }
.card .k { color: var(--muted); font-size: 12px; text-transform: uppercase; letter-spacing: .04em; }
.card .v { font-size: 20px; font-weight: 600; word-break: break-all; }
.card.wide { grid-column: span 2; }
.card .v.small { font-size: 14px; font-weight: 500;
  font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.card .s { color: var(--muted); font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin-top: 8px; }
th, td { text-align: right; padding: 4px 8px; border-bottom: 1px solid var(--line); }
th:first-child, td:first-child { text-align: left; }
th { color: var(--muted); font-weight: 600; }
tr.total td { font-weight: 600; border-top: 2px solid var(--line); }
.pains { display: grid; grid-template-columns: repeat(auto-fill, minmax(340px, 1fr)); gap: 14px; }
.pain { border: 1px solid var(--line); border-left: 4px solid $RED; border-radius: 6px;
  padding: 10px 14px; }
.pain ul { list-style: none; margin: 8px 0 0; padding: 0; }
.pain li { margin: 0 0 10px; }
blockquote { margin: 0; padding: 0 0 0 10px; border-left: 2px solid var(--line); white-space: pre-wrap;
  overflow-wrap: anywhere; }
.qmeta { color: var(--muted); font-size: 12px; padding-left: 12px; }
dl { margin: 0; } dt { font-weight: 600; margin-top: 8px; } dd { margin: 0 0 0 0; color: var(--ink); }
"""
CSS = CSS_TEMPLATE.replace("$FONT", FONT_STACK).replace("$RED", BAD_RED)


class ReportError(ValueError):
    """The rollup folder lacks a file or column the report cannot do without (a usage error, exit 2)."""


@dataclass(frozen=True)
class Rollup:
    """Everything `cx rollup` wrote, read once so every section sees the same data."""

    cells: pd.DataFrame
    touchpoints: pd.DataFrame
    drivers: pd.DataFrame
    quotes: pd.DataFrame
    summary: dict[str, Any]


# ---------------------------------------------------------------- loading


def read_table(path: Path, columns: dict[str, list[str]], required: bool) -> pd.DataFrame:
    """Read a rollup CSV with text columns kept verbatim.

    pandas would otherwise turn a comment reading "NA" or "null" into NaN; numbers are parsed afterwards so
    blanks and "NaN" both become NaN. A missing optional file reads as an empty table with the columns.
    """
    wanted = columns["text"] + columns["numeric"]
    if not path.exists() or path.stat().st_size == 0:
        if required:
            raise ReportError(f"{path}: missing or empty; run `cx rollup` first")
        return pd.DataFrame({c: pd.Series(dtype=object if c in columns["text"] else float) for c in wanted})
    frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise ReportError(f"{path}: missing columns {missing}")
    for col in columns["numeric"]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")  # "" and "NaN" -> NaN
    return frame


def load_rollup(rollup_dir: Path) -> Rollup:
    """Read the rollup folder; fail early with the file's name rather than deep inside a chart."""
    rollup_dir = Path(rollup_dir)
    summary_path = rollup_dir / "summary.json"
    if not summary_path.exists():
        raise ReportError(f"{summary_path}: missing; run `cx rollup` first")
    return Rollup(
        cells=read_table(rollup_dir / "cells.csv", CELL_COLUMNS, required=True),
        touchpoints=read_table(rollup_dir / "touchpoints.csv", TOUCHPOINT_COLUMNS, required=True),
        drivers=read_table(rollup_dir / "drivers.csv", DRIVER_COLUMNS, required=False),
        quotes=read_table(rollup_dir / "quotes.csv", QUOTE_COLUMNS, required=False),
        summary=json.loads(summary_path.read_text(encoding="utf-8")),
    )


# ---------------------------------------------------------------- formatting


def esc(value: Any) -> str:
    """HTML-escape anything that came from data: comment texts, labels, paths, ids are all untrusted."""
    return html.escape("" if value is None else str(value), quote=True)


def is_missing(value: Any) -> bool:
    """True for None and NaN, which both mean "not measured" in the rollup files."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_pct(value: Any, digits: int = 0) -> str:
    """0.314 -> "31%"; "n/a" when the share could not be measured."""
    return "n/a" if is_missing(value) else f"{float(value):.{digits}%}"


def fmt_signed(value: Any, digits: int = 1) -> str:
    """NPS and impacts read as gains or losses, so they always carry a sign."""
    return "n/a" if is_missing(value) else f"{float(value):+.{digits}f}"


def fmt_int(value: Any) -> str:
    """Counts with thousands separators; "n/a" when absent."""
    return "n/a" if is_missing(value) else f"{int(value):,}"


def fmt_ci(lo: Any, hi: Any, fmt: Any) -> str:
    """A bracketed 95% interval, or nothing when either end is missing (e.g. no scored comments)."""
    if is_missing(lo) or is_missing(hi):
        return ""
    return f" [{fmt(lo)} – {fmt(hi)}]"


# ---------------------------------------------------------------- ordering


def journey_order(touchpoints: Iterable[str]) -> list[str]:
    """Touchpoints in journey order, unknown ones after (alphabetically), the "all" total last."""
    present = {str(t) for t in touchpoints}
    known = [t for t in JOURNEY_ORDER if t in present]
    unknown = sorted(present - set(JOURNEY_ORDER) - {ALL})
    return known + unknown + ([ALL] if ALL in present else [])


def label_order(labels: Iterable[str], scheme: Sequence[str]) -> list[str]:
    """Labels in the model's scheme order (the order readers know from the codebook), extras after."""
    present = {str(label) for label in labels}
    return [label for label in scheme if label in present] + sorted(present - set(scheme))


def display_touchpoint(touchpoint: str) -> str:
    """Row names for charts: the "all" total reads as such."""
    return "ALL touchpoints" if touchpoint == ALL else touchpoint


# ---------------------------------------------------------------- figures


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


def cell_text(volume: float, share: float, negative_share: float, colour_column: str, min_n: int = 1) -> str:
    """Two short lines per cell: the count always (a deep colour over 4 comments is not a finding); below
    `min_n` comments the negative share is not shown as a finding either."""
    if math.isnan(volume) or volume == 0:
        return ""
    if colour_column == "negative_share":
        if volume < min_n:
            return f"{int(volume):,}<br>too few"
        return f"{int(volume):,}<br>{fmt_pct(negative_share)} neg"
    return f"{fmt_pct(share)}<br>n={int(volume):,}"


def label_heatmap(
    cells: pd.DataFrame, dimension: str, scheme: Sequence[str], style: HeatmapStyle, min_n: int = 1
) -> go.Figure | None:
    """Touchpoints (journey order, top to bottom) x labels, coloured by one cell column; None if no cells.
    A negative share over fewer than `min_n` comments is left uncoloured and marked "too few"."""
    sub = overall_cells(cells, dimension)
    if sub.empty:
        return None
    rows, cols = journey_order(sub["touchpoint"]), label_order(sub["label"], scheme)
    values = {
        c: grid(sub, c, rows, cols).to_numpy(dtype=float) for c in ("volume", "share", "negative_share")
    }
    z = grid(sub, style.colour_column, rows, cols).to_numpy(dtype=float)
    if style.colour_column == "negative_share":
        z[values["volume"] < min_n] = np.nan
    text = [
        [
            cell_text(
                values["volume"][i][j],
                values["share"][i][j],
                values["negative_share"][i][j],
                style.colour_column,
                min_n,
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


def terms_heatmap(cells: pd.DataFrame, min_n: int = 1) -> go.Figure | None:
    """Journey heat map: where each TERMS factor comes up, and how negative it is there.

    Colour is the negative share on a fixed 0-100% scale so two reports can be compared by eye.
    """
    style = HeatmapStyle("negative_share", "Reds", "negative<br>share", zmax=1.0)
    return label_heatmap(cells, "terms", TERMS, style, min_n)


def forces_heatmap(cells: pd.DataFrame) -> go.Figure | None:
    """Forces profile: the share of a touchpoint's comments that carry each Force.

    Shares of multi-label tags do not add up to 100% per row; the colour scale is stretched to the largest
    share because Forces are rarer than TERMS and a 0-100% scale would wash them out.
    """
    style = HeatmapStyle("share", "Blues", "share of<br>comments", zmax=None)
    return label_heatmap(cells, "forces", FORCES, style)


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


# ---------------------------------------------------------------- HTML sections


def card(key: str, value: str, sub: str = "", small: bool = False, wide: bool = False) -> str:
    """One figure in the header strip (all arguments already escaped); `wide` for 32-character run ids."""
    cls = "v small" if small else "v"
    sub_html = f'<div class="s">{sub}</div>' if sub else ""
    box = "card wide" if wide else "card"
    return f'<div class="{box}"><div class="k">{key}</div><div class="{cls}">{value}</div>{sub_html}</div>'


def total_row(touchpoints: pd.DataFrame) -> dict[str, Any]:
    """The all-touchpoints, whole-period row (for intervals the summary does not carry); {} if absent."""
    rows = touchpoints[(touchpoints["touchpoint"] == ALL) & (touchpoints["month"] == ALL)]
    return rows.iloc[0].to_dict() if not rows.empty else {}


def score_card(overall: dict[str, Any], total: dict[str, Any]) -> str:
    """Overall NPS with its interval; CSAT instead when the scores were on a 1-5 scale (NPS then empty)."""
    n = f"n={fmt_int(overall.get('n_scored'))}"
    if is_missing(overall.get("nps")) and not is_missing(total.get("csat")):
        return card("Overall CSAT", esc(fmt_pct(total.get("csat"), 1)), esc(f"{n} · share scoring 4–5"))
    nps_ci = fmt_ci(total.get("nps_lo"), total.get("nps_hi"), fmt_signed)
    return card("Overall NPS", esc(fmt_signed(overall.get("nps"))), esc(n + nps_ci))


def header_html(title: str, summary: dict[str, Any], touchpoints: pd.DataFrame) -> str:
    """Title, provenance (input, time, model version, MLflow run) and the headline numbers."""
    overall = summary.get("overall") or {}
    total = total_row(touchpoints)
    by = ", ".join(str(b) for b in summary.get("by") or []) or "touchpoint"
    neg_ci = fmt_ci(total.get("negative_share_lo"), total.get("negative_share_hi"), fmt_pct)
    cards = [
        card("Input rows", esc(fmt_int(summary.get("rows")))),
        card("Scored", esc(fmt_int(summary.get("scored_rows")))),
        card("Quarantined", esc(fmt_int(summary.get("quarantined")))),
        card("Comments in rollup", esc(fmt_int(overall.get("comments")))),
        score_card(overall, total),
        card("Negative share", esc(fmt_pct(overall.get("negative_share"), 1)), esc(neg_ci.strip())),
        card("Model version", esc(summary.get("model_version") or "unknown"), small=True),
        card("MLflow run id", esc(summary.get("run_id") or "none recorded"), small=True, wide=True),
    ]
    return (
        f"<header><h1>{esc(title)}</h1>"
        f'<p class="meta">input: {esc(summary.get("input"))} · generated: {esc(summary.get("generated_at"))}'
        f" · grouped by: {esc(by)}</p>"
        f'<div class="cards">{"".join(cards)}</div></header>'
    )


def section(title: str, note: str, body: str, section_id: str) -> str:
    """A titled block; `note` says in one line how to read what follows (both already HTML)."""
    return f'<section id="{section_id}"><h2>{title}</h2><p class="note">{note}</p>{body}</section>'


def touchpoint_columns(whole: pd.DataFrame) -> list[tuple[str, Callable[[pd.Series], str]]]:
    """Table columns as (header, cell text); NPS and CSAT only when the rollup has such scores."""
    columns: list[tuple[str, Callable[[pd.Series], str]]] = [
        ("comments", lambda r: fmt_int(r["comments"])),
        (
            "negative share [95% CI]",
            lambda r: (
                fmt_pct(r["negative_share"], 1)
                + fmt_ci(r["negative_share_lo"], r["negative_share_hi"], fmt_pct)
            ),
        ),
    ]
    if whole["nps"].notna().any():
        columns.append(
            ("NPS [95% CI]", lambda r: fmt_signed(r["nps"]) + fmt_ci(r["nps_lo"], r["nps_hi"], fmt_signed))
        )
    columns.append(("scored", lambda r: fmt_int(r["n_scored"])))
    if whole["csat"].notna().any():
        columns.append(("CSAT (% 4–5)", lambda r: fmt_pct(r["csat"], 1)))
    return columns


def touchpoint_table_html(touchpoints: pd.DataFrame) -> str:
    """Per-touchpoint totals with intervals: the numbers behind the heat map rows, readable without hover."""
    whole = touchpoints[touchpoints["month"] == ALL].drop_duplicates("touchpoint").set_index("touchpoint")
    if whole.empty:
        return ""
    columns = touchpoint_columns(whole)
    head = "<tr><th>touchpoint</th>" + "".join(f"<th>{esc(h)}</th>" for h, _ in columns) + "</tr>"
    body = []
    for tp in journey_order(whole.index):
        row = whole.loc[tp]
        cells = "".join(f"<td>{esc(cell(row))}</td>" for _, cell in columns)
        cls = ' class="total"' if tp == ALL else ""
        body.append(f"<tr{cls}><td>{esc(display_touchpoint(tp))}</td>{cells}</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def quotes_for(quotes: pd.DataFrame, pain: dict[str, Any]) -> pd.DataFrame:
    """The stored example comments of one pain cell, best-ranked first."""
    match = (
        (quotes["dimension"] == str(pain.get("dimension")))
        & (quotes["touchpoint"] == str(pain.get("touchpoint")))
        & (quotes["label"] == str(pain.get("label")))
    )
    return quotes[match].sort_values("rank", kind="stable")


def pain_card_html(pain: dict[str, Any], quotes: pd.DataFrame) -> str:
    """One pain cell with its quotes; every piece of data is escaped (texts may hold <EMAIL> placeholders)."""
    items = []
    for q in quotes.itertuples(index=False):
        prob = "" if is_missing(q.probability) else f" · p={q.probability:.2f}"
        items.append(
            f"<li><blockquote>{esc(q.text)}</blockquote>"
            f'<div class="qmeta">{esc(q.id)} · {esc(q.sentiment)}{esc(prob)}</div></li>'
        )
    quotes_html = f"<ul>{''.join(items)}</ul>" if items else '<p class="note">No example quotes stored.</p>'
    title = f"{display_touchpoint(str(pain.get('touchpoint')))} · {pain.get('label')}"
    head = {"terms": "TERMS", "forces": "Force"}.get(str(pain.get("dimension")), pain.get("dimension"))
    pain_index = pain.get("pain_index")
    stats = f"pain index {'n/a' if is_missing(pain_index) else f'{float(pain_index):.1f}'}"
    stats += f" · {fmt_int(pain.get('volume'))} comments with the label"
    return (
        f'<div class="pain"><h3>{esc(title)} <span class="muted">({esc(head)})</span></h3>'
        f'<div class="qmeta" style="padding:0">{esc(stats)}</div>{quotes_html}</div>'
    )


def quotes_html(summary: dict[str, Any], quotes: pd.DataFrame) -> str:
    """Example comments for the worst cells: the charts say where it hurts, the quotes say why."""
    pains = list(summary.get("top_pain") or [])[:MAX_PAIN_QUOTES]
    if not pains:
        return '<p class="note">The rollup lists no pain cells.</p>'
    return '<div class="pains">' + "".join(pain_card_html(p, quotes_for(quotes, p)) for p in pains) + "</div>"


HOW_TO_READ = """
<dl>
<dt>Share</dt><dd>Comments at a touchpoint carrying a label ÷ all comments at that touchpoint. A comment can
carry several TERMS factors and Forces, so shares in a row need not add up to 100%.</dd>
<dt>Negative share</dt><dd>Of the comments carrying a label (or at a touchpoint), the fraction whose
sentiment is negative.</dd>
<dt>Pain index</dt><dd>100 × negative comments carrying the label ÷ all comments at the touchpoint: how
many of every 100 comments there are a complaint about this factor. It combines how often a factor comes up
with how negative it is, so it ranks where fixing something reaches the most customers.</dd>
<dt>Net sentiment</dt><dd>(positive − negative) ÷ comments, from −1 (all negative) to +1 (all positive).</dd>
<dt>NPS</dt><dd>Net Promoter Score: % promoters (9–10) − % detractors (0–6) among comments with a 0–10 score,
from −100 to +100. Driver impact = NPS of comments with the label − NPS of those without (bootstrap 95% CI);
a bar whose interval crosses zero is not a reliable driver.</dd>
<dt>Wilson 95% CI</dt><dd>The range [lo – hi] shown with shares: an interval that stays sensible for small
counts and shares near 0% or 100%. Wide intervals mean few comments — treat those cells as hints, not
findings. Two cells whose intervals overlap heavily are not clearly different.</dd>
</dl>
"""


def trend_note(touchpoints: pd.DataFrame) -> str:
    """How to read the trend, and how many comments it leaves out for want of a date."""
    note = "All touchpoints together (solid, shaded 95% CI) and the three busiest touchpoints (dotted)."
    undated = undated_comments(touchpoints)
    if undated:
        note += f" {undated:,} comment{'s' if undated != 1 else ''} without a usable date not shown."
    return note


def figure_or_note(fig: go.Figure | None, div_id: str, missing: str) -> str:
    """The chart, or a one-line reason why there is none (better than a blank box)."""
    return figure_div(fig, div_id) if fig is not None else f'<p class="note"><em>{missing}</em></p>'


def body_html(rollup: Rollup, title: str) -> str:
    """All sections in reading order: headline, where, what, when, what it costs, in customers' words."""
    has_months = not monthly_rows(rollup.touchpoints).empty
    min_n = int(rollup.summary.get("min_n", 1))
    return "".join(
        [
            header_html(title, rollup.summary, rollup.touchpoints),
            section(
                "Journey heat map: TERMS factors by touchpoint",
                "Colour = negative share of the comments carrying the factor (red = mostly complaints); "
                "cell text = comments carrying it and their negative share; cells with fewer than "
                f"{min_n} comments are left uncoloured (too few to read). "
                "Hover for intervals and pain index.",
                figure_or_note(
                    terms_heatmap(rollup.cells, min_n),
                    "fig-terms",
                    "No TERMS cells in this rollup.",
                )
                + touchpoint_table_html(rollup.touchpoints),
                "journey",
            ),
            section(
                "Forces profile by touchpoint",
                "Colour and text = share of the touchpoint's comments carrying each Ipsos Force (n = count).",
                figure_or_note(forces_heatmap(rollup.cells), "fig-forces", "No Forces cells in this rollup."),
                "forces",
            ),
            section(
                "Trend by month",
                trend_note(rollup.touchpoints) if has_months else "",
                figure_or_note(
                    trend_figure(rollup.touchpoints),
                    "fig-trend",
                    "No month rows: run the rollup with <code>--by month</code> to see trends.",
                ),
                "trend",
            ),
            section(
                "NPS drivers",
                "NPS of comments with the label minus NPS of those without, with bootstrap 95% CI. "
                "Red drags NPS down, green lifts it; pale bars have an interval that crosses zero.",
                figure_or_note(drivers_figure(rollup.drivers), "fig-drivers", "No driver estimates."),
                "drivers",
            ),
            section(
                "Example quotes for the top pain cells",
                "Comments are PII-masked; placeholders such as &lt;EMAIL&gt; replace personal data.",
                quotes_html(rollup.summary, rollup.quotes),
                "quotes",
            ),
            section("How to read this", "", HOW_TO_READ, "how-to-read"),
        ]
    )


def page_html(title: str, body: str) -> str:
    """The whole document: CSP forbids the network, plotly.js inlined once in <head>."""
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n<style>{CSS}</style>\n"
        "<script>window.PlotlyConfig = {MathJaxConfig: 'local'};</script>\n"
        f"<script>{plotly_js}</script>\n"
        f"</head><body><main>{body}</main></body></html>\n"
    )


def build_report(rollup_dir: Path, out: Path, title: str = "cx-terms journey report") -> Path:
    """Write the self-contained HTML report for ROLLUP_DIR to OUT and return OUT.

    The file is written next to OUT first and renamed, so a reader never opens a half-written report.
    Raises ReportError when a required rollup file or column is missing.
    """
    rollup = load_rollup(Path(rollup_dir))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    tmp.write_text(page_html(title, body_html(rollup, title)), encoding="utf-8")
    os.replace(tmp, out)
    return out
