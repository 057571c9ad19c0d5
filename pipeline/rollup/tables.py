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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.stats import binomtest

from pipeline.labels import FORCES, LIST_SEP, PROB_PREFIX, TERMS
from pipeline.tables import TableError

if TYPE_CHECKING:
    from pipeline.settings import Params

ALL = "all"
SCORE_RANGE = (0, 10)  # NPS 0-10 (CSAT 1-5 lies inside it); anything else is a data error, not a score
PROMOTER_MIN, DETRACTOR_MAX = 9, 6  # NPS bands (Reichheld): 9-10 promote, 7-8 passive, 0-6 detract
CSAT_SATISFIED_MIN = 4  # CSAT 1-5: the top-two box (4 and 5) counts as satisfied
PROMOTER, PASSIVE, DETRACTOR = 0, 1, 2
NPS_POINTS = np.array([100.0, 0.0, -100.0])  # what a promoter, a passive and a detractor add to the NPS
DIMENSIONS = {
    "terms": ("terms", TERMS, PROB_PREFIX["terms"]),
    "forces": ("forces", FORCES, PROB_PREFIX["forces"]),
}


@dataclass(frozen=True)
class RollupOptions:
    """What one rollup reads and how. The knobs have no defaults here, so no caller can silently run
    with other values than `params.yaml`'s: build it with `from_params`."""

    quotes_per_cell: int
    bootstrap: int
    seed: int
    min_n: int  # intervals, NPS and CSAT only from this many comments (or scores)
    by_month: bool = False
    touchpoint_col: str = "touchpoint"
    date_col: str = "date"
    score_col: str = "nps"

    @classmethod
    def from_params(cls, params: Params, **columns: Any) -> RollupOptions:
        """`rollup.*` and `seed` from params; the period and the column names from the caller."""
        cfg = params.rollup
        return cls(
            quotes_per_cell=cfg.quotes_per_cell,
            bootstrap=cfg.bootstrap,
            seed=params.seed,
            min_n=cfg.min_n,
            **columns,
        )


def wilson(k: int, n: int) -> tuple[float, float]:
    if n == 0:
        return float("nan"), float("nan")
    ci = binomtest(int(k), int(n)).proportion_ci(confidence_level=0.95, method="wilson")
    return float(ci.low), float(ci.high)


def nps_groups(scores: np.ndarray) -> np.ndarray:
    """PROMOTER, PASSIVE or DETRACTOR for each 0-10 score."""
    scores = np.asarray(scores, dtype=float)
    return np.where(scores >= PROMOTER_MIN, PROMOTER, np.where(scores <= DETRACTOR_MAX, DETRACTOR, PASSIVE))


def nps_counts(scores: np.ndarray, weights: np.ndarray | None = None) -> tuple[int, int, int]:
    """(promoters, passives, detractors) among these 0-10 scores; a missing score counts in none. A rollup
    row stands for `weights` identical comments, so each score counts that many times."""
    scores = np.asarray(scores, dtype=float)
    weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
    known = ~np.isnan(scores)
    counts = np.bincount(nps_groups(scores[known]), weights[known], minlength=3)
    return int(counts[PROMOTER]), int(counts[PASSIVE]), int(counts[DETRACTOR])


def nps(promoters: int, passives: int, detractors: int) -> tuple[float, float, float]:
    """(NPS, low, high) on the -100..100 scale, from the counts of 9-10, 7-8 and 0-6 scores."""
    n = promoters + passives + detractors
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    p, d = promoters / n, detractors / n
    value = p - d
    half = 1.96 * np.sqrt(max(p + d - value**2, 0.0) / n)
    low, high = max(value - half, -1.0), min(value + half, 1.0)
    return 100 * value, 100 * low, 100 * high


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


