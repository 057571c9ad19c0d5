"""Model, training loop, calibration, baseline, MLflow registry gate and pyfunc round trip, on a tiny
random BERT and a tokenizer trained here (seconds, not minutes)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from pipeline.cleaning.cleaner import CleanResult
from pipeline.dataset.targets import encode_targets
from pipeline.decode import decode, sigmoid, softmax
from pipeline.labels import FORCES, HEADS, TERMS
from pipeline.metrics import expected_calibration_error
from pipeline.settings import with_changes
from tests.tiny import build_tiny_encoder, tiny_frames, tiny_params
from training.calibration import fit_temperature, tune_thresholds
from training.train import MultiTaskLoss, autocast_dtype, epoch_rows, length_grouped_batches

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def tiny_encoder(tmp_path_factory):
    return build_tiny_encoder(tmp_path_factory.mktemp("tiny-encoder"))


def _unit_loss(targets, masks):
    """A loss with unit weights and the batch tensors for it."""
    loss_fn = MultiTaskLoss(
        torch.ones(3),
        {"terms": torch.ones(5), "forces": torch.ones(6)},
        {"sentiment": 1.0, "terms": 1.0, "forces": 1.0},
    )
    batch = {k: torch.tensor(v) for k, v in targets.items()} | {
        f"mask_{k}": torch.tensor(v) for k, v in masks.items()
    }
    return loss_fn, batch


def test_partial_labels_are_masked_not_zeroed():
    frame = pd.DataFrame(
        {"sentiment": ["negative", "positive"], "terms": [["time"], None], "forces": [[], None]}
    )
    targets, masks = encode_targets(frame)
    assert masks["terms"].tolist() == [True, False] and masks["forces"].tolist() == [True, False]
    assert masks["sentiment"].tolist() == [True, True]
    loss_fn, batch = _unit_loss(targets, masks)
    logits = {
        "sentiment": torch.zeros(2, 3),
        "terms": torch.zeros(2, 5, requires_grad=True),
        "forces": torch.zeros(2, 6, requires_grad=True),
    }
    _, parts = loss_fn(logits, batch)
    total, _ = loss_fn(logits, batch)
    total.backward()
    # the unlabelled row gets no gradient from the TERMS/Force heads
    assert logits["terms"].grad[1].abs().sum() == 0 and logits["terms"].grad[0].abs().sum() > 0
    assert logits["forces"].grad[1].abs().sum() == 0
    assert set(parts) == {"sentiment", "terms", "forces"}


def test_sentiment_only_batch_has_no_terms_loss():
    frame = pd.DataFrame({"sentiment": ["negative"], "terms": [None], "forces": [None]})
    targets, masks = encode_targets(frame)
    loss_fn, batch = _unit_loss(targets, masks)
    _, parts = loss_fn(
        {"sentiment": torch.zeros(1, 3), "terms": torch.zeros(1, 5), "forces": torch.zeros(1, 6)}, batch
    )
    assert set(parts) == {"sentiment"}


def test_threshold_tuning_finds_the_separating_value():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, size=(400, 2))
    # label 0 is separable at 0.3, label 1 at 0.7
    probs = np.stack(
        [
            np.where(y[:, 0] == 1, rng.uniform(0.31, 0.6, 400), rng.uniform(0.0, 0.29, 400)),
            np.where(y[:, 1] == 1, rng.uniform(0.71, 1.0, 400), rng.uniform(0.3, 0.69, 400)),
        ],
        axis=1,
    )
    thresholds = tune_thresholds(probs, y, (0.1, 0.9, 0.025))
    assert 0.29 < thresholds[0] <= 0.31 + 0.025 and 0.69 < thresholds[1] <= 0.71 + 0.025


def test_temperature_scaling_lowers_ece_on_overconfident_logits():
    rng = np.random.default_rng(1)
    n = 4000
    true_logits = rng.normal(0, 1.5, size=(n, 3))
    p = softmax(true_logits)
    y = np.array([rng.choice(3, p=row) for row in p])
    overconfident = true_logits * 4.0  # same ranking, far too sure
    t = fit_temperature(overconfident, y, multilabel=False)
    before = softmax(overconfident)
    after = softmax(overconfident, t)
    ece_before = expected_calibration_error(before.max(1), (before.argmax(1) == y).astype(float))
    ece_after = expected_calibration_error(after.max(1), (after.argmax(1) == y).astype(float))
    assert 3.0 < t < 5.0
    assert ece_after < ece_before / 2
    # multi-label heads too
    yb = (rng.uniform(size=(n, 5)) < sigmoid(true_logits[:, :1].repeat(5, 1))).astype(float)
    tb = fit_temperature(true_logits[:, :1].repeat(5, 1) * 3.0, yb, multilabel=True)
    assert 2.0 < tb < 4.0


def test_decode_orders_labels_and_names_columns():
    probs = {
        "sentiment": np.array([[0.7, 0.2, 0.1]]),
        "terms": np.array([[0.2, 0.9, 0.1, 0.6, 0.3]]),
        "forces": np.array([[0.1, 0.1, 0.1, 0.1, 0.1, 0.1]]),
    }
    frame = decode(probs, {"terms": np.full(5, 0.5), "forces": np.full(6, 0.5)})
    row = frame.iloc[0]
    assert (row["sentiment"], row["terms"], row["terms_primary"], row["forces"], row["forces_primary"]) == (
        "negative",
        "emotion;money",
        "emotion",
        "",
        "",
    )
    assert [c for c in frame.columns if c.startswith("p_terms_")] == [f"p_terms_{t}" for t in TERMS]
    assert [c for c in frame.columns if c.startswith("p_forces_")] == [f"p_forces_{f}" for f in FORCES]


def test_length_grouped_batches_cover_everything_once():
    import random

    lengths = [random.Random(i).randint(3, 60) for i in range(203)]
    batches = length_grouped_batches(lengths, 8, 4, random.Random(0))
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(203)) and max(len(b) for b in batches) == 8


def test_each_epoch_shows_every_labelled_row_and_its_own_block_of_public_rows():
    import random

    blocks = np.array([-1, 0, 1, -1, 2, 0, 1, 2])
    assert epoch_rows(blocks, 1) == [0, 1, 3, 5] and epoch_rows(blocks, 2) == [0, 2, 3, 6]
    assert epoch_rows(blocks, 4) == epoch_rows(blocks, 1)  # more epochs than blocks: wrap around
    assert epoch_rows(np.array([-1, -1]), 3) == [0, 1]
    batches = length_grouped_batches([5] * 8, 2, 2, random.Random(0), epoch_rows(blocks, 3))
    assert sorted(i for b in batches for i in b) == [0, 3, 4, 7]


def test_bf16_only_where_asked_or_where_the_cpu_has_it(monkeypatch):
    assert autocast_dtype("fp32") is None and autocast_dtype("bf16") is torch.bfloat16
    for probe in ("_is_amx_tile_supported", "_is_avx512_bf16_supported"):
        monkeypatch.setattr(torch.cpu, probe, lambda: False, raising=False)
    assert autocast_dtype("auto") is None
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: True)
    assert autocast_dtype("auto") is torch.bfloat16


@pytest.fixture(scope="module")
def trained(tiny_encoder, tmp_path_factory, params):
    from training.run import BASELINE, TRANSFORMER, train_and_log

    tmp = tmp_path_factory.mktemp("run")
    p = tiny_params(params, tiny_encoder, tmp)
    frames = tiny_frames()
    import training.run as run_module

    original = run_module.load_splits
    run_module.load_splits = lambda _params, **_: frames
    try:
        transformer, v1 = train_and_log(p, TRANSFORMER, log=lambda m: None)
        baseline, v2 = train_and_log(p, BASELINE, log=lambda m: None)
    finally:
        run_module.load_splits = original
    return p, frames, transformer, baseline, v1, v2


def test_training_writes_a_calibrated_bundle_and_registers_it(trained):
    from safetensors.torch import load_file

    from pipeline.inference import Tagger

    p, _, transformer, _, v1, v2 = trained
    assert (transformer.bundle_dir / "encoder" / "config.json").is_file()
    weights = [
        transformer.bundle_dir / "heads.safetensors",
        transformer.bundle_dir / "encoder" / "model.safetensors",
    ]
    assert all(w.stat().st_mode & 0o044 == 0o044 for w in weights)  # readable by a service user
    assert [h["epoch"] for h in transformer.history] == list(range(1, p.train.epochs + 1))
    assert transformer.meta.info["registered_version"] == str(v1)
    # the optimizer really stepped: the saved encoder differs from the one training started from
    start = load_file(str(Path(p.model.encoder) / "model.safetensors"))
    saved = load_file(str(transformer.bundle_dir / "encoder" / "model.safetensors"))
    moved = [k for k in start if k in saved and not torch.equal(start[k], saved[k])]
    assert len(moved) > len(start) // 2
    assert set(transformer.meta.temperature) == {"sentiment", "terms", "forces"}
    assert len(transformer.meta.thresholds["terms"]) == 5
    tagged = Tagger(transformer.bundle_dir).tag(["Курьер опоздал на два часа", None, "Great, thanks!"])
    assert tagged["error"].tolist() == [None, "missing", None]
    assert tagged.loc[0, "lang"] == "ru"
    columns = ["p_sentiment_negative", "p_sentiment_neutral", "p_sentiment_positive"]
    probs = tagged.loc[[0, 2], columns].astype(float)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    # the label is the decision the bundle's probabilities imply, not any one of the three
    assert tagged.loc[[0, 2], "sentiment"].tolist() == [
        c.removeprefix("p_sentiment_") for c in probs.idxmax(axis=1)
    ]
    assert int(v2) == int(v1) + 1


def test_registry_gate_promotes_better_and_refuses_worse(trained):
    from evaluation.evaluate import promotion_gate
    from pipeline.tracking import client, configure

    p, *_rest, v1, v2 = trained
    configure(p.tracking)
    c, name = client(), p.model.name
    if "champion" in c.get_registered_model(name).aliases:  # start without a champion, whatever ran before
        c.delete_registered_model_alias(name, "champion")
    first = promotion_gate(c, name, str(v1), 0.70, "test_macro_f1_mean", "champion")
    assert first.promoted and str(c.get_model_version_by_alias(name, "champion").version) == str(v1)
    worse = promotion_gate(c, name, str(v2), 0.65, "test_macro_f1_mean", "champion")
    assert not worse.promoted and str(c.get_model_version_by_alias(name, "champion").version) == str(v1)
    better = promotion_gate(c, name, str(v2), 0.72, "test_macro_f1_mean", "champion")
    assert better.promoted and str(c.get_model_version_by_alias(name, "champion").version) == str(v2)
    # scores measured on different test sets are not compared: the alias stays
    promotion_gate(c, name, str(v2), 0.72, "gate_mean", "champion", test_set="aaaa")
    other = promotion_gate(c, name, str(v1), 0.99, "gate_mean", "champion", test_set="bbbb")
    assert not other.promoted and "another test set" in other.reason
    assert str(c.get_model_version_by_alias(name, "champion").version) == str(v2)


def test_a_registry_that_cannot_answer_stops_the_gate_instead_of_promoting():
    from evaluation.evaluate import promotion_gate

    moved: list[tuple] = []

    class Unreachable:
        def set_model_version_tag(self, *args) -> None: ...

        def get_registered_model(self, name):
            raise ConnectionError("registry unreachable")

        def set_registered_model_alias(self, *args) -> None:
            moved.append(args)

    with pytest.raises(ConnectionError):
        promotion_gate(Unreachable(), "cx-terms", "2", 0.9, "gate_mean", "champion")
    assert moved == []  # the alias did not move to an unchecked candidate


def test_pyfunc_round_trip_in_a_fresh_process(trained, tmp_path):
    p, *_ = trained
    # the editable install is switched off in that process: the model must bring its own code (code_paths)
    script = f"""
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "__editable__" not in getattr(f, "__module__", "")]
sys.path[:] = [x for x in sys.path if x not in ("", {str(REPO)!r})]
import importlib.util
assert importlib.util.find_spec("pipeline") is None, "cx-terms is still importable"
import json, mlflow, pandas as pd
mlflow.set_tracking_uri({p.tracking.uri!r})
model = mlflow.pyfunc.load_model("models:/{p.model.name}/1")
out = model.predict(pd.DataFrame({{"text": ["Доставката закъсня с два дни", "App keeps crashing"]}}))
import pipeline
print(json.dumps({{"cols": list(out.columns), "langs": out["lang"].tolist(), "n": len(out),
                  "code": pipeline.__file__, "dtypes": {{c: str(t) for c, t in out.dtypes.items()}}}}))
