"""Fit the TF-IDF + logistic-regression baseline and save it as a bundle (same calibration as the
transformer, so the two are compared like for like)."""

from __future__ import annotations

import time
from typing import Any

import joblib
import pandas as pd

from pipeline.baseline import TfidfHeads
from pipeline.bundle import BASELINE_FILE, BundleMeta, ModelKind
from pipeline.dataset.targets import encode_targets
from training.train import FitResult, calibrated_dev, fresh_dir


def fit_baseline(params: dict[str, Any], frames: dict[str, pd.DataFrame]) -> FitResult:
    cfg = params["baseline"]
    started = time.time()
    targets, masks = encode_targets(frames["train"])
    model = TfidfHeads(
        word_ngrams=cfg["word_ngrams"],
        char_ngrams=cfg["char_ngrams"],
        min_df=cfg["min_df"],
        max_features=cfg["max_features"],
        C=cfg["C"],
        max_iter=cfg["max_iter"],
        seed=params["seed"],
    )
    model.fit(frames["train"][["text", "lemmas"]], targets, masks)
    dev_logits = model.decision_function(frames["dev"][["text", "lemmas"]])
    temperature, thresholds, dev = calibrated_dev(
        dev_logits, frames["dev"], params["train"]["threshold_grid"]
    )
    meta = BundleMeta(
        kind=ModelKind.BASELINE,
        temperature=temperature,
        thresholds=thresholds,
        info={"seed": params["seed"], **{k: cfg[k] for k in ("word_ngrams", "char_ngrams", "C")}},
    )
    out_dir = fresh_dir(cfg["out_dir"])
    joblib.dump(model, out_dir / BASELINE_FILE)
    meta.save(out_dir)
    return FitResult(out_dir, meta, [], dev, 0, time.time() - started)
