"""The frozen split of our labelled real comments: the blind-second-pass rows are the test split.

Only test rows carry two passes, so the test score is always against the two-pass consensus. Near
duplicates of a test row (retweets, copied ads) join it in test; the rest is split train/dev stratified by
source x primary TERMS. Stored in `data/real/splits.csv`; re-running keeps stored ids where they are.
"""

from __future__ import annotations

import pandas as pd

from training.corpus.split import assign_splits, read_splits


def real_splits(
    labelled: pd.DataFrame,
    second_pass_ids: set[str],
    train_only_ids: set[str],
    fractions: dict[str, float],
    threshold: float,
    seed: int,
    stored_path: str,
) -> pd.DataFrame:
    """(rid, split) for every labelled real row; pass-2 rows are test, later labelling rounds (drawn from
    the public train part only) are train, stored rows never move."""
    stored = read_splits(stored_path)
    existing = pd.concat(
        [
            pd.DataFrame({"id": sorted(second_pass_ids), "split": "test"}),
            pd.DataFrame({"id": sorted(train_only_ids), "split": "train"}),
        ]
    )
    if stored is not None:
        existing = pd.concat([stored.rename(columns={"rid": "id"}), existing]).drop_duplicates("id")
    frame = pd.DataFrame(
        {
            "id": labelled["rid"],
            "lang": labelled["source"],
            "text": labelled["text"],
            "terms": labelled["terms"],
        }
    )
    shares = {"train": fractions["train"], "dev": fractions["dev"], "test": 0.0}
    assigned = assign_splits(frame, shares, threshold, seed, existing=existing)
    return assigned.rename(columns={"id": "rid"})[["rid", "split"]]
