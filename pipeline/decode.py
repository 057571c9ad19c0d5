"""From calibrated probabilities to labels: the decision rules shared by every model kind.

Sentiment takes the arg-max. TERMS and Forces keep each label whose probability passes its own
threshold (tuned on dev), ordered by probability; the first is the primary one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.labels import FORCES, PROB_PREFIX, SENTIMENTS, TERMS, prob_columns


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = logits / temperature
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def sigmoid(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-logits / temperature))


def probabilities(logits: dict[str, np.ndarray], temperature: dict[str, float]) -> dict[str, np.ndarray]:
    return {
        "sentiment": softmax(logits["sentiment"], temperature["sentiment"]),
        "terms": sigmoid(logits["terms"], temperature["terms"]),
        "forces": sigmoid(logits["forces"], temperature["forces"]),
    }


def select(probs: np.ndarray, thresholds: np.ndarray, labels: tuple[str, ...]) -> list[list[str]]:
    """Labels passing their threshold, most probable first."""
    out = []
    for row in probs:
        order = np.argsort(-row, kind="stable")
        out.append([labels[j] for j in order if row[j] >= thresholds[j]])
    return out


def decode(probs: dict[str, np.ndarray], thresholds: dict[str, np.ndarray]) -> pd.DataFrame:
    """The output columns of `cx score` (minus ids and metadata), one row per text."""
    sent = probs["sentiment"]
    terms = select(probs["terms"], np.asarray(thresholds["terms"]), TERMS)
    forces = select(probs["forces"], np.asarray(thresholds["forces"]), FORCES)
    frame = pd.DataFrame(
        {
            "sentiment": [SENTIMENTS[i] for i in sent.argmax(axis=1)],
            "sentiment_prob": sent.max(axis=1).round(4),
            "terms": [";".join(t) for t in terms],
            "terms_primary": [t[0] if t else "" for t in terms],
            "forces": [";".join(f) for f in forces],
            "forces_primary": [f[0] if f else "" for f in forces],
        }
    )
    for head in PROB_PREFIX:
        for j, column in enumerate(prob_columns(head)):
            frame[column] = probs[head][:, j].round(4)
    return frame
