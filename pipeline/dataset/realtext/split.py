"""The frozen split of our labelled real comments: the blind-second-pass rows are the test split.

Only second-pass rows are scored in the test split, always against the two-pass consensus. Near
duplicates (compared as `grouping_text`: the same post with another short link or hashtag is the same
text) of a test row join it in test and are left out of training; later labelling rounds, drawn from the
public train part, are train; the rest is split train/dev stratified by source x primary TERMS. Stored in
`data/real/splits.csv`; re-running keeps stored train/dev rows where they are.
"""

from __future__ import annotations

import pandas as pd

from pipeline.dataset.corpus.split import assign_splits, near_duplicate_groups, read_splits
from pipeline.dataset.realtext.sources import grouping_text


def real_splits(
    labelled: pd.DataFrame,
    second_pass_ids: set[str],
    train_only_ids: set[str],
    fractions: dict[str, float],
    threshold: float,
    seed: int,
    stored_path: str,
) -> pd.DataFrame:
    """(rid, split) for every labelled real row (columns rid, source, text, terms)."""
    texts = [grouping_text(t) for t in labelled["text"]]
    groups = near_duplicate_groups(texts, threshold)
    test_groups = {g for rid, g in zip(labelled["rid"], groups, strict=True) if rid in second_pass_ids}
    in_test = pd.Series([g in test_groups for g in groups], index=labelled.index)
    train_only = ~in_test & labelled["rid"].isin(train_only_ids)
    rest = labelled[~in_test & ~train_only]  # placed by the fractions, among themselves
    stored = read_splits(stored_path)
    existing = None
    if stored is not None:
        kept = stored[stored["rid"].isin(set(rest["rid"])) & (stored["split"] != "test")]
        existing = kept.rename(columns={"rid": "id"})
    frame = pd.DataFrame(
        {
            "id": rest["rid"],
            "lang": rest["source"],
            "text": [texts[i] for i in rest.index],
            "terms": rest["terms"],
        }
    )
    shares = {"train": fractions["train"], "dev": fractions["dev"], "test": 0.0}
    assigned = assign_splits(frame, shares, threshold, seed, existing=existing).rename(columns={"id": "rid"})
    test = pd.DataFrame({"rid": labelled.loc[in_test, "rid"], "split": "test"})
    train = pd.DataFrame({"rid": labelled.loc[train_only, "rid"], "split": "train"})
    return pd.concat([assigned[["rid", "split"]], train, test], ignore_index=True)
