"""Long comments are read whole: split at sentence ends into windows that fit the encoder, then pooled.

A review of ~850 characters is past 128 tokens and often ends with the verdict; cutting it at
`max_length` throws the verdict away. Each window is scored on its own; sentiment takes the mean of the
window logits weighted by window length (the stance of the whole text), TERMS and Forces the maximum
(an aspect discussed in any window is discussed in the comment).
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


def sentence_windows(text: str, count: Callable[[str], int], budget: int) -> list[str]:
    """Consecutive sentences packed greedily into windows of at most `budget` tokens; a sentence longer
    than the budget (an unpunctuated rant) is cut into word runs that fit."""
    if count(text) <= budget:
        return [text]
    windows: list[str] = []
    current: list[str] = []
    used = 0
    for sentence in (p for s in _SENTENCE_END.split(text) if s.strip() for p in _fit(s, count, budget)):
        n = count(sentence)
        if current and used + n > budget:
            windows.append(" ".join(current))
            current, used = [], 0
        current.append(sentence)
        used += n
    if current:
        windows.append(" ".join(current))
    return windows


def pool_windows(
    logits: dict[str, np.ndarray], owner: np.ndarray, weight: np.ndarray, n_texts: int
) -> dict[str, np.ndarray]:
    """Per-text logits from per-window logits (`owner[i]` = the text of window i)."""
    out = {}
    for head, values in logits.items():
        pooled = np.zeros((n_texts, values.shape[1]), dtype=np.float32)
        if head == "sentiment":
            np.add.at(pooled, owner, values * weight[:, None])
            totals = np.zeros(n_texts, dtype=np.float32)
            np.add.at(totals, owner, weight)
            pooled /= np.maximum(totals, 1e-9)[:, None]
        else:
            pooled[:] = -np.inf
            np.maximum.at(pooled, owner, values)
        out[head] = pooled
    return out


def _fit(sentence: str, count: Callable[[str], int], budget: int) -> list[str]:
    """The sentence itself, or consecutive word runs of it that each fit the budget."""
    if count(sentence) <= budget:
        return [sentence]
    runs: list[str] = []
    current: list[str] = []
    for word in sentence.split():
        if current and count(" ".join([*current, word])) > budget:
            runs.append(" ".join(current))
            current = []
        current.append(word)
    if current:
        runs.append(" ".join(current))
    return runs