"""
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    payload = json.loads(result.stdout.strip().splitlines()[-1])
    assert payload["n"] == 2 and payload["langs"] == ["bg", "en"]
    assert not payload["code"].startswith(str(REPO))  # imported from the model's artifacts
    assert payload["dtypes"]["p_terms_time"] == "float64" and payload["dtypes"]["sentiment_prob"] == "float64"
    assert payload["dtypes"]["sentiment"] == "object"
    assert {"sentiment", "terms", "forces", "p_terms_time", "p_forces_enjoyment"} <= set(payload["cols"])


def test_evaluate_writes_reports_and_gates_the_champion(trained, tmp_path):
    import evaluation.run as run_module

    p, frames, *_ = trained
    original = run_module.load_splits
    run_module.load_splits = lambda _params, **_: frames
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "en.yaml").write_text(
        "lang: en\nmft:\n  - {text: 'Thanks, great crew!', sentiment: positive}\n"
        "invariance:\n  - {text: 'Anna from Leeds was late', variants: ['Maria from York was late']}\n",
        encoding="utf-8",
    )
    params = with_changes(p, {"evaluation.behaviour.dir": str(suites)})
    try:
        decision, md = run_module.evaluate_and_gate(
            params, "transformer", tmp_path / "eval", log=lambda m: None
        )
    finally:
        run_module.load_splits = original
    report = md.read_text()
    assert report.startswith("## Real customer text")  # real text leads the report
    assert "| airline_tweets_en |" in report and "| cinexio_bg |" in report
    assert "Written corpus: test split" in report and "Behavioural suite" in report
    payload = json.loads((tmp_path / "eval" / "evaluation.json").read_text())
    assert set(payload["test"]) == {"transformer", "baseline"}
    real = payload["test"]["transformer"]["real"]
    n_real = int((frames["test"]["origin"] == "real").sum())
    assert real["primary"]["all"]["terms"]["n"] == n_real
    assert payload["behaviour"]["transformer"]["en"]["invariance"]["n"] == 1 + 5  # hand variant + noise
    expected = np.mean([payload["test"]["transformer"][k]["macro_f1_mean"] for k in ("corpus", "real")])
    assert decision.candidate_value == pytest.approx(expected)
    assert decision.candidate_version == str(trained[4])
    # what DVC tracks: the same scalars as MLflow, per-label F1 and reliability tables
    metrics = json.loads(Path(p.evaluation.metrics).read_text())
    assert metrics["transformer"]["test_transformer_gate_mean"] == pytest.approx(expected)
    plots = Path(p.evaluation.plots_dir)
    f1 = pd.read_csv(plots / "per_label_f1.csv")
    assert len(f1) == 14 and {"transformer_corpus", "transformer_real", "baseline_corpus"} <= set(f1.columns)
    reliability = pd.read_csv(plots / "reliability_terms.csv")
    assert len(reliability) and reliability["confidence_bin"].between(0, 1).all()


def test_the_gate_compares_the_configured_metric():
    from evaluation.tracked import gate_metric_value, headline_metrics

    result = {
        "corpus": {"macro_f1_mean": 0.8, "overall": {}, "by_lang": {}},
        "real": {"macro_f1_mean": 0.6, "overall": {}, "by_lang": {}, "primary": {}},
    }
    headline = headline_metrics("transformer", result, {}, {})
    assert gate_metric_value("test_gate_mean", "transformer", headline) == pytest.approx(0.7)
    assert gate_metric_value("real_test_macro_f1_mean", "transformer", headline) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="did you mean test_gate_mean"):
        gate_metric_value("test_gate_maen", "transformer", headline)


def test_every_run_lands_in_the_configured_experiment(trained):
    import mlflow

    from pipeline.tracking import configure

    p, *_ = trained
    experiment_id = configure(p.tracking)
    runs = mlflow.search_runs(experiment_ids=[experiment_id])
    names = set(runs["tags.mlflow.runName"])
    assert {"train-transformer", "train-baseline"} <= names  # the very first run of a fresh store too
    assert mlflow.get_experiment(experiment_id).artifact_location.startswith("file://")


def test_baseline_bundle_scores_files_with_sentence_labels(trained, tmp_path):
    """The baseline reads each sentence's lemmas, made in the comment's language without cleaning the
    sentence again: a sentence that is only a masked phone number keeps its labels (cleaned again, it
    was empty, and the comment lost its sentence labels)."""
    from pipeline.batch import ScoreOptions, score_file
    from pipeline.inference import Tagger
    from pipeline.tables import read_table

    _, _, _, baseline, _, _ = trained
    src = tmp_path / "in.jsonl"
    texts = ["Курьер опоздал. Потом нахамил! +7 912 345-67-89", "Great, thanks"]
    pd.DataFrame({"id": ["1", "2"], "text": texts}).to_json(
        src, orient="records", lines=True, force_ascii=False
    )
    score_file(
        src, tmp_path / "out.jsonl", Tagger(baseline.bundle_dir), "baseline/x", ScoreOptions(), progress=False
    )
    out = read_table(tmp_path / "out.jsonl")
    first = json.loads(out.loc[0, "sentences"])
    assert [s["text"] for s in first] == ["Курьер опоздал.", "Потом нахамил!", "<PHONE>"]
    assert all(s["sentiment"] in {"negative", "neutral", "positive"} for s in first)
    assert out["model_version"].tolist() == ["baseline/x", "baseline/x"]


def test_a_baseline_fitted_on_older_lemmas_still_scores_but_says_to_retrain(trained, tmp_path):
    """Its TF-IDF words were fitted on another lemmatiser's output; silence would hide the drift."""
    import shutil
    import warnings

    from pipeline.bundle import BundleMeta
    from pipeline.cleaning.lemmatizers import LEMMAS_VERSION
    from pipeline.inference import Tagger

    _, _, _, baseline, _, _ = trained
    assert BundleMeta.load(baseline.bundle_dir).info["lemmas_version"] == LEMMAS_VERSION
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a current bundle loads without a word
        Tagger(baseline.bundle_dir)
    old = shutil.copytree(baseline.bundle_dir, tmp_path / "old")
    meta = BundleMeta.load(old)
    del meta.info["lemmas_version"]  # as bundles fitted before the version was recorded
    meta.save(old)
    with pytest.warns(UserWarning, match=r"lemmas of version 1.*retrain it \(cx train --model baseline\)"):
        tagged = Tagger(old).tag(["Курьер опоздал на два часа"])
    assert tagged.loc[0, "sentiment"] in {"negative", "neutral", "positive"}


