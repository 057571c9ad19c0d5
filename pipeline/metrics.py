"""Scores per head, per language and per label, and calibration measures (ECE, reliability): shared by
training (dev) and `cx evaluate` (test), so both layers measure the same way."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
from sklearn.metrics import confusion_matrix, f1_score, precision_recall_fscore_support

from pipeline.decode import primary_labels
from pipeline.labels import HEADS, primary


def predictions_from_probs(
    probs: dict[str, np.ndarray], thresholds: dict[str, list[float]]
) -> dict[str, np.ndarray]:
    return {
        "sentiment": probs["sentiment"].argmax(axis=1),
        "terms": (probs["terms"] >= np.asarray(thresholds["terms"])).astype(int),
        "forces": (probs["forces"] >= np.asarray(thresholds["forces"])).astype(int),
    }


def head_scores(
    head: str, y_true: np.ndarray, y_pred: np.ndarray, supported_only: bool = False
) -> dict[str, Any]:
    """Scores of one head; `supported_only` averages the macro-F1 over the labels present in `y_true`
    (a slice such as one language or one source lacks some labels, and an F1 of 0 for a label with no
    examples would measure the slice, not the model)."""
    labels = HEADS[head]
    if head == "sentiment":
        p, r, f, s = precision_recall_fscore_support(
            y_true, y_pred, labels=range(len(labels)), zero_division=0
        )
        extra = {
            "accuracy": float((y_true == y_pred).mean()) if len(y_true) else float("nan"),
            "confusion": confusion_matrix(y_true, y_pred, labels=range(len(labels))).tolist(),
        }
        micro = float(f1_score(y_true, y_pred, average="micro", zero_division=0))
    else:
        p, r, f, s = precision_recall_fscore_support(y_true, y_pred, zero_division=0)
        extra = {
            "confusion": [
                confusion_matrix(y_true[:, j], y_pred[:, j], labels=[0, 1]).tolist()
                for j in range(len(labels))
            ],
            "exact_match": float((y_true == y_pred).all(axis=1).mean()) if len(y_true) else float("nan"),
        }
        micro = float(f1_score(y_true, y_pred, average="micro", zero_division=0))
    per_label = {
        label: {"precision": float(p[j]), "recall": float(r[j]), "f1": float(f[j]), "support": int(s[j])}
        for j, label in enumerate(labels)
    }
    support = np.asarray(s)
    macro = float(np.mean(f[support > 0])) if supported_only and (support > 0).any() else float(np.mean(f))
    return {
        "macro_f1": macro,
        "micro_f1": micro,
        "n": len(y_true),
        "per_label": per_label,
        **extra,
    }


def score(
    probs: dict[str, np.ndarray],
    thresholds: dict[str, list[float]],
    targets: dict[str, np.ndarray],
    masks: dict[str, np.ndarray],
    langs: np.ndarray | None = None,
    slice_only: bool = False,
) -> dict[str, Any]:
    """{'overall': {head: scores}, 'by_lang': {lang: {head: scores}}, 'macro_f1_mean': float};
    `slice_only` marks the whole input as a slice (one source), scored over its supported labels."""
    pred = predictions_from_probs(probs, thresholds)

    def block(rows: np.ndarray, supported_only: bool) -> dict[str, Any]:
        out = {}
        for head in HEADS:
            m = masks[head] & rows
            out[head] = head_scores(head, targets[head][m], pred[head][m], supported_only)
        return out

    everything = np.ones(len(targets["sentiment"]), dtype=bool)
    result: dict[str, Any] = {"overall": block(everything, slice_only)}
    result["macro_f1_mean"] = float(np.mean([result["overall"][h]["macro_f1"] for h in HEADS]))
    if langs is not None:  # per language: macro over the labels the language's slice has
        result["by_lang"] = {lang: block(langs == lang, True) for lang in sorted(set(langs))}
    return result


def flat_metrics(result: dict[str, Any], prefix: str) -> dict[str, float]:
    """MLflow-friendly scalars: {prefix}_{head}_macro_f1, per language and per label F1."""
    flat = {f"{prefix}_macro_f1_mean": result["macro_f1_mean"]}
    for head, scores in result["overall"].items():
        flat[f"{prefix}_{head}_macro_f1"] = scores["macro_f1"]
        flat[f"{prefix}_{head}_micro_f1"] = scores["micro_f1"]
        for label, s in scores["per_label"].items():
            flat[f"{prefix}_{head}_{label}_f1"] = s["f1"]
            flat[f"{prefix}_{head}_{label}_precision"] = s["precision"]
            flat[f"{prefix}_{head}_{label}_recall"] = s["recall"]
    for lang, block in result.get("by_lang", {}).items():
        for head, scores in block.items():
            flat[f"{prefix}_{lang}_{head}_macro_f1"] = scores["macro_f1"]
    return flat


def primary_accuracy(
    probs: dict[str, np.ndarray], thresholds: dict[str, list[float]], frame, groups: dict[str, np.ndarray]
) -> dict[str, dict[str, dict[str, float]]]:
    """{group: {head: {accuracy, n}}}: the primary TERMS / Force against the reference primary (the first
    listed label, `none` for an empty list); rows whose reference is None (no consensus) are left out."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for head in ("terms", "forces"):
        predicted = np.array(primary_labels(probs[head], thresholds[head], HEADS[head]), dtype=object)
        reference = np.array(
            [None if v is None or isinstance(v, float) else primary(v) for v in frame[head]],
            dtype=object,
        )
        known = np.array([r is not None for r in reference])
        for group, rows in groups.items():
            m = rows & known
            out.setdefault(group, {})[head] = {
                "accuracy": float((predicted[m] == reference[m]).mean()) if m.any() else float("nan"),
                "n": int(m.sum()),
            }
    return out


