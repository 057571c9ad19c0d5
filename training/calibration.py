"""Calibration on the dev split: temperature scaling per head, then per-label decision thresholds.

Temperature scaling (Guo et al., 2017) divides logits by one scalar T fitted by minimising the dev
negative log-likelihood: it changes confidence, never the ranking. Thresholds are then chosen per label
on the calibrated dev probabilities to maximise that label's F1.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.metrics import f1_score

from pipeline.decode import sigmoid, softmax

T_BOUNDS = (0.05, 20.0)


def _nll_softmax(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    p = softmax(logits, t)[np.arange(len(y)), y]
    return float(-np.log(np.clip(p, 1e-12, 1.0)).mean())


def _nll_sigmoid(logits: np.ndarray, y: np.ndarray, t: float) -> float:
    p = np.clip(sigmoid(logits, t), 1e-12, 1 - 1e-12)
    return float(-(y * np.log(p) + (1 - y) * np.log(1 - p)).mean())


def fit_temperature(logits: np.ndarray, y: np.ndarray, multilabel: bool) -> float:
    if len(y) == 0:
        return 1.0
    nll = _nll_sigmoid if multilabel else _nll_softmax
    res = minimize_scalar(
        lambda log_t: nll(logits, y, float(np.exp(log_t))), bounds=tuple(np.log(T_BOUNDS)), method="bounded"
    )
    return float(np.exp(res.x))


def tune_thresholds(probs: np.ndarray, y: np.ndarray, grid: tuple[float, float, float]) -> list[float]:
    """Per-label threshold with the best dev F1; ties go to the value closest to 0.5."""
    start, stop, step = grid
    candidates = np.round(np.arange(start, stop + 1e-9, step), 4)
    chosen = []
    for j in range(y.shape[1]):
        if y[:, j].sum() == 0:
            chosen.append(0.5)
            continue
        scores = [f1_score(y[:, j], probs[:, j] >= t, zero_division=0) for t in candidates]
        best = max(scores)
        ties = [t for t, s in zip(candidates, scores, strict=True) if s >= best - 1e-12]
        chosen.append(float(min(ties, key=lambda t: abs(t - 0.5))))
    return chosen
