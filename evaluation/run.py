"""`cx evaluate` as an MLflow run: every trained bundle on the real-text test split, the corpus test split,
the public sets' held-out parts and the behavioural suite; reports; and the champion gate.

The gate compares the mean of the real-text and the corpus test macro-F1 (`tracking.gate_metric`), so a
model that learns the corpus style at the cost of real text cannot become champion, nor the reverse.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np

from evaluation.behaviour import CAPABILITIES, behaviour_markdown, run_behaviour
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
from evaluation.metrics import flat_metrics
from evaluation.plots import confusion_figure
from evaluation.realtext import public_sentiment, real_text_results
from pipeline.inference import Tagger
from pipeline.labels import HEADS
from pipeline.tracking import client, configure, git_commit
from training.data import load_splits


def bundles(params: dict[str, Any]) -> dict[str, Path]:
    found = {"transformer": Path(params["train"]["out_dir"]), "baseline": Path(params["baseline"]["out_dir"])}
    return {name: path for name, path in found.items() if (path / "cx_model.json").is_file()}


def test_set_fingerprint(parts: dict[str, Any]) -> str:
    """Which rows the gate value was computed on: a digest of the corpus and real-text test ids."""
    digest = hashlib.sha256()
    for origin in ("corpus", "real"):
        digest.update(f"{origin}:".encode())
        digest.update("\n".join(sorted(parts[origin]["id"].astype(str))).encode())
    return digest.hexdigest()[:16]


def gate_value(result: dict[str, Any]) -> float:
    """Mean of the corpus and real-text test macro-F1 means (the corpus alone where no real text is)."""
    parts = [result["corpus"]["macro_f1_mean"]]
    if result.get("real"):
        parts.append(result["real"]["macro_f1_mean"])
    return float(np.mean(parts))


def _log_metrics(
    name: str, result: dict[str, Any], public: dict[str, Any], behaviour: dict[str, Any]
) -> None:
    mlflow.log_metrics(flat_metrics(result["corpus"], f"test_{name}"))
    if result.get("real"):
        mlflow.log_metrics(flat_metrics(result["real"], f"real_test_{name}"))
        for group, heads in result["real"]["primary"].items():
            key = group.replace(":", "_")
            for head, value in heads.items():
                if value["n"]:
                    mlflow.log_metric(f"real_test_{name}_{key}_primary_{head}_accuracy", value["accuracy"])
    mlflow.log_metric(f"test_{name}_gate_mean", gate_value(result))
    for set_name, per_model in public.items():
        mlflow.log_metric(f"public_{set_name}_{name}_sentiment_macro_f1", per_model[name]["macro_f1"])
    for lang, caps in behaviour.get(name, {}).items():
        for cap in CAPABILITIES:
            mlflow.log_metric(f"behaviour_{name}_{lang}_{cap}_pass_rate", caps[cap]["rate"])
    for part in ("corpus", "real"):
        if result.get(part):
            for head in HEADS:
                fig = confusion_figure(head, result[part]["overall"][head])
                mlflow.log_figure(fig, f"{name}_{part}_test_confusion_{head}.png")
                plt.close(fig)


def evaluate_and_gate(
    params: dict[str, Any], candidate: str, out_dir: Path, log: Callable[[str], None] = print
) -> tuple[GateDecision, Path]:
    available = bundles(params)
    if candidate not in available:
        raise FileNotFoundError(f"no trained {candidate} bundle: run `cx train --model {candidate}` first")
    configure(params)
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
    behaviour = run_behaviour(taggers, params["evaluation"]["behaviour"], params["seed"])
    ecfg = params["evaluation"]
    markdown = ""
    if all(r.get("real") for r in results.values()):
        markdown += real_text_markdown({n: r["real"] for n, r in results.items()}, ecfg["targets"])
    markdown += public_markdown(public, ecfg["targets"]["public_sentiment_margin"])
    markdown += behaviour_markdown(behaviour, ecfg["targets"]["behaviour"])
    markdown += "\n" + markdown_report(
        {n: r["corpus"] for n, r in results.items()}, title="Written corpus: test split"
    )
    if results[candidate].get("real"):
        markdown += errors_markdown(results[candidate]["real"]["errors"])
    report = {"test": results, "public_sentiment": public, "behaviour": behaviour}
    md, js = write_reports(report, markdown, out_dir)
    tracking = params["tracking"]
    with mlflow.start_run(run_name=f"evaluate-{candidate}"):
        mlflow.set_tags({"stage": "evaluate", "candidate": candidate, "git_commit": git_commit()})
        for origin, frame in parts.items():
            if len(frame):
                dataset = mlflow.data.from_pandas(
                    frame[["id", "lang", "text", "sentiment"]], name=f"cx-{origin}-test"
                )
                mlflow.log_input(dataset, context=f"test-{origin}")
        for name, result in results.items():
            _log_metrics(name, result, public, behaviour)
        mlflow.log_artifact(str(md))
        mlflow.log_artifact(str(js))
        version = registered_version(available[candidate])
        if version is None:
            raise RuntimeError(f"{available[candidate]} was not registered; retrain it with `cx train`")
        decision = promotion_gate(
            client(),
            params["model"]["name"],
            version,
            gate_value(results[candidate]),
            tracking["gate_metric"],
            tracking["champion_alias"],
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
