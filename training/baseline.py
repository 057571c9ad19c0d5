"""Fit the TF-IDF + logistic-regression baseline and save it as a bundle (same calibration as the
transformer, so the two are compared like for like)."""

from __future__ import annotations

import time

import joblib
import pandas as pd

from pipeline.baseline import TfidfHeads
from pipeline.bundle import BASELINE_FILE, BundleMeta, ModelKind
from pipeline.cleaning.lemmatizers import LEMMAS_VERSION
from pipeline.dataset.targets import encode_targets
from pipeline.settings import Baseline, Params
from training.train import FitResult, calibrated_dev, fresh_dir


def baseline_estimator(cfg: Baseline, seed: int) -> TfidfHeads:
    """The unfitted baseline as params.yaml configures it (training and the active-learning benchmark)."""
    return TfidfHeads(
        word_ngrams=cfg.word_ngrams,
        char_ngrams=cfg.char_ngrams,
        min_df=cfg.min_df,
        max_features=cfg.max_features,
        C=cfg.C,
        max_iter=cfg.max_iter,
        seed=seed,
    )


def fit_baseline(params: Params, frames: dict[str, pd.DataFrame]) -> FitResult:
    cfg = params.baseline
    started = time.time()
    targets, masks = encode_targets(frames["train"])
    model = baseline_estimator(cfg, params.seed)
    model.fit(frames["train"][["text", "lemmas"]], targets, masks)
    dev_logits = model.decision_function(frames["dev"][["text", "lemmas"]])
    temperature, thresholds, dev = calibrated_dev(dev_logits, frames["dev"], params.train.threshold_grid)
    meta = BundleMeta(
        kind=ModelKind.BASELINE,
        temperature=temperature,
        thresholds=thresholds,
        info={
            "seed": params.seed,
            "word_ngrams": list(cfg.word_ngrams),
            "char_ngrams": list(cfg.char_ngrams),
            "C": cfg.C,
            "lemmas_version": LEMMAS_VERSION,
        },
    )
    out_dir = fresh_dir(cfg.out_dir)
    joblib.dump(model, out_dir / BASELINE_FILE)
    meta.save(out_dir)
    return FitResult(out_dir, meta, [], dev, 0, time.time() - started)