QUALITY_FLAGS = ("scores_unparsed", "scores_out_of_range", "dates_unparsed")  # per comment; summed per file
KEYS = [
    "touchpoint",
    "month",
    "sentiment",
    "score",
    "terms",
    "forces",
    "model_version",
    *QUALITY_FLAGS,
]  # what the tables are computed from: one row per distinct combination, with its count `n`
QUOTE_COLUMNS = ["dimension", "touchpoint", "label", "rank", "id", "text", "sentiment", "probability"]


def prepare(scored: pd.DataFrame, opts: RollupOptions) -> pd.DataFrame:
    """Per comment: touchpoint, month, sentiment, the score (NaN when unusable), label lists, model
    version, and flags for what could not be used: scores that are not numbers or lie outside 0-10 (left
    out of NPS/CSAT, never read as a detractor or a promoter) and dates that do not parse (month
    `unknown`). Probability columns are made numeric (CSV/JSONL inputs arrive as text)."""
    frame = scored.copy()
    for col in [c for c in frame.columns if c.startswith("p_")]:
        frame[col] = pd.to_numeric(frame[col], errors="coerce")
    frame["touchpoint"] = (
        frame[opts.touchpoint_col].fillna("unknown") if opts.touchpoint_col in frame else "unknown"
    )
    frame["month"] = months(frame[opts.date_col]) if opts.date_col in frame else "unknown"
    frame["dates_unparsed"] = False
    if opts.date_col in frame:
        given = frame[opts.date_col].notna() & (frame[opts.date_col].astype(str).str.strip() != "")
        frame["dates_unparsed"] = given & (frame["month"] == "unknown")
    for col in ("sentiment", "terms", "forces", "id", "model_version"):
        if col not in frame:  # an empty scored file has no columns at all
            frame[col] = pd.Series(dtype=object)
    frame["model_version"] = frame["model_version"].astype(object)
    score_col = opts.score_col if opts.score_col in frame else "score"
    if score_col in frame:
        raw = frame[score_col]
        frame["score"] = pd.to_numeric(raw, errors="coerce").astype(float)
        frame["scores_unparsed"] = raw.notna() & frame["score"].isna()
        frame["scores_out_of_range"] = frame["score"].notna() & ~frame["score"].between(*SCORE_RANGE)
        frame.loc[frame["scores_out_of_range"], "score"] = np.nan
    else:
        frame["score"] = np.nan
        frame["scores_unparsed"] = frame["scores_out_of_range"] = False
    return frame


def count_rows(prepared: pd.DataFrame) -> pd.DataFrame:
    """The sufficient statistics of every table but the quotes: how many comments share each combination
    of KEYS. A night of ten million tickets becomes a few thousand rows, so an engine that can count
    (pandas here, Spark SQL in `pipeline.spark.rollup`) feeds the same table code."""
    counts = prepared[KEYS].groupby(KEYS, dropna=False, sort=True).size().rename("n").reset_index()
    return counts.astype({"n": "int64"})


def _label_flags(frame: pd.DataFrame) -> dict[str, pd.Series]:
    """`has_{dimension}_{label}`: whether each row's label list (`a;b`) holds the label."""
    flags = {}
    for key, (col, labels, _) in DIMENSIONS.items():
        sets = frame[col].fillna("").astype(str).str.split(LIST_SEP)
        for label in labels:
            flags[f"has_{key}_{label}"] = sets.map(lambda s, label=label: label in s).astype(bool)
    return flags


def _with_label_flags(counts: pd.DataFrame) -> pd.DataFrame:
    return counts.assign(**_label_flags(counts))


def score_kind(counts: pd.DataFrame) -> str | None:
    valid = counts.loc[counts["score"].notna() & (counts["n"] > 0), "score"]
    if not len(valid):
        return None
    return "csat" if valid.min() >= 1 and valid.max() <= 5 else "nps"


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


