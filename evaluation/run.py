"""`cx evaluate` as an MLflow run: test metrics for every trained bundle, reports, and the gate."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow

from evaluation.evaluate import (
    GateDecision,
    evaluate_bundle,
    promotion_gate,
    registered_version,
    write_reports,
)
from evaluation.external import external_sentiment
from evaluation.metrics import flat_metrics
from evaluation.plots import confusion_figure
from pipeline.inference import Tagger
from pipeline.labels import HEADS
from pipeline.tracking import client, configure, git_commit
from training.data import load_splits


def bundles(params: dict[str, Any]) -> dict[str, Path]:
    found = {"transformer": Path(params["train"]["out_dir"]), "baseline": Path(params["baseline"]["out_dir"])}
    return {name: path for name, path in found.items() if (path / "cx_model.json").is_file()}


def evaluate_and_gate(
    params: dict[str, Any], candidate: str, out_dir: Path, log: Callable[[str], None] = print
) -> tuple[GateDecision, Path]:
    available = bundles(params)
    if candidate not in available:
        raise FileNotFoundError(f"no trained {candidate} bundle: run `cx train --model {candidate}` first")
    configure(params)
    test = load_splits(params, which=("test",))["test"]
    log(f"test split: {len(test)} comments")
    taggers = {name: Tagger(path) for name, path in available.items()}
    results = {name: evaluate_bundle(tagger, test) for name, tagger in taggers.items()}
    log("sentiment on the public sets in " + params["evaluation"]["external"]["dir"] + " ...")
    external = external_sentiment(taggers, params["evaluation"]["external"], params["seed"])
    md, js = write_reports(results, out_dir, external)
    tracking = params["tracking"]
    with mlflow.start_run(run_name=f"evaluate-{candidate}"):
        mlflow.set_tags({"stage": "evaluate", "candidate": candidate, "git_commit": git_commit()})
        mlflow.log_input(
            mlflow.data.from_pandas(test[["id", "lang", "text", "sentiment"]], name="cx-corpus-test"),
            context="test",
        )
        for name, result in results.items():
            mlflow.log_metrics(flat_metrics(result, f"test_{name}"))
            for head in HEADS:
                fig = confusion_figure(head, result["overall"][head])
                mlflow.log_figure(fig, f"{name}_test_confusion_{head}.png")
                plt.close(fig)
        for set_name, per_model in external.items():
            for name, scores in per_model.items():
                mlflow.log_metric(f"external_{set_name}_{name}_sentiment_macro_f1", scores["macro_f1"])
        mlflow.log_artifact(str(md))
        mlflow.log_artifact(str(js))
        version = registered_version(available[candidate])
        if version is None:
            raise RuntimeError(f"{available[candidate]} was not registered; retrain it with `cx train`")
        value = results[candidate]["macro_f1_mean"]
        decision = promotion_gate(
            client(),
            params["model"]["name"],
            version,
            value,
            tracking["gate_metric"],
            tracking["champion_alias"],
        )
        mlflow.set_tags(
            {
                "gate_promoted": str(decision.promoted),
                "gate_reason": decision.reason,
                "candidate_version": version,
            }
        )
    return decision, md
