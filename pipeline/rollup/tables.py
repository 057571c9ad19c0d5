"""`cx rollup`: per-touchpoint tables from scored comments - where the pain is, how sure we are.

For each touchpoint (and month, with `--by month`) x TERMS factor and x Force:
- volume and share of the touchpoint's comments carrying the label;
- negative share among them and net sentiment = (positive - negative) / volume;
- **pain index** = 100 x (negative comments carrying the label) / (all comments at the touchpoint): the
  percentage of a touchpoint's feedback that is a complaint about this factor. It grows with both how
  often the factor comes up and how negative it is, and is directly comparable across touchpoints.
Proportions carry Wilson 95% intervals. Per touchpoint: NPS (% promoters 9-10 minus % detractors 0-6,
normal-approximation CI) or CSAT (% 4-5 on a 1-5 scale) when a score column exists. Drivers: NPS of
comments with vs without each label, with a bootstrap CI of the difference. Quotes: the most confident
comments per cell (text is already PII-masked by `cx score`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from pipeline.labels import FORCES, PROB_PREFIX, TERMS
from pipeline.tables import TableError

ALL = "all"
SCORE_RANGE = (0, 10)  # NPS 0-10 (CSAT 1-5 lies inside it); anything else is a data error, not a score
DIMENSIONS = {
    "terms": ("terms", TERMS, PROB_PREFIX["terms"]),
    "forces": ("forces", FORCES, PROB_PREFIX["forces"]),
}


@dataclass
class RollupOptions:
    by_month: bool = False
    touchpoint_col: str = "touchpoint"
    date_col: str = "date"
    score_col: str = "nps"
    quotes_per_cell: int = 3
    bootstrap: int = 1000
    seed: int = 13
    min_n: int = 1  # intervals, NPS and CSAT only from this many comments (or scores); params: rollup.min_n


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def nps(scores: np.ndarray) -> tuple[float, float, float, int, int, int]:
    """(NPS, low, high, promoters, passives, detractors) on the -100..100 scale."""
    n = len(scores)
    if n == 0:
        return float("nan"), float("nan"), float("nan"), 0, 0, 0
    pro, det = int((scores >= 9).sum()), int((scores <= 6).sum())
    p, d = pro / n, det / n
    value = p - d
    half = 1.96 * np.sqrt(max(p + d - value**2, 0.0) / n)
    low, high = max(value - half, -1.0), min(value + half, 1.0)
    return 100 * value, 100 * low, 100 * high, pro, n - pro - det, det


def months(values: pd.Series) -> pd.Series:
    """`YYYY-MM` per value: ISO dates (any UTC offsets) first, then day-first dates as written in ru/bg
    (`05.03.2024` is 5 March); anything else is `unknown` rather than a guess."""
    text = values.astype("string").str.strip()
    parsed = pd.to_datetime(text, errors="coerce", utc=True, format="ISO8601")
    for fmt in ("%d.%m.%Y", "%d.%m.%Y %H:%M", "%d/%m/%Y", "%d.%m.%y"):
        missing = parsed.isna()
        if not missing.any():
            break
        parsed[missing] = pd.to_datetime(text[missing], errors="coerce", utc=True, format=fmt)
    return parsed.dt.strftime("%Y-%m").fillna("unknown").astype(object)


def _prepare(scored: pd.DataFrame, opts: RollupOptions) -> tuple[pd.DataFrame, str | None, dict[str, int]]:
    """Typed columns, touchpoint and month, the score scale, label flags; and what could not be used:
    scores that are not numbers or lie outside 0-10 (left out of NPS/CSAT, never read as a detractor or
    a promoter) and dates that do not parse (month `unknown`)."""
    frame = scored.copy()
    quality = {"scores_unparsed": 0, "scores_out_of_range": 0, "dates_unparsed": 0}
    for col in [c for c in frame.columns if c.startswith("p_")]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")  # CSV/JSONL inputs arrive as text
    frame["touchpoint"] = (
        frame[opts.touchpoint_col].fillna("unknown") if opts.touchpoint_col in frame else "unknown"
    )
    frame["month"] = months(frame[opts.date_col]) if opts.date_col in frame else "unknown"
    if opts.date_col in frame:
        given = frame[opts.date_col].notna() & (frame[opts.date_col].astype(str).str.strip() != "")
        quality["dates_unparsed"] = int((given & (frame["month"] == "unknown")).sum())
    for col in ("sentiment", "terms", "forces", "id"):
        if col not in frame:  # an empty scored file has no columns at all
            frame[col] = pd.Series(dtype=object)
    kind = None
    score_col = opts.score_col if opts.score_col in frame else "score"
    if score_col in frame:
        frame["score"] = pd.to_numeric(frame[score_col], errors="coerce")
        quality["scores_unparsed"] = int((frame[score_col].notna() & frame["score"].isna()).sum())
        outside = frame["score"].notna() & ~frame["score"].between(*SCORE_RANGE)
        quality["scores_out_of_range"] = int(outside.sum())
        frame.loc[outside, "score"] = np.nan
        valid = frame["score"].dropna()
        if len(valid):
            kind = "csat" if valid.min() >= 1 and valid.max() <= 5 else "nps"
    else:
        frame["score"] = np.nan
    for key, (col, labels, _) in DIMENSIONS.items():
        sets = frame[col].fillna("").astype(str).str.split(";")
        for label in labels:
            frame[f"has_{key}_{label}"] = sets.map(lambda s, label=label: label in s)
    return frame, kind, quality


def _groups(frame: pd.DataFrame, by_month: bool):
    yield ALL, ALL, frame
    for tp, part in frame.groupby("touchpoint", sort=True):
        yield tp, ALL, part
    if by_month:
        for month, part in frame.groupby("month", sort=True):
            yield ALL, month, part
        for (tp, month), part in frame.groupby(["touchpoint", "month"], sort=True):
            yield tp, month, part


TOUCHPOINT_COLUMNS = [
    "touchpoint",
    "month",
    "comments",
    "negative_share",
    "negative_share_lo",
    "negative_share_hi",
    "positive_share",
    "net_sentiment",
    "n_scored",
    "promoters",
    "passives",
    "detractors",
    "nps",
    "nps_lo",
    "nps_hi",
    "csat",
    "small",
]
CELL_COLUMNS = [
    "dimension",
    "touchpoint",
    "month",
    "label",
    "volume",
    "touchpoint_comments",
    "share",
    "share_lo",
    "share_hi",
    "negative",
    "negative_share",
    "negative_share_lo",
    "negative_share_hi",
    "net_sentiment",
    "pain_index",
    "pain_index_lo",
    "pain_index_hi",
    "small",
]


def touchpoint_table(frame: pd.DataFrame, kind: str | None, by_month: bool, min_n: int = 1) -> pd.DataFrame:
    """Per touchpoint (and month): volumes and shares; below `min_n` comments no interval, below `min_n`
    scores no NPS/CSAT (an NPS of -100 from one detractor is not a finding)."""
    rows = []
    for tp, month, part in _groups(frame, by_month):
        n = len(part)
        neg, pos = int((part["sentiment"] == "negative").sum()), int((part["sentiment"] == "positive").sum())
        lo, hi = wilson(neg, n) if n >= min_n else (np.nan, np.nan)
        scores = part["score"].dropna().to_numpy()
        enough = len(scores) >= min_n
        row = {
            "touchpoint": tp,
            "month": month,
            "comments": n,
            "negative_share": neg / n if n else np.nan,
            "negative_share_lo": lo,
            "negative_share_hi": hi,
            "positive_share": pos / n if n else np.nan,
            "net_sentiment": (pos - neg) / n if n else np.nan,
            "n_scored": len(scores),
            "small": n < min_n,
        }
        if kind == "nps":
            value, vlo, vhi, pro, pas, det = nps(scores)
            row |= {
                "promoters": pro,
                "passives": pas,
                "detractors": det,
                "nps": value if enough else np.nan,
                "nps_lo": vlo if enough else np.nan,
                "nps_hi": vhi if enough else np.nan,
                "csat": np.nan,
            }
        else:
            row |= {
                "promoters": 0,
                "passives": 0,
                "detractors": 0,
                "nps": np.nan,
                "nps_lo": np.nan,
                "nps_hi": np.nan,
                "csat": float((scores >= 4).mean()) if kind == "csat" and len(scores) and enough else np.nan,
            }
        rows.append(row)
    return pd.DataFrame(rows, columns=TOUCHPOINT_COLUMNS)


def cell_table(frame: pd.DataFrame, by_month: bool, min_n: int = 1) -> pd.DataFrame:
    """Per touchpoint (and month) x label; a cell with fewer than `min_n` comments is `small`: no interval
    on its negative share, and the report does not colour it."""
    rows = []
    for tp, month, part in _groups(frame, by_month):
        if tp == ALL:
            continue
        n = len(part)
        negative = (part["sentiment"] == "negative").to_numpy()
        positive = (part["sentiment"] == "positive").to_numpy()
        for key, (_, labels, _) in DIMENSIONS.items():
            for label in labels:
                has = part[f"has_{key}_{label}"].to_numpy()
                volume, neg, pos = int(has.sum()), int((has & negative).sum()), int((has & positive).sum())
                nan2 = (np.nan, np.nan)
                share_lo, share_hi = wilson(volume, n) if n >= min_n else nan2
                neg_lo, neg_hi = wilson(neg, volume) if volume >= min_n else nan2
                pain_lo, pain_hi = wilson(neg, n) if n >= min_n else nan2
                rows.append(
                    {
                        "dimension": key,
                        "touchpoint": tp,
                        "month": month,
                        "label": label,
                        "volume": volume,
                        "touchpoint_comments": n,
                        "share": volume / n,
                        "share_lo": share_lo,
                        "share_hi": share_hi,
                        "negative": neg,
                        "negative_share": neg / volume if volume else np.nan,
                        "negative_share_lo": neg_lo,
                        "negative_share_hi": neg_hi,
                        "net_sentiment": (pos - neg) / volume if volume else np.nan,
                        "pain_index": 100 * neg / n,
                        "pain_index_lo": 100 * pain_lo,
                        "pain_index_hi": 100 * pain_hi,
                        "small": volume < min_n,
                    }
                )
    return pd.DataFrame(rows, columns=CELL_COLUMNS)


def driver_table(frame: pd.DataFrame, kind: str | None, n_boot: int, seed: int) -> pd.DataFrame:
    """NPS with vs without each label, bootstrap CI of the difference (resampling both groups)."""
    columns = [
        "dimension",
        "label",
        "n_with",
        "n_without",
        "nps_with",
        "nps_without",
        "impact",
        "impact_lo",
        "impact_hi",
    ]
    if kind != "nps":
        return pd.DataFrame(columns=columns)
    scored = frame.dropna(subset=["score"])
    rng = np.random.default_rng(seed)
    value = np.where(scored["score"] >= 9, 100.0, np.where(scored["score"] <= 6, -100.0, 0.0))
    rows = []
    for key, (_, labels, _) in DIMENSIONS.items():
        for label in labels:
            has = scored[f"has_{key}_{label}"].to_numpy()
            with_, without = value[has], value[~has]
            if len(with_) == 0 or len(without) == 0:
                continue
            diff = with_.mean() - without.mean()
            boot = rng.choice(with_, (n_boot, len(with_))).mean(axis=1) - rng.choice(
                without, (n_boot, len(without))
            ).mean(axis=1)
            rows.append(
                {
                    "dimension": key,
                    "label": label,
                    "n_with": len(with_),
                    "n_without": len(without),
                    "nps_with": with_.mean(),
                    "nps_without": without.mean(),
                    "impact": diff,
                    "impact_lo": float(np.percentile(boot, 2.5)),
                    "impact_hi": float(np.percentile(boot, 97.5)),
                }
            )
    return pd.DataFrame(rows, columns=columns)


def quote_table(frame: pd.DataFrame, k: int, text_col: str) -> pd.DataFrame:
    rows = []
    for tp, part in frame.groupby("touchpoint", sort=True):
        for key, (_, labels, prefix) in DIMENSIONS.items():
            for label in labels:
                cell = part[part[f"has_{key}_{label}"]]
                prob = f"{prefix}{label}"
                if cell.empty or prob not in cell:
                    continue
                top = (
                    cell.assign(_neg=cell["sentiment"] == "negative")
                    .sort_values(["_neg", prob, "id"], ascending=[False, False, True])
                    .head(k)
                )
                for rank, (_, r) in enumerate(top.iterrows(), start=1):
                    rows.append(
                        {
                            "dimension": key,
                            "touchpoint": tp,
                            "label": label,
                            "rank": rank,
                            "id": r["id"],
                            "text": r[text_col],
                            "sentiment": r["sentiment"],
                            "probability": float(r[prob]),
                        }
                    )
    return pd.DataFrame(
        rows, columns=["dimension", "touchpoint", "label", "rank", "id", "text", "sentiment", "probability"]
    )


def rollup(scored: pd.DataFrame, opts: RollupOptions, text_col: str = "text") -> dict[str, Any]:
    if len(scored) and text_col not in scored:
        raise TableError(f"the scored file has no text column '{text_col}'; pass --text-col")
    frame, kind, quality = _prepare(scored, opts)
    tables = {
        "touchpoints": touchpoint_table(frame, kind, opts.by_month, opts.min_n),
        "cells": cell_table(frame, opts.by_month, opts.min_n),
        "drivers": driver_table(frame, kind, opts.bootstrap, opts.seed),
        "quotes": quote_table(frame, opts.quotes_per_cell, text_col),
    }
    overall = tables["touchpoints"].query("touchpoint == @ALL and month == @ALL").iloc[0]
    cells = tables["cells"].query("month == @ALL")
    top = cells.sort_values(["pain_index", "volume"], ascending=False).head(10)
    summary = {
        "score_kind": kind,
        "min_n": opts.min_n,
        "data_quality": quality,
        "by": ["touchpoint", "month"] if opts.by_month else ["touchpoint"],
        "overall": {
            "comments": int(overall["comments"]),
            "negative_share": None
            if pd.isna(overall["negative_share"])
            else float(overall["negative_share"]),
            "nps": None if pd.isna(overall["nps"]) else float(overall["nps"]),
            "n_scored": int(overall["n_scored"]),
        },
        "top_pain": [
            {
                "touchpoint": r.touchpoint,
                "dimension": r.dimension,
                "label": r.label,
                "pain_index": round(float(r.pain_index), 2),
                "volume": int(r.volume),
            }
            for r in top.itertuples()
        ],
        "model_version": ";".join(sorted(scored["model_version"].dropna().astype(str).unique()))
        if "model_version" in scored
        else "",
    }
    return {"tables": tables, "summary": summary}


def write_rollup(result: dict[str, Any], out_dir: Path, extra_summary: dict[str, Any]) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for name, table in result["tables"].items():
        path = out_dir / f"{name}.csv"
        table.to_csv(path, index=False, float_format="%.6g")
        table.to_parquet(out_dir / f"{name}.parquet", index=False)
        written.append(path)
    # no wall-clock time or run id: the same input gives the same files (the MLflow run records when)
    summary = result["summary"] | extra_summary
    path = out_dir / "summary.json"
    path.write_text(json.dumps(summary, indent=2, ensure_ascii=False), encoding="utf-8")
    written.append(path)
    return written