def test_transformer_sentence_labels_are_each_sentence_tagged_alone(trained, tmp_path, monkeypatch):
    """Sentences are not cleaned a second time (cleaning "<PHONE>" again left nothing, and the comment lost
    its sentence labels): each is read as the cleaner split it, a masked phone number on its own included,
    with the labels the sentence gets when it is tagged alone."""
    from pipeline.batch import ScoreOptions, score_file
    from pipeline.inference import Tagger
    from pipeline.tables import read_table

    _, _, transformer, _, _, _ = trained
    tagger = Tagger(transformer.bundle_dir)
    cleaned_batches = []
    batch = tagger.cleaner.batch
    monkeypatch.setattr(
        tagger.cleaner, "batch", lambda texts, **kw: cleaned_batches.append(texts) or batch(texts, **kw)
    )
    src = tmp_path / "in.jsonl"
    text = "Курьер опоздал на два часа. Потом нахамил! +7 912 345-67-89"
    pd.DataFrame({"id": ["1"], "text": [text]}).to_json(src, orient="records", lines=True, force_ascii=False)
    score_file(src, tmp_path / "out.jsonl", tagger, "t/x", ScoreOptions(), progress=False)
    assert len(cleaned_batches) == 1  # the comments; their sentences are not cleaned again
    sentences = json.loads(read_table(tmp_path / "out.jsonl").loc[0, "sentences"])
    assert [s["text"] for s in sentences] == ["Курьер опоздал на два часа.", "Потом нахамил!", "<PHONE>"]
    alone = tagger.tag_cleaned([CleanResult(text=s["text"]) for s in sentences])
    for i, sentence in enumerate(sentences):
        assert [sentence[h] for h in HEADS] == [alone.at[i, h] for h in HEADS]


