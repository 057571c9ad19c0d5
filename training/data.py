"""Training data: the validated corpus joined with its frozen split, cleaned exactly as at inference.

The model must see at training time what it will see when scoring: the same normalisation and PII
placeholders. Lemmas are added for the baseline. Sentiment-only extra sets (params
`train.extra_sentiment_sets`) join the train split with TERMS/Forces left unlabelled (None).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from pipeline.cleaning.cleaner import Cleaner
from pipeline.tables import read_table
from training.corpus.contract import load_corpus
from training.corpus.split import read_splits

SPLITS = ("train", "dev", "test")


def _clean(frame: pd.DataFrame, cleaner: Cleaner) -> pd.DataFrame:
    results = cleaner.batch(frame["text"].tolist(), lemmas=True)
    frame = frame.copy()
    frame["text_raw"] = frame["text"]
    frame["text"] = [r.text for r in results]
    frame["lemmas"] = [" ".join(r.lemmas or []) for r in results]
    return frame[[r.ok for r in results]].reset_index(drop=True)


def load_splits(
    params: dict[str, Any], cleaner: Cleaner | None = None, which: tuple[str, ...] = SPLITS
) -> dict[str, pd.DataFrame]:
    """{split: frame} of cleaned, labelled comments, for the splits asked for (cleaning with lemmas is
    the slow part, so evaluation does not clean the training split)."""
    data = params["data"]
    corpus = load_corpus(data["labelled"], data)
    splits = read_splits(data["splits"])
    if splits is None:
        raise FileNotFoundError(f"{data['splits']} not found: run `cx data split` first")
    corpus = corpus.merge(splits, on="id", how="left")
    missing = corpus["split"].isna().sum()
    if missing:
        raise ValueError(f"{missing} corpus ids have no split in {data['splits']}: run `cx data split`")
    cleaner = cleaner or Cleaner(params)
    frames = {name: _clean(corpus[corpus["split"] == name], cleaner) for name in which}
    extra = [_sentiment_only(path, cleaner) for path in params["train"].get("extra_sentiment_sets") or []]
    if extra and "train" in frames:
        frames["train"] = pd.concat([frames["train"], *extra], ignore_index=True)
    return frames


def _sentiment_only(path: str, cleaner: Cleaner) -> pd.DataFrame:
    frame = read_table(path)[["id", "text", "sentiment", "lang"]].dropna(subset=["text", "sentiment"])
    frame["terms"] = None
    frame["forces"] = None
    return _clean(frame, cleaner)
