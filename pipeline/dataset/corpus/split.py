"""Deterministic stratified train/dev/test split that keeps near-duplicates together and never drifts.

Strata are language x primary TERMS label. Texts whose TF-IDF cosine reaches the threshold form one
group (connected components), and a group always lands in a single split, so the test score is never
inflated by a paraphrase seen in training. The assignment is stored (`data/splits.csv`); re-running
keeps every stored id where it is and only places new ids, joining a stored near-duplicate's split.
"""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.sparse.csgraph import connected_components
from sklearn.feature_extraction.text import TfidfVectorizer

from pipeline.labels import primary

SPLITS = ("train", "dev", "test")


def near_duplicate_groups(texts: list[str], threshold: float) -> np.ndarray:
    """Component id per text: texts linked by TF-IDF cosine >= threshold share a component."""
    if not texts:
        return np.array([], dtype=int)
    tfidf = TfidfVectorizer(lowercase=True, ngram_range=(1, 2), sublinear_tf=True).fit_transform(texts)
    sim = tfidf @ tfidf.T
    sim.data[sim.data < threshold] = 0
    sim.eliminate_zeros()
    _, labels = connected_components(sim, directed=False)
    return labels


def _allocate(n: int, fractions: dict[str, float], have: dict[str, int]) -> str:
    """The split furthest below its target share for a stratum holding `have` items (plus this one)."""
    total = sum(have.values()) + n
    deficit = {s: fractions[s] * total - have.get(s, 0) for s in SPLITS}
    return max(SPLITS, key=lambda s: (deficit[s], -SPLITS.index(s)))


def assign_splits(
    corpus: pd.DataFrame,
    fractions: dict[str, float],
    threshold: float,
    seed: int,
    existing: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Frame (id, split, group, stratum) for every corpus id."""
    # sorted by id so that the result does not depend on file order
    frame = corpus[["id", "lang", "text", "terms"]].sort_values("id").reset_index(drop=True)
    frame["stratum"] = frame["lang"] + "/" + frame["terms"].map(primary)
    frame["group"] = near_duplicate_groups(frame["text"].tolist(), threshold)
    stored = dict(zip(existing["id"], existing["split"], strict=True)) if existing is not None else {}
    ids, groups, strata = frame["id"].tolist(), frame["group"].tolist(), frame["stratum"].tolist()
    split_of = {i: stored[rid] for i, rid in enumerate(ids) if rid in stored}
    # a group with any stored member follows it (the first stored member wins if they disagree)
    group_split: dict[int, str] = {}
    for i, split in sorted(split_of.items()):
        group_split.setdefault(groups[i], split)
    for i, group in enumerate(groups):
        if i not in split_of and group in group_split:
            split_of[i] = group_split[group]

    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for i, split in split_of.items():
        counts[strata[i]][split] += 1
    pending: dict[int, list[int]] = defaultdict(list)
    for i, group in enumerate(groups):
        if i not in split_of:
            pending[group].append(i)
    order = sorted(pending)
    random.Random(seed).shuffle(order)
    for group in order:
        members = pending[group]
        stratum = strata[members[0]]
        split = _allocate(len(members), fractions, counts[stratum])
        for i in members:
            split_of[i] = split
        counts[stratum][split] += len(members)
    frame["split"] = [split_of[i] for i in range(len(frame))]
    return frame[["id", "split", "group", "stratum"]]


def read_splits(path: str | Path) -> pd.DataFrame | None:
    path = Path(path)
    return pd.read_csv(path, dtype=str) if path.is_file() else None


def write_splits(assignment: pd.DataFrame, path: str | Path) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    assignment.sort_values("id")[["id", "split"]].to_csv(path, index=False)
