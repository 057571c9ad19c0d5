"""Figures for MLflow, built in one place for training (dev) and evaluation (test): confusion matrices
and reliability diagrams (headless matplotlib)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pipeline.labels import HEADS
from pipeline.metrics import reliability


def confusion_figure(head: str, scores: dict):
    labels = HEADS[head]
    if head == "sentiment":
        fig, ax = plt.subplots(figsize=(4, 3.6))
        _matrix(ax, np.array(scores["confusion"]), labels, labels, head)
    else:
        fig, axes = plt.subplots(1, len(labels), figsize=(2.3 * len(labels), 2.6))
        for ax, label, cm in zip(axes, labels, scores["confusion"], strict=True):
            _matrix(ax, np.array(cm), ["no", "yes"], ["no", "yes"], label)
    fig.tight_layout()
    return fig


def _matrix(ax, cm: np.ndarray, rows, cols, title: str) -> None:
    ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(cols)), cols, rotation=30)
    ax.set_yticks(range(len(rows)), rows)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    for (i, j), v in np.ndenumerate(cm):
        ax.text(
            j, i, str(v), ha="center", va="center", fontsize=8, color="black" if v < cm.max() / 2 else "white"
        )


def reliability_figure(views_before: dict, views_after: dict):
    """One panel per head: accuracy vs confidence, before and after temperature scaling."""
    fig, axes = plt.subplots(1, len(views_after), figsize=(4 * len(views_after), 3.6))
    for ax, head in zip(axes, views_after, strict=True):
        ax.plot([0, 1], [0, 1], ls="--", c="grey", lw=1)
        for views, name in ((views_before, "raw"), (views_after, "calibrated")):
            conf, acc, count = reliability(*views[head])
            keep = count > 0
            ax.plot(conf[keep], acc[keep], marker="o", label=name)
        ax.set_title(head)
        ax.set_xlabel("confidence")
        ax.set_ylabel("accuracy")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
