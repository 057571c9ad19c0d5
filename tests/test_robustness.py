"""Real-text robustness machinery: noise augmentation, sentence windows for long comments, vocabulary
trimming (identical segmentation of known text, smaller matrix) and the primary-label metric."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from pipeline.dataset.augment import augment, perturb
from pipeline.decode import primary_labels
from pipeline.labels import TERMS
from pipeline.metrics import primary_accuracy
from pipeline.windows import pool_windows, sentence_windows


def test_augmentation_is_seeded_touches_the_share_asked_and_keeps_labels():
    frame = pd.DataFrame({"text": [f"The courier was late again, number {i}." for i in range(400)], "y": 1})
    a, b = augment(frame, 0.3, seed=1), augment(frame, 0.3, seed=1)
    changed = (a["text"] != frame["text"]).mean()
    assert a["text"].tolist() == b["text"].tolist() and 0.2 < changed < 0.4
    assert (a["y"] == 1).all() and frame["text"].iloc[0] == "The courier was late again, number 0."


def test_perturbations_look_like_real_text():
    import random

    rng = random.Random(3)
    outputs = [perturb("Waited two hours on hold, nobody answered.", rng) for _ in range(200)]
    assert any(o.startswith("@") for o in outputs) and any("http" in o or "bit.ly" in o for o in outputs)
    assert any(o == o.lower() for o in outputs) and any("#" in o for o in outputs)


def test_sentence_windows_fit_the_budget_and_keep_every_sentence():
    text = " ".join(f"Sentence number {i} says something about the food." for i in range(30))
    count = lambda s: len(s.split())  # noqa: E731 - a word count stands in for the tokenizer
    windows = sentence_windows(text, count, 40)
    assert len(windows) > 1 and all(count(w) <= 40 for w in windows)
    assert " ".join(windows) == text
    assert sentence_windows("Short one.", count, 40) == ["Short one."]
    rant = " ".join(["word"] * 1000)  # no sentence end at all: cut into runs, never truncated
    runs = sentence_windows(rant, count, 100)
    assert len(runs) == 10 and all(count(r) <= 100 for r in runs) and " ".join(runs) == rant


def test_window_pooling_averages_sentiment_and_takes_the_strongest_aspect():
    logits = {
        "sentiment": np.array([[2.0, 0.0, 0.0], [0.0, 0.0, 4.0], [1.0, 1.0, 1.0]], dtype=np.float32),
        "terms": np.array([[5.0, -5, -5, -5, -5], [-5, -5, -5, 3.0, -5], [0.0] * 5], dtype=np.float32),
    }
    pooled = pool_windows(logits, np.array([0, 0, 1]), np.array([1.0, 3.0, 1.0], dtype=np.float32), 2)
    assert np.allclose(pooled["sentiment"][0], [0.5, 0.0, 3.0])
    assert pooled["terms"][0, 0] == 5.0 and pooled["terms"][0, 3] == 3.0
    assert np.allclose(pooled["terms"][1], 0.0)


def test_long_comments_are_scored_over_windows_not_cut(tmp_path, params):
    from pipeline.inference import Tagger
    from tests.tiny import build_tiny_bundle

    tagger = Tagger(build_tiny_bundle(tmp_path / "bundle", params))
    calls = []
    original = tagger.scorer._window_logits
    tagger.scorer._window_logits = lambda texts: calls.append(texts) or original(texts)
    long = " ".join(f"Курьер опоздал на {i} часа, а потом нахамил." for i in range(12))
    logits = tagger.scorer.logits(["Коротко и ясно.", long])
    assert logits["terms"].shape == (2, len(TERMS)) and np.isfinite(logits["sentiment"]).all()
    windows = calls[0]
    assert len(windows) > 2 and windows[0] == "Коротко и ясно."
    assert any("на 11 часа" in w for w in windows)  # the last sentence is read, not cut off


def test_slices_average_macro_f1_over_the_labels_they_have():
    from pipeline.metrics import head_scores

    y_true = np.array([[1, 0, 0, 0, 0], [1, 0, 0, 0, 0], [0, 0, 0, 0, 1]])
    y_pred = np.array([[1, 0, 0, 0, 0], [0, 0, 0, 0, 0], [0, 0, 0, 0, 1]])
    whole, sliced = head_scores("terms", y_true, y_pred), head_scores("terms", y_true, y_pred, True)
    assert whole["macro_f1"] == pytest.approx((2 / 3 + 1) / 5) and sliced["macro_f1"] == pytest.approx(
        (2 / 3 + 1) / 2
    )


def test_primary_labels_follow_cx_score_and_accuracy_skips_rows_without_consensus():
    probs = {"terms": np.array([[0.9, 0.2, 0.1, 0.7, 0.1], [0.1] * 5, [0.3, 0.1, 0.1, 0.1, 0.6]])}
    thresholds = {"terms": [0.5] * 5}
    assert primary_labels(probs["terms"], thresholds["terms"], TERMS) == ["time", "none", "situation"]
    frame = pd.DataFrame({"terms": [["time"], [], None], "forces": [[], [], []]})
    probs["forces"] = np.zeros((3, 6))
    groups = {"all": np.ones(3, dtype=bool)}
    result = primary_accuracy(probs, thresholds | {"forces": [0.5] * 6}, frame, groups)
    assert result["all"]["terms"] == {"accuracy": 1.0, "n": 2}
    assert result["all"]["forces"]["n"] == 3


@pytest.fixture(scope="module")
def unigram_encoder(tmp_path_factory):
    """A tiny BERT over a Unigram (sentencepiece-style) tokenizer trained here, like e5's."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    from tests.tiny import save_tiny_bert

    out = tmp_path_factory.mktemp("unigram")
    corpus = [
        "курьер опоздал на два часа",
        "доставката закъсня",
        "the flight was delayed again",
        "great service thank you",
        "цена слишком высокая",
        "zebra quokka xylophone jazz",
    ] * 20
    tok = Tokenizer(models.Unigram())
    tok.pre_tokenizer = pre_tokenizers.Metaspace()
    trainer = trainers.UnigramTrainer(
        vocab_size=300, special_tokens=["<s>", "<pad>", "</s>", "<unk>"], unk_token="<unk>"
    )
    tok.train_from_iterator(corpus, trainer)
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 2)]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>", unk_token="<unk>"
    )
    return save_tiny_bert(out, fast, pad_token_id=1, hidden=16, layers=1)


