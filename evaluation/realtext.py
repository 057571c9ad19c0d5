"""Real customer text in `cx evaluate`: our labelled real-text test split (against the two-pass
consensus), the held-out parts of the public sets (their own sentiment labels) and an error analysis.

The real-text figures lead every report: the written corpus taught its writers' style, so only these
say how the model does on what customers actually write.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from pipeline.dataset.targets import encode_targets
from pipeline.decode import decisions
from pipeline.labels import HEADS, SENTIMENTS, primary
from pipeline.metrics import head_scores, primary_accuracy, reliability_bins, score


def _groups(frame: pd.DataFrame) -> dict[str, np.ndarray]:
    groups = {"all": np.ones(len(frame), dtype=bool)}
    groups |= {f"lang:{lang}": (frame["lang"] == lang).to_numpy() for lang in sorted(frame["lang"].unique())}
    groups |= {f"source:{s}": (frame["source"] == s).to_numpy() for s in sorted(frame["source"].unique())}
    return groups


def real_text_results(tagger, frame: pd.DataFrame) -> dict[str, Any]:
    """Macro-F1 per head (overall, per language) plus primary TERMS / Force accuracy per language and
    per source, on cleaned labelled rows whose labels are the consensus (None = no consensus)."""
    probs = tagger.probabilities(frame["text"].tolist(), frame["lemmas"].tolist())
    targets, masks = encode_targets(frame)
    result = score(probs, tagger.thresholds, targets, masks, frame["lang"].to_numpy())
    result["primary"] = primary_accuracy(probs, tagger.thresholds, frame, _groups(frame))
    result["by_source"] = {
        source: score(
            {h: p[rows] for h, p in probs.items()},
            tagger.thresholds,
            {h: t[rows] for h, t in targets.items()},
            {h: m[rows] for h, m in masks.items()},
            slice_only=True,
        )["overall"]
        for source, rows in ((s, (frame["source"] == s).to_numpy()) for s in sorted(frame["source"].unique()))
    }
    result["errors"] = error_analysis(probs, tagger.thresholds, frame)
    result["reliability"] = reliability_bins(probs, targets, masks)
    return result


def error_analysis(
    probs: dict[str, np.ndarray], thresholds: dict[str, list[float]], frame: pd.DataFrame, top: int = 4
) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """{lang: {head: [{gold, predicted, count, examples}]}}: the most frequent wrong primary labels (and
    sentiment confusions), each with two cleaned (PII-masked) example texts."""
    out: dict[str, dict[str, list[dict[str, Any]]]] = {}
    predicted = decisions(probs, thresholds)
    for lang in sorted(frame["lang"].unique()):
        out[lang] = {}
        for head in HEADS:
            pairs: Counter = Counter()
            examples: dict[tuple[str, str], list[str]] = {}
            for i, (gold, text, row_lang) in enumerate(
                zip(frame[head], frame["text"], frame["lang"], strict=True)
            ):
                if row_lang != lang or gold is None or isinstance(gold, float):
                    continue
                gold = gold if head == "sentiment" else primary(gold)
                if gold != predicted[head][i]:
                    key = (gold, predicted[head][i])
                    pairs[key] += 1
                    examples.setdefault(key, []).append(text[:160])
            out[lang][head] = [
                {"gold": g, "predicted": p, "count": n, "examples": examples[(g, p)][:2]}
                for (g, p), n in pairs.most_common(top)
            ]
    return out


def public_sentiment(taggers: dict[str, Any], frame: pd.DataFrame) -> dict[str, dict[str, Any]]:
    """{set: {model: {macro_f1, accuracy, n}}} on the held-out part of each public set (its own labels)."""
    index = {s: i for i, s in enumerate(SENTIMENTS)}
    results: dict[str, dict[str, Any]] = {}
    for source, rows in frame.groupby("source"):
        y_true = rows["sentiment"].map(index).to_numpy()
        results[source] = {}
        for name, tagger in taggers.items():
            probs = tagger.probabilities(rows["text"].tolist(), rows["lemmas"].tolist())
            scores = head_scores("sentiment", y_true, probs["sentiment"].argmax(axis=1))
            results[source][name] = {
                "macro_f1": scores["macro_f1"],
                "accuracy": scores["accuracy"],
                "n": len(rows),
            }
    return results
