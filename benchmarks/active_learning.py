"""Benchmark: does `cx label export --strategy uncertain` pick better comments to label than random?

The simulation uses the fast TF-IDF baseline (the same estimator and calibration as `cx train --model
baseline`) on the written corpus: start from 20% of the train split, then three rounds each add 10% of it,
picked by the baseline's uncertainty (`pipeline.annotation.select`, stratified by language) or at random;
after each round the model is refit, calibrated on the dev split and scored on the test split (macro-F1
per head), with the mean macro-F1 on the real-text test split beside it. Three seeds, averaged. Target:
`uncertain` reaches random's final corpus score (50% of the labels) with fewer labels (linear between
rounds, which is conservative on a concave learning curve). Exit code 1 when it does not.

    python benchmarks/active_learning.py [--seeds 3]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pipeline.annotation import select  # noqa: E402
from pipeline.baseline import TfidfHeads  # noqa: E402
from pipeline.cleaning.cleaner import Cleaner  # noqa: E402
from pipeline.config import load_params  # noqa: E402
from pipeline.dataset.frames import clean_frame, corpus_frame, real_frame  # noqa: E402
from pipeline.dataset.targets import encode_targets  # noqa: E402
from pipeline.decode import probabilities  # noqa: E402
from pipeline.labels import HEADS  # noqa: E402
from pipeline.metrics import score  # noqa: E402
from pipeline.settings import Params  # noqa: E402
from training.baseline import baseline_estimator  # noqa: E402
from training.train import calibrated_dev  # noqa: E402

START, STEP, ROUNDS = 0.20, 0.10, 3


def cleaned_splits(params: Params) -> dict[str, pd.DataFrame]:
    """The written corpus's train/dev/test, and the real-text test split (two-pass consensus) beside it:
    a strategy that only helps on written text would not help a CX team."""
    cleaner = Cleaner(params.cleaning, params.langid)
    corpus = corpus_frame(params.data)
    corpus = clean_frame(corpus[corpus["source"] == "corpus"], cleaner)  # the written corpus, no extras
    splits = {s: corpus[corpus["split"] == s].reset_index(drop=True) for s in ("train", "dev", "test")}
    real = real_frame(params.real, params.seed, log=lambda _: None)
    splits["real_test"] = clean_frame(real[real["split"] == "test"], cleaner)
    return splits


def fit(params: Params, train: pd.DataFrame, dev: pd.DataFrame, seed: int) -> tuple[TfidfHeads, dict, dict]:
    targets, masks = encode_targets(train)
    model = baseline_estimator(params.baseline, seed).fit(train[["text", "lemmas"]], targets, masks)
    temperature, thresholds, _ = calibrated_dev(
        model.decision_function(dev[["text", "lemmas"]]), dev, params.train.threshold_grid
    )
    return model, temperature, thresholds


def test_scores(model, temperature, thresholds, test: pd.DataFrame) -> dict[str, float]:
    targets, masks = encode_targets(test)
    probs = probabilities(model.decision_function(test[["text", "lemmas"]]), temperature)
    result = score(probs, thresholds, targets, masks)
    return {head: result["overall"][head]["macro_f1"] for head in HEADS} | {"mean": result["macro_f1_mean"]}


def curve(params: Params, splits: dict[str, pd.DataFrame], strategy: str, seed: int) -> list[dict]:
    train = splits["train"]
    n = len(train)
    rng = np.random.default_rng(seed)
    labelled = np.sort(rng.choice(n, size=round(START * n), replace=False))
    rows = []
    for step in range(ROUNDS + 1):
        model, temperature, thresholds = fit(params, train.iloc[labelled], splits["dev"], seed)
        rows.append(
            {"strategy": strategy, "seed": seed, "labels": len(labelled)}
            | test_scores(model, temperature, thresholds, splits["test"])
            | {"real_text_mean": test_scores(model, temperature, thresholds, splits["real_test"])["mean"]}
        )
        if step == ROUNDS:
            break
        pool = np.setdiff1d(np.arange(n), labelled)
        langs = train["lang"].to_numpy()[pool]
        k = round(STEP * n)
        if strategy == "uncertain":
            probs = probabilities(model.decision_function(train.iloc[pool][["text", "lemmas"]]), temperature)
            picked = select.pick_top(select.uncertainty(probs, thresholds), langs, k)
        else:
            picked = select.pick_random(langs, k, seed * 100 + step)
        labelled = np.sort(np.concatenate([labelled, pool[picked]]))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args()
    params = load_params(ROOT / "params.yaml")
    started = time.time()
    splits = cleaned_splits(params)
    print(
        f"pool: {len(splits['train'])} train comments; dev {len(splits['dev'])}, test {len(splits['test'])}; "
        f"real-text test {len(splits['real_test'])}"
    )
    rows = [
        row
        for seed in range(1, args.seeds + 1)
        for strategy in ("uncertain", "random")
        for row in curve(params, splits, strategy, params.seed + seed)
    ]
    columns = [*HEADS, "mean", "real_text_mean"]
    table = pd.DataFrame(rows).groupby(["strategy", "labels"])[columns].mean().round(4)
    print(
        "\nmacro-F1 on the corpus test split, and its mean on the real-text test split (mean over seeds):\n"
    )
    print(table.to_markdown())
    random_final = float(table.loc["random"]["mean"].iloc[-1])
    final_labels = int(table.loc["random"].index[-1])
    print(
        f"\nrandom with {final_labels} labels: {random_final:.4f} mean macro-F1 "
        f"({time.time() - started:.0f} s)"
    )
    needed = labels_to_reach(table.loc["uncertain"]["mean"], random_final)
    if needed is None:
        print("MISSED: uncertain never reaches random's final score")
        return 1
    print(
        f"uncertain reaches it with {needed:.0f} labels (interpolated on its curve): "
        f"{final_labels - needed:.0f} fewer ({1 - needed / final_labels:.1%})"
    )
    if needed >= final_labels:
        print("MISSED: uncertain needs as many labels as random")
        return 1
    print("PASS")
    return 0


def labels_to_reach(curve: pd.Series, target: float) -> float | None:
    """Labels at which a learning curve (labels -> score) first reaches `target`, linear between the
    measured rounds. Learning curves are concave, so the chord lies under the curve: the true crossing is
    no later than this estimate."""
    points = list(curve.items())
    for (x0, y0), (x1, y1) in itertools.pairwise(points):
        if y1 >= target:
            return float(x0) if y0 >= target else x0 + (target - y0) / (y1 - y0) * (x1 - x0)
    return float(points[0][0]) if points and points[0][1] >= target else None


if __name__ == "__main__":
    raise SystemExit(main())