def touchpoint_table(counts: pd.DataFrame, kind: str | None, by_month: bool, min_n: int) -> pd.DataFrame:
    """Per touchpoint (and month): volumes and shares; below `min_n` comments no interval, below `min_n`
    scores no NPS/CSAT (an NPS of -100 from one detractor is not a finding)."""
    rows = []
    for tp, month, part in _groups(counts, by_month):
        n = int(part["n"].sum())
        neg = int(part.loc[part["sentiment"] == "negative", "n"].sum())
        pos = int(part.loc[part["sentiment"] == "positive", "n"].sum())
        lo, hi = wilson(neg, n) if n >= min_n else (np.nan, np.nan)
        score, weight = part["score"], part["n"]
        n_scored = int(weight[score.notna()].sum())
        enough = n_scored >= min_n
        row = {
            "touchpoint": tp,
            "month": month,
            "comments": n,
            "negative_share": neg / n if n else np.nan,
            "negative_share_lo": lo,
            "negative_share_hi": hi,
            "positive_share": pos / n if n else np.nan,
            "net_sentiment": (pos - neg) / n if n else np.nan,
            "n_scored": n_scored,
            "small": n < min_n,
        }
        if kind == "nps":
            pro, passive, det = nps_counts(score.to_numpy(), weight.to_numpy())
            value, vlo, vhi = nps(pro, passive, det)
            row |= {
                "promoters": pro,
                "passives": passive,
                "detractors": det,
                "nps": value if enough else np.nan,
                "nps_lo": vlo if enough else np.nan,
                "nps_hi": vhi if enough else np.nan,
                "csat": np.nan,
            }
        else:
            satisfied = int(weight[score >= CSAT_SATISFIED_MIN].sum())
            row |= {
                "promoters": 0,
                "passives": 0,
                "detractors": 0,
                "nps": np.nan,
                "nps_lo": np.nan,
                "nps_hi": np.nan,
                "csat": satisfied / n_scored if kind == "csat" and n_scored and enough else np.nan,
            }
        rows.append(row)
    return pd.DataFrame(rows, columns=TOUCHPOINT_COLUMNS)


def cell_table(counts: pd.DataFrame, by_month: bool, min_n: int) -> pd.DataFrame:
    """Per touchpoint (and month) x label; a cell with fewer than `min_n` comments is `small`: no interval
    on its negative share, and the report does not colour it."""
    rows = []
    for tp, month, part in _groups(counts, by_month):
        if tp == ALL:
            continue
        weight = part["n"].to_numpy()
        n = int(weight.sum())
        negative = (part["sentiment"] == "negative").to_numpy()
        positive = (part["sentiment"] == "positive").to_numpy()
        for key, (_, labels, _) in DIMENSIONS.items():
            for label in labels:
                has = part[f"has_{key}_{label}"].to_numpy()
                volume = int(weight[has].sum())
                neg, pos = int(weight[has & negative].sum()), int(weight[has & positive].sum())
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


def driver_table(counts: pd.DataFrame, kind: str | None, n_boot: int, seed: int) -> pd.DataFrame:
    """NPS with vs without each label and a bootstrap CI of the difference. Resampling a group of
    promoters, passives and detractors is a multinomial draw of their counts, so the bootstrap costs the
    same for a hundred comments as for ten million."""
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
    rng = np.random.default_rng(seed)
    score, weight = counts["score"].to_numpy(dtype=float), counts["n"].to_numpy()
    rows = []
    for key, (_, labels, _) in DIMENSIONS.items():
        for label in labels:
            has = counts[f"has_{key}_{label}"].to_numpy()
            with_, without = (np.array(nps_counts(score[m], weight[m])) for m in (has, ~has))
            if not with_.sum() or not without.sum():
                continue
            nps_with, nps_without = (nps(*c)[0] for c in (with_, without))
            boot = [
                rng.multinomial(c.sum(), c / c.sum(), size=n_boot) @ NPS_POINTS / c.sum()
                for c in (with_, without)
            ]
            diff = boot[0] - boot[1]
            rows.append(
                {
                    "dimension": key,
                    "label": label,
                    "n_with": int(with_.sum()),
                    "n_without": int(without.sum()),
                    "nps_with": nps_with,
                    "nps_without": nps_without,
                    "impact": nps_with - nps_without,
                    "impact_lo": float(np.percentile(diff, 2.5)),
                    "impact_hi": float(np.percentile(diff, 97.5)),
                }
            )
    return pd.DataFrame(rows, columns=columns)