def reliability_bins(
    probs: dict[str, np.ndarray], targets: dict[str, np.ndarray], masks: dict[str, np.ndarray]
) -> dict[str, list[dict[str, float]]]:
    """Per head, the reliability diagram's data: for each confidence bin with rows, the mean confidence,
    the accuracy and the count (calibrated probabilities, as `cx score` writes them)."""
    out = {}
    for head, view in calibration_views(probs, targets, masks).items():
        conf, acc, count = reliability(*view)
        out[head] = [
            {
                "bin": round((j + 0.5) / len(count), 2),
                "confidence": float(c),
                "accuracy": float(a),
                "count": int(n),
            }
            for j, (c, a, n) in enumerate(zip(conf, acc, count, strict=True))
            if n
        ]
    return out


def expected_calibration_error(confidence: np.ndarray, correct: np.ndarray, bins: int = 10) -> float:
    """ECE: |accuracy - confidence| per equal-width confidence bin (`reliability`), weighted by bin size."""
    conf, acc, count = reliability(confidence, correct, bins)
    filled = count > 0
    if not filled.any():
        return 0.0
    return float(np.sum(count[filled] / len(confidence) * np.abs(acc[filled] - conf[filled])))


def reliability(
    confidence: np.ndarray, correct: np.ndarray, bins: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-bin mean confidence, accuracy and count, for reliability diagrams."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    conf, acc, count = [], [], []
    for lo, hi in itertools.pairwise(edges):
        in_bin = (confidence > lo) & (confidence <= hi)
        count.append(int(in_bin.sum()))
        conf.append(float(confidence[in_bin].mean()) if in_bin.any() else np.nan)
        acc.append(float(correct[in_bin].mean()) if in_bin.any() else np.nan)
    return np.array(conf), np.array(acc), np.array(count)


def calibration_views(
    probs: dict[str, np.ndarray], targets: dict[str, np.ndarray], masks: dict[str, np.ndarray]
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(confidence, correct) per head: top-label for sentiment, every label decision for sigmoid heads."""
    views = {}
    m = masks["sentiment"]
    p, y = probs["sentiment"][m], targets["sentiment"][m]
    views["sentiment"] = (p.max(axis=1), (p.argmax(axis=1) == y).astype(float))
    for head in ("terms", "forces"):
        m = masks[head]
        p, y = probs[head][m].ravel(), targets[head][m].ravel()
        views[head] = (np.maximum(p, 1 - p), ((p >= 0.5) == (y >= 0.5)).astype(float))
    return views
