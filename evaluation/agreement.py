"""Inter-annotator agreement between the first labels and a blind second pass (Cohen's kappa).

Per head: kappa on the single-label view (sentiment; the primary TERMS factor and the primary Force,
with `none` for an empty list), and the macro mean of per-label binary kappas for the multi-label view
(does the comment carry `time`? `money`? ...), which is what the model is trained on.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import cohen_kappa_score

from pipeline.labels import FORCES, TERMS, primary


def _binary_kappas(a: pd.Series, b: pd.Series, labels: tuple[str, ...]) -> dict[str, float]:
    out = {}
    for label in labels:
        x = a.map(lambda ls, label=label: label in ls).astype(int)
        y = b.map(lambda ls, label=label: label in ls).astype(int)
        out[label] = float(cohen_kappa_score(x, y)) if (x.nunique() > 1 or y.nunique() > 1) else float("nan")
    return out


def agreement(first: pd.DataFrame, second: pd.DataFrame) -> pd.DataFrame:
    """Rows per head/view with n, raw agreement and kappa; both frames need id, sentiment, terms, forces."""
    merged = first.merge(second, on="id", suffixes=("_1", "_2"))
    if merged.empty:
        raise ValueError("no common ids between the two passes")
    rows = []

    def add(head: str, view: str, a: pd.Series, b: pd.Series) -> None:
        rows.append(
            {
                "head": head,
                "view": view,
                "n": len(a),
                "agreement": float((a == b).mean()),
                "kappa": float(cohen_kappa_score(a, b)),
            }
        )

    add("sentiment", "label", merged["sentiment_1"], merged["sentiment_2"])
    for head, labels in (("terms", TERMS), ("forces", FORCES)):
        add(head, "primary", merged[f"{head}_1"].map(primary), merged[f"{head}_2"].map(primary))
        per_label = _binary_kappas(merged[f"{head}_1"], merged[f"{head}_2"], labels)
        exact = merged[f"{head}_1"].map(set) == merged[f"{head}_2"].map(set)
        rows.append(
            {
                "head": head,
                "view": "per-label (macro)",
                "n": len(merged),
                "agreement": float(exact.mean()),
                "kappa": float(np.nanmean(list(per_label.values()))),
            }
        )
        rows.extend(
            {"head": head, "view": f"  {label}", "n": len(merged), "agreement": np.nan, "kappa": k}
            for label, k in per_label.items()
        )
    return pd.DataFrame(rows)