def quote_candidates(prepared: pd.DataFrame, k: int, text_col: str) -> pd.DataFrame:
    """The `k` quotes of every touchpoint x label cell among these comments. The best `k` of a union of
    such tables are the best `k` of all comments, so an engine can pick them part by part."""
    parts = []
    flags = _label_flags(prepared)
    for key, (_, labels, prefix) in DIMENSIONS.items():
        for label in labels:
            prob = f"{prefix}{label}"
            has = flags[f"has_{key}_{label}"]
            if prob not in prepared or not has.any():
                continue
            cell = prepared[has]
            parts.append(
                pd.DataFrame(
                    {
                        "dimension": key,
                        "touchpoint": cell["touchpoint"].astype(object),
                        "label": label,
                        "rank": 0,
                        "id": cell["id"].astype(object),
                        "text": cell[text_col].astype(object),
                        "sentiment": cell["sentiment"].astype(object),
                        "probability": cell[prob].astype(float),
                    }
                )
            )
    if not parts:
        return pd.DataFrame(columns=QUOTE_COLUMNS)
    return top_quotes(pd.concat(parts, ignore_index=True), k)


def top_quotes(candidates: pd.DataFrame, k: int) -> pd.DataFrame:
    """Per touchpoint x label: negative comments first, then the most probable label, then id and text
    (a total order, so every engine picks the same rows), ranked 1..k."""
    if candidates.empty:
        return pd.DataFrame(columns=QUOTE_COLUMNS)
    order = {key: i for i, key in enumerate(DIMENSIONS)} | {
        label: i for _, labels, _ in DIMENSIONS.values() for i, label in enumerate(labels)
    }
    ranked = candidates.assign(
        _dimension=candidates["dimension"].map(order),
        _label=candidates["label"].map(order),
        _neg=candidates["sentiment"] == "negative",
    ).sort_values(
        ["touchpoint", "_dimension", "_label", "_neg", "probability", "id", "text"],
        ascending=[True, True, True, False, False, True, True],
        kind="stable",
    )
    top = ranked.groupby(["touchpoint", "dimension", "label"], sort=False).head(k)
    top = top.assign(rank=top.groupby(["touchpoint", "dimension", "label"], sort=False).cumcount() + 1)
    return top[QUOTE_COLUMNS].reset_index(drop=True)


def rollup(scored: pd.DataFrame, opts: RollupOptions, text_col: str = "text") -> dict[str, Any]:
    """The local engine: every table from the comments in memory."""
    if len(scored) and text_col not in scored:
        raise TableError(f"the scored file has no text column '{text_col}'; pass --text-col")
    prepared = prepare(scored, opts)
    return summarize(count_rows(prepared), quote_candidates(prepared, opts.quotes_per_cell, text_col), opts)


def summarize(counts: pd.DataFrame, quotes: pd.DataFrame, opts: RollupOptions) -> dict[str, Any]:
    """The tables and the summary from the comment counts (`count_rows`) and quote candidates
    (`quote_candidates`): one code path for every engine, so they cannot disagree."""
    counts = _with_label_flags(counts)
    kind = score_kind(counts)
    quality = {flag: int(counts.loc[counts[flag].astype(bool), "n"].sum()) for flag in QUALITY_FLAGS}
    tables = {
        "touchpoints": touchpoint_table(counts, kind, opts.by_month, opts.min_n),
        "cells": cell_table(counts, opts.by_month, opts.min_n),
        "drivers": driver_table(counts, kind, opts.bootstrap, opts.seed),
        "quotes": top_quotes(quotes, opts.quotes_per_cell),
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
        "model_version": ";".join(
            sorted(counts.loc[counts["n"] > 0, "model_version"].dropna().astype(str).unique())
        ),
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
