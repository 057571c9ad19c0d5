"""`cx train`: fit a model, then record everything in MLflow and register it.

One MLflow run per training: all params, the git commit, dataset digests (`mlflow.data`), metrics per
epoch, final dev metrics per head/language/label, calibration, confusion matrices and reliability
diagrams, and the bundle as a pyfunc model registered under `model.name`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import pandas as pd

from pipeline.bundle import BundleMeta, ModelKind, save_cleaning_params
from pipeline.dataset.frames import load_splits
from pipeline.dataset.targets import encode_targets
from pipeline.decode import probabilities
from pipeline.figures import confusion_figure, reliability_figure
from pipeline.inference import Tagger
from pipeline.labels import HEADS
from pipeline.metrics import calibration_views, expected_calibration_error, flat_metrics
from pipeline.pyfunc import log_bundle
from pipeline.settings import Params
from pipeline.tracking import client, configure, tracked_run
from training.train import FitResult

TRANSFORMER, BASELINE = ModelKind.TRANSFORMER, ModelKind.BASELINE


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> dict[str, Any]:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    else:
        out[prefix] = value if not isinstance(value, list) or len(str(value)) < 500 else str(value)[:500]
    return out


def _log_calibration(kind: str, result: FitResult, frames: dict[str, pd.DataFrame], tagger: Tagger) -> None:
    """Reliability diagrams and ECE on dev, before and after temperature scaling."""
    dev = frames["dev"]
    logits = tagger.scorer.logits(dev["text"].tolist(), dev["lemmas"].tolist())
    targets, masks = encode_targets(dev)
    before = calibration_views(probabilities(logits, {h: 1.0 for h in HEADS}), targets, masks)
    after = calibration_views(probabilities(logits, result.meta.temperature), targets, masks)
    for head in HEADS:
        mlflow.log_metric(f"dev_{head}_ece_raw", expected_calibration_error(*before[head]))
        mlflow.log_metric(f"dev_{head}_ece_calibrated", expected_calibration_error(*after[head]))
        mlflow.log_metric(f"temperature_{head}", result.meta.temperature[head])
    fig = reliability_figure(before, after)
    mlflow.log_figure(fig, f"{kind}_dev_reliability.png")
    plt.close(fig)


def train_and_log(params: Params, kind: str, log: Callable[[str], None] = print) -> tuple[FitResult, Any]:
    from training.baseline import fit_baseline
    from training.train import fit_transformer

    configure(params.tracking)
    frames = load_splits(params, which=("train", "dev"))  # the test split is for `cx evaluate` only
    log("rows: " + ", ".join(f"{k}={len(v)}" for k, v in frames.items()))
    with tracked_run(f"train-{kind}", "train", kind=kind):
        sections = ["seed", "model", "train", "data"] if kind == TRANSFORMER else ["seed", "baseline", "data"]
        flat: dict[str, Any] = {}
        dumped = params.model_dump(mode="json")
        for name in sections:
            _flatten(name, dumped[name], flat)
        for vocabulary in ("data.industries", "data.touchpoints", "data.channels"):
            flat.pop(vocabulary, None)
        mlflow.log_params(flat)
        for split, frame in frames.items():
            dataset = mlflow.data.from_pandas(
                frame[["id", "lang", "text", "sentiment"]], name=f"cx-corpus-{split}"
            )
            mlflow.log_input(dataset, context=split)
        if kind == TRANSFORMER:
            result = fit_transformer(
                params,
                frames,
                on_epoch=lambda e, rec: mlflow.log_metrics(
                    {k: v for k, v in rec.items() if k != "epoch"}, step=e
                ),
            )
        else:
            result = fit_baseline(params, frames)
        save_cleaning_params(result.bundle_dir, params.cleaning, params.langid)
        mlflow.log_metrics(flat_metrics(result.dev, "dev"))
        mlflow.log_metrics({"train_seconds": result.seconds, "best_epoch": result.best_epoch})
        mlflow.log_dict(result.dev, "dev_metrics.json")
        mlflow.log_dict(
            {"thresholds": result.meta.thresholds, "temperature": result.meta.temperature}, "calibration.json"
        )
        for head in HEADS:
            fig = confusion_figure(head, result.dev["overall"][head])
            mlflow.log_figure(fig, f"{kind}_dev_confusion_{head}.png")
            plt.close(fig)
        tagger = Tagger(result.bundle_dir)  # loaded once, for the diagrams and the pyfunc example
        _log_calibration(kind, result, frames, tagger)
        log("logging the model to MLflow and registering it ...")
        examples = frames["dev"]["text_raw"].head(3).tolist()
        version = log_bundle(tagger, params.model.name, examples).registered_model_version
        client().set_model_version_tag(params.model.name, str(version), "kind", kind)
        meta = BundleMeta.load(result.bundle_dir)
        # the registered version leads to its MLflow run; the run id itself stays out of the bundle, which
        # would otherwise differ on every retraining of the same data (and DVC would see a new model)
        meta.info |= {
            "registered_name": params.model.name,
            "registered_version": str(version),
        }
        meta.save(result.bundle_dir)
        result.meta = meta
    return result, version
