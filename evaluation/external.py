"""Sentiment on real, public customer texts (../shared/external): the check that written comments
cannot give. Read in place at evaluation time, never copied into the repository.

Only the sentiment head can be scored (the sets carry no TERMS/Force labels). A seeded sample per set
keeps `cx evaluate` fast on 2 cores; the sets' own label conventions differ from ours (SentiRuEval's
neutral includes ads and news; Cinexio is about films), so read these as a robustness signal.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from evaluation.metrics import head_scores
from pipeline.inference import Tagger
from pipeline.labels import SENTIMENTS


def load_sample(path: Path, n: int, seed: int) -> pd.DataFrame:
    frame = pd.read_csv(path, dtype={"text": str, "sentiment": str})[["text", "sentiment"]].dropna()
    frame = frame[frame["sentiment"].isin(SENTIMENTS)]
    return frame.sample(n=min(n, len(frame)), random_state=seed).reset_index(drop=True)


def external_sentiment(
    taggers: dict[str, Tagger], cfg: dict[str, Any], seed: int
) -> dict[str, dict[str, Any]]:
    """{set name: {model name: sentiment scores}} for every configured set that exists."""
    root = Path(cfg["dir"])
    results: dict[str, dict[str, Any]] = {}
    index = {s: i for i, s in enumerate(SENTIMENTS)}
    for name, file in cfg["sets"].items():
        path = root / file
        if not path.is_file():
            continue
        sample = load_sample(path, cfg["rows_per_set"], seed)
        y_true = sample["sentiment"].map(index).to_numpy()
        results[name] = {}
        for model_name, tagger in taggers.items():
            tagged = tagger.tag(sample["text"].tolist())
            ok = tagged["error"].isna().to_numpy()
            y_pred = tagged.loc[ok, "sentiment"].map(index).to_numpy()
            scores = head_scores("sentiment", y_true[ok], y_pred.astype(int))
            results[name][model_name] = {
                "macro_f1": scores["macro_f1"],
                "accuracy": scores["accuracy"],
                "n": int(ok.sum()),
                "skipped": int((~ok).sum()),
            }
    return results


def external_markdown(results: dict[str, dict[str, Any]]) -> str:
    if not results:
        return ""
    models = list(next(iter(results.values())))
    lines = [
        "",
        "### Sentiment on public data (sample per set)",
        "",
        "| set | n | " + " | ".join(f"{m} macro-F1 | {m} acc." for m in models) + " |",
        "|---|---|" + "---|---|" * len(models),
    ]
    for name, per_model in results.items():
        n = next(iter(per_model.values()))["n"]
        cells = " | ".join(f"{per_model[m]['macro_f1']:.3f} | {per_model[m]['accuracy']:.3f}" for m in models)
        lines.append(f"| {name} | {n} | {cells} |")
    return "\n".join(lines) + "\n"
