"""From calibrated probabilities to labels: the decision rules shared by every model kind.

Sentiment takes the arg-max. TERMS and Forces keep each label whose probability passes its own
threshold (tuned on dev), ordered by probability; the first is the primary one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from pipeline.labels import FORCES, HEADS, NO_LABEL, PROB_PREFIX, SENTIMENTS, TERMS, join_labels, prob_columns

PROB_DECIMALS = 4  # the probability columns of `cx score` output: what a reader of a scored file decides on


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


def primary_labels(probs: np.ndarray, thresholds: list[float], labels: tuple[str, ...]) -> list[str]:
    """The first of each row's `select`ed labels (`terms_primary`, `forces_primary`), NO_LABEL for none."""
    return [chosen[0] if chosen else NO_LABEL for chosen in select(probs, np.asarray(thresholds), labels)]


def decisions(probs: dict[str, np.ndarray], thresholds: dict[str, list[float]]) -> dict[str, list[str]]:
    """The single-label view of each row: sentiment, primary TERMS, primary Force."""
    return {
        "sentiment": [SENTIMENTS[i] for i in probs["sentiment"].argmax(axis=1)],
        **{head: primary_labels(probs[head], thresholds[head], HEADS[head]) for head in ("terms", "forces")},
    }


def decode(probs: dict[str, np.ndarray], thresholds: dict[str, np.ndarray]) -> pd.DataFrame:
    """The output columns of `cx score` (minus ids and metadata), one row per text."""
    sent = probs["sentiment"]
    terms = select(probs["terms"], np.asarray(thresholds["terms"]), TERMS)
    forces = select(probs["forces"], np.asarray(thresholds["forces"]), FORCES)
    frame = pd.DataFrame(
        {
            "sentiment": [SENTIMENTS[i] for i in sent.argmax(axis=1)],
            "sentiment_prob": sent.max(axis=1).round(PROB_DECIMALS),
            "terms": [join_labels(t) for t in terms],
            "terms_primary": [t[0] if t else "" for t in terms],
            "forces": [join_labels(f) for f in forces],
            "forces_primary": [f[0] if f else "" for f in forces],
        }
    )
    for head in PROB_PREFIX:
        for j, column in enumerate(prob_columns(head)):
            frame[column] = probs[head][:, j].round(PROB_DECIMALS)
    return frame
