"""Self-contained HTML journey report built from a `cx rollup` folder: a Jinja2 template
(`templates/report.html.j2`, autoescaped) and its stylesheet, filled with the rollup's numbers and the
charts of `pipeline.rollup.charts`.

The report is one HTML file with plotly.js inlined and a Content-Security-Policy that forbids any network
access: it has to open from an e-mail attachment, a shared drive or an air-gapped laptop, and it must not
leak that someone is reading customer comments by fetching a CDN script or a web font.

Input files (written by the rollup): cells.csv, touchpoints.csv, summary.json (required) and drivers.csv,
quotes.csv (optional: their sections say so when they are missing or empty).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from plotly.offline import get_plotlyjs

from pipeline.rollup.charts import (
    drivers_figure,
    figure_div,
    forces_heatmap,
    monthly_rows,
    terms_heatmap,
    trend_figure,
    undated_comments,
)
from pipeline.rollup.display import (
    BAD_RED,
    FONT_STACK,
    display_touchpoint,
    fmt_ci,
    fmt_int,
    fmt_pct,
    fmt_signed,
    is_missing,
    journey_order,
)
from pipeline.rollup.tables import ALL
from pipeline.rollup.tables import CELL_COLUMNS as ROLLUP_CELL_COLUMNS
from pipeline.rollup.tables import TOUCHPOINT_COLUMNS as ROLLUP_TOUCHPOINT_COLUMNS
from pipeline.rollup.themes_view import cell_themes, emerging_issues, script_json

MAX_PAIN_QUOTES = 6

# The browser enforces "no network": anything that tries to load from elsewhere is blocked (and logged).
CSP = (
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
    "img-src data: blob:; font-src data:; connect-src 'none'"
)
TEMPLATES = Environment(
    loader=PackageLoader("pipeline.rollup", "templates"),
    # every template escapes data unless it is the stylesheet (a new partial is safe by default)
    autoescape=select_autoescape(
        enabled_extensions=("html.j2",), disabled_extensions=("css.j2",), default=True
    ),
    undefined=StrictUndefined,  # a name the page uses but the code forgot is an error, not a blank
    finalize=lambda value: "" if value is None else value,  # a field the summary lacks prints as nothing
    trim_blocks=True,
    keep_trailing_newline=True,
)


def _split_columns(columns: list[str], text: list[str]) -> dict[str, list[str]]:
    """The rollup's column contract (pipeline/rollup/tables.py), split into text and numeric columns. The
    `small` flag is not required: the report derives it from the volume and the summary's `min_n`, so
    rollups written before the flag existed still render."""
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


# ---------------------------------------------------------------- what the page shows


def card_data(key: str, value: str, sub: str = "", small: bool = False, wide: bool = False) -> dict[str, Any]:
    """One figure in the header strip; `wide` for 32-character run ids."""
    return {"key": key, "value": value, "sub": sub, "small": small, "wide": wide}


def total_row(touchpoints: pd.DataFrame) -> dict[str, Any]:
    """The all-touchpoints, whole-period row (for intervals the summary does not carry); {} if absent."""
    rows = touchpoints[(touchpoints["touchpoint"] == ALL) & (touchpoints["month"] == ALL)]
    return rows.iloc[0].to_dict() if not rows.empty else {}


def score_card(overall: dict[str, Any], total: dict[str, Any]) -> dict[str, Any]:
    """Overall NPS with its interval; CSAT instead when the scores were on a 1-5 scale (NPS then empty)."""
    n = f"n={fmt_int(overall.get('n_scored'))}"
    if is_missing(overall.get("nps")) and not is_missing(total.get("csat")):
        return card_data("Overall CSAT", fmt_pct(total.get("csat"), 1), f"{n} · share scoring 4–5")
    nps_ci = fmt_ci(total.get("nps_lo"), total.get("nps_hi"), fmt_signed)
    return card_data("Overall NPS", fmt_signed(overall.get("nps")), n + nps_ci)


def header_cards(summary: dict[str, Any], touchpoints: pd.DataFrame) -> list[dict[str, Any]]:
    """The headline numbers and the provenance (model version, input digest: what the MLflow runs are
    searched by)."""
    overall = summary.get("overall") or {}
    total = total_row(touchpoints)
    neg_ci = fmt_ci(total.get("negative_share_lo"), total.get("negative_share_hi"), fmt_pct)
    return [
        card_data("Input rows", fmt_int(summary.get("rows"))),
        card_data("Scored", fmt_int(summary.get("scored_rows"))),
        card_data("Quarantined", fmt_int(summary.get("quarantined"))),
        card_data("Comments in rollup", fmt_int(overall.get("comments"))),
        score_card(overall, total),
        card_data("Negative share", fmt_pct(overall.get("negative_share"), 1), neg_ci.strip()),
        card_data("Model version", summary.get("model_version") or "unknown", small=True),
        card_data(
            "Input SHA-256", (summary.get("input_sha256") or "not recorded")[:16], small=True, wide=True
        ),
    ]


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


def touchpoint_table(touchpoints: pd.DataFrame) -> dict[str, Any] | None:
    """Per-touchpoint totals with intervals: the numbers behind the heat map rows, readable without hover."""
    whole = touchpoints[touchpoints["month"] == ALL].drop_duplicates("touchpoint").set_index("touchpoint")
    if whole.empty:
        return None
    columns = touchpoint_columns(whole)
    rows = [
        {
            "name": display_touchpoint(tp),
            "total": tp == ALL,
            "cells": [cell(whole.loc[tp]) for _, cell in columns],
        }
        for tp in journey_order(whole.index)
    ]
    return {"headers": [h for h, _ in columns], "rows": rows}


def quotes_for(quotes: pd.DataFrame, pain: dict[str, Any]) -> pd.DataFrame:
    """The stored example comments of one pain cell, best-ranked first."""
    match = (
        (quotes["dimension"] == str(pain.get("dimension")))
        & (quotes["touchpoint"] == str(pain.get("touchpoint")))
        & (quotes["label"] == str(pain.get("label")))
    )
    return quotes[match].sort_values("rank", kind="stable")


def pain_card(pain: dict[str, Any], quotes: pd.DataFrame) -> dict[str, Any]:
    """One pain cell with its quotes (the charts say where it hurts, the quotes say why)."""
    pain_index = pain.get("pain_index")
    stats = f"pain index {'n/a' if is_missing(pain_index) else f'{float(pain_index):.1f}'}"
    return {
        "title": f"{display_touchpoint(str(pain.get('touchpoint')))} · {pain.get('label')}",
        "head": {"terms": "TERMS", "forces": "Force"}.get(str(pain.get("dimension")), pain.get("dimension")),
        "stats": stats + f" · {fmt_int(pain.get('volume'))} comments with the label",
        "quotes": [
            {
                "text": q.text,
                "id": q.id,
                "sentiment": q.sentiment,
                "prob": "" if is_missing(q.probability) else f" · p={q.probability:.2f}",
            }
            for q in quotes.itertuples(index=False)
        ],
    }


def trend_note(touchpoints: pd.DataFrame) -> str:
    """How to read the trend, and how many comments it leaves out for want of a date."""
    if monthly_rows(touchpoints).empty:
        return ""
    note = "All touchpoints together (solid, shaded 95% CI) and the three busiest touchpoints (dotted)."
    undated = undated_comments(touchpoints)
    if undated:
        note += f" {undated:,} comment{'s' if undated != 1 else ''} without a usable date not shown."
    return note


def _chart(fig: Any, div_id: str) -> Markup | None:
    """A chart as trusted markup: plotly writes the data as JSON with <, > and / escaped, and draws
    touchpoint and label names as SVG text (it interprets only a few formatting tags there)."""
    return Markup(figure_div(fig, div_id)) if fig is not None else None  # plotly's own HTML


def render(rollup: Rollup, title: str, themes_dir: Path | None = None) -> str:
    """The whole page: headline, where, what, when, what it costs, in customers' words; with a `cx themes`
    folder, what exactly each cell is about (on click) and what is emerging."""
    summary = rollup.summary
    min_n = int(summary.get("min_n", 1))
    css = TEMPLATES.get_template("report.css.j2").render(font=FONT_STACK, red=BAD_RED)
    plotly_js = get_plotlyjs().replace("</script", "<\\/script")
    return TEMPLATES.get_template(
        "report.html.j2"
    ).render(
        title=title,
        csp=CSP,
        css=Markup(css),  # trusted: our stylesheet
        plotly_js=Markup(plotly_js),  # trusted: the bundled library
        input=summary.get("input"),
        grouped_by=", ".join(str(b) for b in summary.get("by") or []) or "touchpoint",
        cards=header_cards(summary, rollup.touchpoints),
        min_n=min_n,
        terms_chart=_chart(terms_heatmap(rollup.cells, min_n), "fig-terms"),
        table=touchpoint_table(rollup.touchpoints),
        forces_chart=_chart(forces_heatmap(rollup.cells, min_n), "fig-forces"),
        trend_chart=_chart(trend_figure(rollup.touchpoints), "fig-trend"),
        trend_note=trend_note(rollup.touchpoints),
        drivers_chart=_chart(drivers_figure(rollup.drivers), "fig-drivers"),
        pains=[
            pain_card(p, quotes_for(rollup.quotes, p))
            for p in list(summary.get("top_pain") or [])[:MAX_PAIN_QUOTES]
        ],
        has_themes=themes_dir is not None,
        themes_json=Markup(script_json(cell_themes(themes_dir) if themes_dir else {})),  # JSON, "</" escaped
        emerging=emerging_issues(themes_dir) if themes_dir else [],
    )


def build_report(
    rollup_dir: Path, out: Path, title: str = "cx-terms journey report", themes_dir: Path | None = None
) -> Path:
    """Write the self-contained HTML report for ROLLUP_DIR (and THEMES_DIR, a `cx themes` folder) to OUT
    and return OUT.

    The file is written next to OUT first and renamed, so a reader never opens a half-written report.
    Raises ReportError when a required rollup file or column is missing.
    """
    rollup = load_rollup(Path(rollup_dir))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    if themes_dir is not None and not (Path(themes_dir) / "themes.parquet").is_file():
        raise ReportError(f"{themes_dir}: no themes.parquet; run `cx themes` first")
    tmp.write_text(render(rollup, title, themes_dir), encoding="utf-8")
    os.replace(tmp, out)
    return out