FIT_AND_PICKLE = """
import hashlib, pickle, numpy as np, pandas as pd
from pipeline.baseline import TfidfHeads
texts = ["courier late again", "great service thanks", "price too high", "rude staff at the desk"] * 3
frame = pd.DataFrame({"text": texts, "lemmas": texts})
y = {"sentiment": np.array([0, 2, 0, 0] * 3), "terms": np.eye(4, dtype=int)[[0, 1, 2, 3] * 3]}
y["forces"] = y["terms"]
masks = {head: np.ones(12, dtype=bool) for head in y}
model = TfidfHeads(min_df=1, max_iter=50).fit(frame, y, masks)
model.decision_function(frame)  # calibration predicts before the bundle is saved
print(hashlib.sha256(pickle.dumps(model)).hexdigest())
"""


def test_the_same_data_gives_the_same_bundle_bytes(trained):
    """DVC hashes the bundles, so a retrain on the same data must not look like a new model. A pickled
    vectorizer carried the memory address of `None` (different in every process), and the metadata a run
    id; both made identical fits differ."""
    from pipeline.bundle import BundleMeta

    digests = {
        subprocess.run(
            [sys.executable, "-c", FIT_AND_PICKLE], capture_output=True, text=True, check=True
        ).stdout
        for _ in range(2)
    }
    assert len(digests) == 1
    for bundle in trained[2:4]:
        info = BundleMeta.load(bundle.bundle_dir).info
        assert "registered_version" in info and not any("run" in key for key in info)
