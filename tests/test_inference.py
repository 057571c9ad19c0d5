"""Scoring arithmetic and batching (torch only): bf16 where asked or where the CPU has it, fp32 by default,
and batches cut by a token budget that never change a text's result."""

from __future__ import annotations

import pytest

import pipeline.precision
from pipeline.inference import Tagger, preferred_backend, token_batches
from pipeline.spark.score import executor_arithmetic
from tests.tiny import build_tiny_bundle, sentences


@pytest.fixture(scope="module")
def trained(tmp_path_factory, params):
    return build_tiny_bundle(tmp_path_factory.mktemp("inference") / "bundle", params)


def test_bf16_scoring_stays_close_to_fp32_and_auto_prefers_it_only_where_the_cpu_has_bf16(
    trained, monkeypatch
):
    """fp32 unless asked (what `cx evaluate` reports); `cx score`'s `precision: auto` is bf16 on a CPU with
    native bf16, where the registry's `auto` then resolves to the torch weights instead of the int8 export.
    Label agreement on the trained model: benchmarks/throughput.py."""
    texts = [text for _, text in sentences()] * 2
    reference = Tagger(trained).probabilities(texts)
    assert not Tagger(trained).scorer.bf16 and Tagger(trained, precision="bf16").scorer.bf16
    moved = {
        head: abs(probs - reference[head]).max()
        for head, probs in Tagger(trained, precision="bf16").probabilities(texts).items()
    }
    assert max(moved.values()) < 0.02 and max(moved.values()) > 0, moved  # it did run in bf16
    assert Tagger(trained, precision="bf16").arithmetic == "torch bf16"
    assert Tagger(trained).arithmetic == "torch fp32"
    assert executor_arithmetic(Tagger(trained), "fp32") == "torch fp32"
    assert "executor" in executor_arithmetic(Tagger(trained, precision="auto"), "auto")
    monkeypatch.setattr(pipeline.precision, "native_bf16", lambda: True)
    assert preferred_backend("auto", "auto") == "torch" and preferred_backend("onnx", "auto") == "onnx"
    assert preferred_backend("auto", "fp32") == "auto" and Tagger(trained, precision="auto").scorer.bf16
    assert Tagger(trained, precision="auto").arithmetic == "torch bf16"
    monkeypatch.setattr(pipeline.precision, "native_bf16", lambda: False)
    assert preferred_backend("auto", "auto") == "auto" and not Tagger(trained, precision="auto").scorer.bf16
    assert Tagger(trained, precision="auto").arithmetic == "torch fp32"


def test_batches_hold_a_token_budget_and_never_change_a_text_s_result(trained):
    lengths = [5, 300, 40, 40, 12, 7, 200]
    batches = [list(b) for b in token_batches(lengths, 100)]
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    assert all(len(b) == 1 or max(lengths[i] for i in b) * len(b) <= 100 for b in batches)
    assert [1] in batches and [6] in batches  # longer than the budget: a batch of its own
    assert token_batches([], 100) == []
    texts = [text for _, text in sentences()] * 3
    one_by_one = Tagger(trained, batch_tokens=1).probabilities(texts)
    for head, probs in Tagger(trained, batch_tokens=100_000).probabilities(texts).items():
        assert abs(probs - one_by_one[head]).max() < 1e-5, head
