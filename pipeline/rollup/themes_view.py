"""What the report shows of `cx themes`: each heat-map cell's themes (shown when the cell is clicked) and
the emerging issues at the top. Read from the themes folder; every text reaches the page as JSON data that
the page's script inserts as text, never as markup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.rollup.display import display_touchpoint, fmt_ci, fmt_int, fmt_pct, fmt_signed, is_missing


def _read(path: Path) -> pd.DataFrame:
    return pd.read_parquet(path) if path.is_file() else pd.DataFrame()


def cell_key(dimension: str, touchpoint: str, label: str) -> str:
    """How the page finds a clicked cell's themes: the heat map's own axis texts."""
    return f"{dimension}|{display_touchpoint(touchpoint)}|{label}"


def _trend(months: pd.DataFrame) -> str:
    dated = months[months["month"].str.fullmatch(r"\d{4}-\d{2}", na=False)].sort_values("month")
    return " → ".join(f"{m} {fmt_pct(s, 1)}" for m, s in zip(dated["month"], dated["share"], strict=True))


def cell_themes(themes_dir: Path) -> dict[str, list[dict[str, Any]]]:
    """{cell key: its themes, largest first, as the panel prints them}."""
    themes = _read(themes_dir / "themes.parquet")
    months = _read(themes_dir / "theme_months.parquet")
    keys = ["dimension", "touchpoint", "label", "theme"]
    trends = {k: _trend(g) for k, g in months.groupby(keys)} if len(months) else {}
    out: dict[str, list[dict[str, Any]]] = {}
    for row in themes.sort_values(["n", "theme"], ascending=[False, True], kind="stable").itertuples(
        index=False
    ):
        stats = (
            f"{fmt_int(row.n)} of {fmt_int(row.cell_n)} comments ({fmt_pct(row.share, 0)}) · negative "
            f"{fmt_pct(row.negative_share, 0)}{fmt_ci(row.negative_low, row.negative_high, fmt_pct)}"
        )
        if not is_missing(row.nps_impact):
            stats += f" · NPS impact {fmt_signed(row.nps_impact)}"
        out.setdefault(cell_key(row.dimension, row.touchpoint, row.label), []).append(
            {
                "name": row.name,
                "names": json.loads(row.names),
                "stats": stats,
                "uncertain": bool(row.uncertain),
                "trend": trends.get((row.dimension, row.touchpoint, row.label, row.theme), ""),
                "quotes": json.loads(row.quotes),
            }
        )
    return out


def emerging_issues(themes_dir: Path) -> list[dict[str, str]]:
    """The flagged emerging themes, most significant first."""
    emerging = _read(themes_dir / "emerging.parquet")
    if emerging.empty:
        return []
    flagged = emerging[emerging["emerging"]]
    return [
        {
            "cell": f"{display_touchpoint(r.touchpoint)} · {r.label}",
            "theme": r.name,
            "change": f"{fmt_pct(r.previous_share, 1)} ({r.previous}) → {fmt_pct(r.share, 1)} ({r.month})",
            "q": f"{r.q:.3f}",
        }
        for r in flagged.itertuples(index=False)
    ]


def script_json(value: Any) -> str:
    """JSON safe inside a <script> element: no "</" can close it early."""
    return json.dumps(value, ensure_ascii=False).replace("</", "<\\/")
