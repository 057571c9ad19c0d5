"""Turn label lists into training targets, with a mask per head for partially labelled rows.

A row whose `terms`/`forces` is None (not an empty list!) carries no label for that head, e.g. a public
review set with sentiment only; its loss for that head is masked out instead of pretending "no label".
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.labels import FORCES, SENTIMENTS, TERMS


def multi_hot(values: pd.Series, labels: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    index = {label: j for j, label in enumerate(labels)}
    matrix = np.zeros((len(values), len(labels)), dtype=np.float32)
    mask = np.zeros(len(values), dtype=bool)
    for i, value in enumerate(values):
        if value is None or (isinstance(value, float) and np.isnan(value)):
            continue
        mask[i] = True
        for label in value:
            matrix[i, index[label]] = 1.0
    return matrix, mask


def encode_targets(frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    index = {s: i for i, s in enumerate(SENTIMENTS)}
    sentiment = np.array(
        [index.get(s, -1) if isinstance(s, str) else -1 for s in frame["sentiment"]], dtype=np.int64
    )
    terms, terms_mask = multi_hot(
        frame["terms"] if "terms" in frame else pd.Series([None] * len(frame)), TERMS
    )
    forces, forces_mask = multi_hot(
        frame["forces"] if "forces" in frame else pd.Series([None] * len(frame)), FORCES
    )
    targets = {"sentiment": sentiment, "terms": terms, "forces": forces}
    masks = {"sentiment": sentiment >= 0, "terms": terms_mask, "forces": forces_mask}
    return targets, masks
