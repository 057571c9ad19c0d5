"""Corpus statistics per language: the table in data/README.md and the coverage checks of the brief."""

from __future__ import annotations

import pandas as pd

from pipeline.labels import FORCES, LANGS, NO_LABEL, SENTIMENTS, TERMS, primary


def coverage_table(corpus: pd.DataFrame) -> pd.DataFrame:
    """Rows = measures, columns = languages + all; cells are counts with the share in brackets."""
    langs = [lang for lang in LANGS if lang in set(corpus["lang"])]
    rows: list[tuple[str, dict[str, str]]] = []

    def add(name: str, mask_fn) -> None:
        cells = {}
        for lang in [*langs, "all"]:
            part = corpus if lang == "all" else corpus[corpus["lang"] == lang]
            n = int(mask_fn(part).sum()) if len(part) else 0
            cells[lang] = f"{n} ({n / max(len(part), 1):.0%})"
        rows.append((name, cells))

    add("comments", lambda d: pd.Series(True, index=d.index))
    for s in SENTIMENTS:
        add(f"sentiment {s}", lambda d, s=s: d["sentiment"] == s)
    for t in [*TERMS, NO_LABEL]:
        add(f"TERMS primary {t}", lambda d, t=t: d["terms"].map(primary) == t)
    add("TERMS 2+ labels", lambda d: d["terms"].map(len) >= 2)
    for f in [*FORCES, NO_LABEL]:
        add(f"Force primary {f}", lambda d, f=f: d["forces"].map(primary) == f)
    add("Force 2+ labels", lambda d: d["forces"].map(len) >= 2)
    table = pd.DataFrame({name: cells for name, cells in rows}).T
    table.index.name = "measure"
    return table


def variety(corpus: pd.DataFrame) -> pd.DataFrame:
    return corpus.groupby("lang").agg(
        industries=("industry", "nunique"),
        touchpoints=("touchpoint", "nunique"),
        channels=("channel", "nunique"),
        median_words=("text", lambda s: int(s.str.split().map(len).median())),
    )


def coverage_failures(corpus: pd.DataFrame) -> list[str]:
    """The brief's minimums, per language; an empty list means the corpus meets all of them."""
    failures = []
    if len(corpus) < 4500:
        failures.append(f"{len(corpus)} comments < 4,500")
    for lang in LANGS:
        d = corpus[corpus["lang"] == lang]
        n = len(d)
        if n < 1500:
            failures.append(f"{lang}: {n} comments < 1,500")
            continue
        prim_t = d["terms"].map(primary).value_counts(normalize=True)
        prim_f = d["forces"].map(primary).value_counts(normalize=True)
        failures += [
            f"{lang}: TERMS primary {t} {prim_t.get(t, 0):.1%} < 8%" for t in TERMS if prim_t.get(t, 0) < 0.08
        ]
        failures += [
            f"{lang}: Force primary {f} {prim_f.get(f, 0):.1%} < 5%"
            for f in FORCES
            if prim_f.get(f, 0) < 0.05
        ]
        multi = (d["terms"].map(len) >= 2).mean()
        none = (d["terms"].map(len) == 0).mean()
        if multi < 0.20:
            failures.append(f"{lang}: 2+ TERMS {multi:.1%} < 20%")
        if none < 0.05:
            failures.append(f"{lang}: no TERMS {none:.1%} < 5%")
        for feature, minimum in (("industry", 12), ("touchpoint", 10)):
            if d[feature].nunique() < minimum:
                failures.append(f"{lang}: {d[feature].nunique()} {feature} values < {minimum}")
    return failures


def split_table(corpus: pd.DataFrame, splits: pd.DataFrame) -> pd.DataFrame:
    merged = corpus.merge(splits, on="id", how="left")
    merged["split"] = merged["split"].fillna("unassigned")
    return pd.crosstab(merged["lang"], merged["split"], margins=True, margins_name="all")