def test_trimmed_vocabulary_segments_known_text_identically_with_a_smaller_matrix(unigram_encoder, tmp_path):
    import torch
    from transformers import AutoModel, AutoTokenizer

    from training.vocab import trim_encoder

    known = ["курьер опоздал", "the flight was delayed", "great service"]
    trimmed = trim_encoder(unigram_encoder, known, keep_top=10, cache_dir=tmp_path)
    assert trim_encoder(unigram_encoder, known, keep_top=10, cache_dir=tmp_path) == trimmed  # cached
    full, small = AutoTokenizer.from_pretrained(unigram_encoder), AutoTokenizer.from_pretrained(trimmed)
    assert len(small) < len(full)
    for text in known:
        assert full.tokenize(text) == small.tokenize(text)
    assert small.tokenize("zebra") != [] and small.unk_token_id == 3  # unseen words still spelt out
    assert trim_encoder("xlm-roberta-base", known, 10, tmp_path) == Path(
        "xlm-roberta-base"
    )  # hub name: as is
    a, b = AutoModel.from_pretrained(unigram_encoder), AutoModel.from_pretrained(trimmed)
    x, y = full(known, padding=True, return_tensors="pt"), small(known, padding=True, return_tensors="pt")
    with torch.no_grad():
        assert torch.allclose(a(**x).last_hidden_state, b(**y).last_hidden_state, atol=1e-5)
