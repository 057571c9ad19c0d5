"""Training and test data: the written corpus, our labelled real comments and the public sets, each
cleaned exactly as at inference.

Every frame has `origin` (corpus | real | public) and `source`, so evaluation can report each part on its
own. TERMS/Forces of a public row are None (unlabelled, masked in the loss) unless a distant rule gives
them. Train rows of the corpus get real-text noise (`pipeline.dataset.augment`). Lemmas are added for the
baseline. A missing public source is skipped with a message, never an error.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pandas as pd

from pipeline.cleaning.cleaner import Cleaner
from pipeline.dataset.augment import augment
from pipeline.dataset.corpus.contract import load_corpus
from pipeline.dataset.corpus.split import read_splits
from pipeline.dataset.realtext.labels import attach_texts, consensus, read_adjudicated, read_labels, record_id
from pipeline.dataset.realtext.public import public_rows
from pipeline.dataset.realtext.split import real_splits
from pipeline.settings import Data, Params, Real

SPLITS = ("train", "dev", "test")
COLUMNS = ["id", "origin", "source", "lang", "text", "sentiment", "terms", "forces"]


def clean_frame(frame: pd.DataFrame, cleaner: Cleaner, log: Callable[[str], None] = print) -> pd.DataFrame:
    """The rows the cleaner accepts, cleaned and lemmatised (`text_raw` keeps the text as read). A row it
    refuses (an empty text, one in no language) cannot be trained or scored: it is dropped, counted and its
    reason said, never lost unseen."""
    results = cleaner.batch(frame["text"].tolist(), lemmas=True)
    frame = frame.copy()
    frame["text_raw"] = frame["text"]
    frame["text"] = [r.text for r in results]
    frame["lemmas"] = [" ".join(r.lemmas or []) for r in results]
    refused = Counter(r.error for r in results if not r.ok)
    if refused:
        reasons = ", ".join(f"{n} {reason}" for reason, n in refused.most_common())
        log(f"{refused.total()} of {len(frame)} labelled rows left out by the cleaner: {reasons}")
    return frame[[r.ok for r in results]].reset_index(drop=True)


def corpus_frame(data: Data) -> pd.DataFrame:
    corpus = load_corpus(data.labelled, data)
    splits = read_splits(data.splits)
    if splits is None:
        raise FileNotFoundError(f"{data.splits} not found: run `cx data split` first")
    corpus = corpus.merge(splits, on="id", how="left")
    missing = corpus["split"].isna().sum()
    if missing:
        raise ValueError(f"{missing} corpus ids have no split in {data.splits}: run `cx data split`")
    corpus["origin"], corpus["source"] = "corpus", "corpus"
    if data.targeted:  # capability-targeted written comments: training rows only
        targeted = load_corpus(data.targeted, data).assign(split="train", origin="corpus", source="targeted")
        corpus = pd.concat([corpus, targeted], ignore_index=True)
    return corpus[[*COLUMNS, "split"]]


def real_frame(cfg: Real, seed: int, log: Callable[[str], None] = print) -> pd.DataFrame:
    """Our labelled real comments with texts and their frozen split (empty when nothing is labelled)."""
    sample = pd.read_csv(cfg.sample, dtype=str)
    labels = read_labels(cfg.labels)
    held_back = {
        record_id(s, i)
        for s, i, r in sample[["source", "id", "round"]].itertuples(index=False)
        if int(r) in cfg.exclude_rounds
    }
    labels = labels[~labels["rid"].isin(held_back)].reset_index(drop=True)
    if labels.empty:
        return pd.DataFrame(columns=[*COLUMNS, "split"])
    labelled = attach_texts(labels, cfg.external_dir, log)
    second = read_labels(cfg.second_pass)
    train_only = {
        record_id(s, i)
        for s, i, r in sample[["source", "id", "round"]].itertuples(index=False)
        if int(r) in cfg.train_only_rounds
    }
    test_ids = {
        record_id(s, i)
        for s, i, f in sample[["source", "id", "second_pass"]].itertuples(index=False)
        if f == "True"
    }
    splits = real_splits(
        labelled,
        test_ids & set(labelled["rid"]),
        train_only & set(labelled["rid"]),
        cfg.split_fractions,
        cfg.near_duplicate_cosine,
        seed,
        cfg.splits,
    )
    labelled = labelled.merge(splits, on="rid", how="left")
    test = labelled["split"] == "test"
    if test.any():  # test rows are scored against the two-pass consensus, not one annotator
        agreed = consensus(labels, second, read_adjudicated(cfg.adjudicated)).set_index("rid")
        unscored = test & ~labelled["rid"].isin(agreed.index)
        if unscored.any():
            log(
                f"{int(unscored.sum())} near-duplicates of test rows lack a second pass: "
                "left out of every split"
            )
        labelled = labelled[~unscored].copy()
        test = labelled["split"] == "test"
        for head in ("sentiment", "terms", "forces"):
            labelled.loc[test, head] = labelled.loc[test, "rid"].map(agreed[head]).to_numpy()
    labelled = labelled.drop(columns=["id"]).rename(columns={"rid": "id"})
    labelled["origin"] = "real"
    return labelled[[*COLUMNS, "split"]]


def real_train_labels(cfg: Real, real_split: dict[str, str]) -> pd.DataFrame:
    """Our first-pass labels of the real train split: what distant rules are measured on (never on dev or
    test rows, whose labels must not steer the training data)."""
    labels = read_labels(cfg.labels)
    return labels[labels["rid"].map(real_split) == "train"]


def load_splits(
    params: Params,
    cleaner: Cleaner | None = None,
    which: tuple[str, ...] = SPLITS,
    log: Callable[[str], None] = print,
) -> dict[str, pd.DataFrame]:
    """{split: cleaned frame} for the splits asked for (cleaning with lemmas is the slow part, so
    evaluation does not clean the training split). The train frame's `block` says in which epoch a public
    row is shown (-1: every epoch; see `public_rows`); one block per scheduled epoch."""
    cfg = params.real
    cleaner = cleaner or Cleaner(params.cleaning, params.langid)
    labelled = pd.concat([corpus_frame(params.data), real_frame(cfg, params.seed, log)], ignore_index=True)
    real = labelled[labelled["origin"] == "real"]
    real_split = dict(zip(real["id"], real["split"], strict=True))
    frames = {}
    for split in which:
        parts = [labelled[labelled["split"] == split].drop(columns=["split"])]
        rows = cfg.public_rows_per_set[split]
        if rows:
            train = split == "train"
            hand = real_train_labels(cfg, real_split) if train else None
            blocks = params.train.epochs if train else 1
            public = public_rows(cfg, real_split, split, rows, params.seed, hand, log, blocks)
            parts.append(public.assign(origin="public"))
        frame = pd.concat(parts, ignore_index=True)
        frame["block"] = frame["block"].fillna(-1).astype(int) if "block" in frame else -1
        if split == "train" and cfg.augment_share > 0:
            is_corpus = frame["origin"] == "corpus"
            noisy = augment(frame.loc[is_corpus, ["text"]], cfg.augment_share, params.seed)
            frame.loc[is_corpus, "text"] = noisy["text"].to_numpy()
        frames[split] = clean_frame(frame, cleaner, log)
    return frames
