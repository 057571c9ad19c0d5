"""`cx evaluate` as an MLflow run: every trained bundle on the real-text test split, the corpus test split,
the public sets' held-out parts and the behavioural suite; reports; and the champion gate.

The gate compares `tracking.gate_metric`, by default the mean of the real-text and the corpus test macro-F1,
so a model that learns the corpus style at the cost of real text cannot become champion, nor the reverse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow

from evaluation.behaviour import behaviour_markdown, run_behaviour
from evaluation.evaluate import (
    GateDecision,
    errors_markdown,
    evaluate_bundle,
    markdown_report,
    promotion_gate,
    public_markdown,
    real_text_markdown,
    registered_version,
    write_reports,
)
from evaluation.realtext import public_sentiment, real_text_results
from evaluation.tracked import gate_metric_value, headline_metrics, write_tracked
from pipeline.bundle import META_FILE, ModelKind
from pipeline.dataset.frames import load_splits
from pipeline.figures import confusion_figure
from pipeline.inference import Tagger
from pipeline.labels import HEADS
from pipeline.registry import ModelNotFound
from pipeline.settings import Params
from pipeline.tracking import client, configure, tracked_run


def bundles(params: Params) -> dict[str, Path]:
    found = {
        ModelKind.TRANSFORMER: Path(params.train.out_dir),
        ModelKind.BASELINE: Path(params.baseline.out_dir),
    }
    return {kind.value: path for kind, path in found.items() if (path / META_FILE).is_file()}


def test_set_fingerprint(parts: dict[str, Any]) -> str:
    """Which rows the gate value was computed on: a digest of the corpus and real-text test ids."""
    digest = hashlib.sha256()
    for origin in ("corpus", "real"):
        digest.update(f"{origin}:".encode())
        digest.update("\n".join(sorted(parts[origin]["id"].astype(str))).encode())
    return digest.hexdigest()[:16]


def _log_metrics(name: str, result: dict[str, Any], headline: dict[str, float]) -> None:
    mlflow.log_metrics(headline)
    for part in ("corpus", "real"):
        if result.get(part):
            for head in HEADS:
                fig = confusion_figure(head, result[part]["overall"][head])
                mlflow.log_figure(fig, f"{name}_{part}_test_confusion_{head}.png")
                plt.close(fig)


def evaluate_and_gate(
    params: Params, candidate: str, out_dir: Path, log: Callable[[str], None] = print
) -> tuple[GateDecision, Path]:
    available = bundles(params)
    if candidate not in available:
        raise FileNotFoundError(f"no trained {candidate} bundle: run `cx train --model {candidate}` first")
    configure(params.tracking)
    test = load_splits(params, which=("test",), log=log)["test"]
    parts = {
        origin: test[test["origin"] == origin].reset_index(drop=True)
        for origin in ("corpus", "real", "public")
    }
    log("test rows: " + ", ".join(f"{k}={len(v)}" for k, v in parts.items()))
    taggers = {name: Tagger(path) for name, path in available.items()}
    results: dict[str, dict[str, Any]] = {}
    for name, tagger in taggers.items():
        log(f"scoring the test splits with the {name} ...")
        results[name] = {"corpus": evaluate_bundle(tagger, parts["corpus"])}
        if len(parts["real"]):
            results[name]["real"] = real_text_results(tagger, parts["real"])
    public = public_sentiment(taggers, parts["public"]) if len(parts["public"]) else {}
    log("behavioural suite ...")
    behaviour = run_behaviour(taggers, params.evaluation.behaviour, params.seed)
    ecfg = params.evaluation
    markdown = ""
    if all(r.get("real") for r in results.values()):
        markdown += real_text_markdown({n: r["real"] for n, r in results.items()}, ecfg.targets)
    markdown += public_markdown(public, ecfg.targets.public_sentiment_margin)
    markdown += behaviour_markdown(behaviour, ecfg.targets.behaviour)
    markdown += "\n" + markdown_report(
        {n: r["corpus"] for n, r in results.items()}, title="Written corpus: test split"
    )
    if results[candidate].get("real"):
        markdown += errors_markdown(results[candidate]["real"]["errors"])
    report = {"test": results, "public_sentiment": public, "behaviour": behaviour}
    md, js = write_reports(report, markdown, out_dir)
    headline = {name: headline_metrics(name, r, public, behaviour) for name, r in results.items()}
    write_tracked(results, headline, Path(ecfg.metrics), Path(ecfg.plots_dir))
    tracking = params.tracking
    with tracked_run(f"evaluate-{candidate}", "evaluate", candidate=candidate):
        for origin, frame in parts.items():
            if len(frame):
                dataset = mlflow.data.from_pandas(
                    frame[["id", "lang", "text", "sentiment"]], name=f"cx-{origin}-test"
                )
                mlflow.log_input(dataset, context=f"test-{origin}")
        for name, result in results.items():
            _log_metrics(name, result, headline[name])
        mlflow.log_artifact(str(md))
        mlflow.log_artifact(str(js))
        version = registered_version(available[candidate])
        if version is None:
            raise ModelNotFound(f"{available[candidate]} was not registered; retrain it with `cx train`")
        decision = promotion_gate(
            client(),
            params.model.name,
            version,
            gate_metric_value(tracking.gate_metric, candidate, headline[candidate]),
            tracking.gate_metric,
            tracking.champion_alias,
            test_set_fingerprint(parts),
        )
        mlflow.set_tags(
            {
                "gate_promoted": str(decision.promoted),
                "gate_reason": decision.reason,
                "candidate_version": version,
            }
        )
    return decision, md
