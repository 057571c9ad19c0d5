"""The evaluation figures DVC tracks: `dvc metrics show` reads the headline metrics file and `dvc plots
show` the per-label F1 and reliability tables. MLflow gets the very same scalars, so the two never
disagree."""

from __future__ import annotations

import csv
import difflib
import json
from pathlib import Path
from typing import Any

from evaluation.behaviour import CAPABILITIES
from pipeline.labels import HEADS
from pipeline.metrics import flat_metrics
from pipeline.settings import ConfigError

TESTS = ("corpus", "real")


def gate_value(result: dict[str, Any]) -> float:
    """Mean of the corpus and real-text test macro-F1 means (the corpus alone where no real text is)."""
    parts = [result[test]["macro_f1_mean"] for test in TESTS if result.get(test)]
    return float(sum(parts) / len(parts))


def headline_metrics(
    name: str, result: dict[str, Any], public: dict[str, Any], behaviour: dict[str, Any]
) -> dict[str, float]:
    """Every scalar of one model's evaluation, flat: test splits, primary accuracies, public sentiment,
    behavioural pass rates and the gate value."""
    metrics = flat_metrics(result["corpus"], f"test_{name}")
    if result.get("real"):
        metrics |= flat_metrics(result["real"], f"real_test_{name}")
        for group, heads in result["real"]["primary"].items():
            key = group.replace(":", "_")
            for head, value in heads.items():
                if value["n"]:
                    metrics[f"real_test_{name}_{key}_primary_{head}_accuracy"] = value["accuracy"]
    metrics[f"test_{name}_gate_mean"] = gate_value(result)
    for set_name, per_model in public.items():
        metrics[f"public_{set_name}_{name}_sentiment_macro_f1"] = per_model[name]["macro_f1"]
    for lang, caps in behaviour.get(name, {}).items():
        for cap in CAPABILITIES:
            metrics[f"behaviour_{name}_{lang}_{cap}_pass_rate"] = caps[cap]["rate"]
    return metrics


def _write_csv(path: Path, header: list[str], rows: list[list[Any]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_tracked(
    results: dict[str, dict[str, Any]],
    metrics: dict[str, dict[str, float]],
    metrics_path: Path,
    plots_dir: Path,
) -> list[Path]:
    """The metrics file ({model: {metric: value}}) and, per model and test split, a column in
    `per_label_f1.csv` (one row per head/label) and in `reliability_<head>.csv` (one row per bin)."""
    metrics_path.parent.mkdir(parents=True, exist_ok=True)
    plots_dir.mkdir(parents=True, exist_ok=True)
    metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True), encoding="utf-8")
    series = [(name, test) for name in results for test in TESTS if results[name].get(test)]
    header = [f"{name}_{test}" for name, test in series]
    f1_rows = [
        [
            f"{head}/{label}",
            *(round(results[n][t]["overall"][head]["per_label"][label]["f1"], 4) for n, t in series),
        ]
        for head, labels in HEADS.items()
        for label in labels
    ]
    written = [metrics_path, _write_csv(plots_dir / "per_label_f1.csv", ["label", *header], f1_rows)]
    for head in HEADS:
        by_bin: dict[float, dict[str, float]] = {}
        for (name, test), column in zip(series, header, strict=True):
            for row in results[name][test]["reliability"][head]:
                by_bin.setdefault(row["bin"], {})[column] = round(row["accuracy"], 4)
        rows = [[b, *(by_bin[b].get(c, "") for c in header)] for b in sorted(by_bin)]
        written.append(_write_csv(plots_dir / f"reliability_{head}.csv", ["confidence_bin", *header], rows))
    return written


def gate_metric_value(metric: str, name: str, headline: dict[str, float]) -> float:
    """The value of `tracking.gate_metric` among model `name`'s `headline_metrics`, named without the model
    (`test_gate_mean`, `real_test_macro_f1_mean`, `real_test_lang_en_primary_terms_accuracy`, ...)."""
    metrics = {k.replace(f"_{name}", "", 1): v for k, v in headline.items()}
    if metric not in metrics:
        close = difflib.get_close_matches(metric, metrics, n=3)
        hint = f"; did you mean {', '.join(close)}?" if close else f"; e.g. {', '.join(sorted(metrics)[:3])}"
        raise ConfigError(f"tracking.gate_metric {metric!r} is not a metric of `cx evaluate`{hint}")
    return float(metrics[metric])
