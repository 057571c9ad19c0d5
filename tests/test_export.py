"""`cx export`: the int8 ONNX bundle tags like the torch bundle it came from, needs no torch weights, and
each backend refuses a bundle it cannot run with a message that says what to do."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from pipeline.bundle import EXPORT_FILE, HEADS_FILE, ONNX_FILE, BundleError
from pipeline.inference import OnnxScorer, Tagger, TransformerScorer
from tests.tiny import build_tiny_bundle, sentences

pytest.importorskip("onnxruntime", reason="the ONNX backend is an optional extra: pip install -e '.[onnx]'")
onnx = pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def bundles(tmp_path_factory, params):
    from pipeline.export import export_bundle

    root = tmp_path_factory.mktemp("export")
    trained = build_tiny_bundle(root / "bundle", params)
    fp32 = params.export.model_copy(update={"weights": "fp32"})
    int8 = params.export.model_copy(update={"fp32_layers": 1})  # the toy has two layers
    return (
        trained,
        export_bundle(trained, root / "int8", int8),
        export_bundle(trained, root / "fp32", fp32),
    )


def test_the_exported_bundle_tags_like_the_torch_bundle(bundles):
    """The fp32 graph is the network itself: same probabilities, same labels. int8 moves probabilities a
    little (bounded here); on a random 32-wide toy network every probability sits near 0.5, where that
    flips labels, so label agreement is measured on the trained model by benchmarks/throughput.py."""
    trained, int8, fp32 = bundles
    texts = [text for _, text in sentences()] * 2  # ru, bg and en comments
    labels = ["sentiment", "terms", "forces"]
    torch_tags = Tagger(trained).tag(texts)
    fp32_tagger, int8_tagger = Tagger(fp32), Tagger(int8)
    assert isinstance(int8_tagger.scorer, OnnxScorer) and not (int8 / HEADS_FILE).exists()
    pd.testing.assert_frame_equal(fp32_tagger.tag(texts)[labels], torch_tags[labels])
    reference = Tagger(trained).probabilities(texts)
    for head, probs in fp32_tagger.probabilities(texts).items():
        assert abs(probs - reference[head]).max() < 1e-5
    for head, probs in int8_tagger.probabilities(texts).items():
        assert abs(probs - reference[head]).max() < 0.02, head
    record = json.loads((int8 / EXPORT_FILE).read_text())
    assert record["export"]["weights"] == "int8" and record["size_bytes"] == (int8 / ONNX_FILE).stat().st_size
    assert record["size_bytes"] < (fp32 / ONNX_FILE).stat().st_size  # the real bundle: README "Speed"
    nodes = {node.name: node.op_type for node in onnx.load(str(int8 / ONNX_FILE)).graph.node}
    ffn_out = "/model/encoder/encoder/layer.{}/output/dense/MatMul"
    assert nodes[ffn_out.format(0)] == "MatMul"  # kept fp32: its input carries outlier activations
    assert ffn_out.format(1) not in nodes  # quantised (a DynamicQuantizeMatMul under another name)


def test_backends_pick_and_refuse_with_a_reason(bundles):
    trained, int8, _ = bundles
    assert isinstance(Tagger(trained).scorer, TransformerScorer)
    assert not isinstance(Tagger(trained).scorer, OnnxScorer)
    with pytest.raises(BundleError, match="cx export"):
        Tagger(trained, backend="onnx")
    with pytest.raises(BundleError, match="onnx backend"):
        Tagger(int8, backend="torch")
    with pytest.raises(BundleError, match="use one of"):
        Tagger(trained, backend="tensorrt")


def test_cx_export_and_cx_score_with_the_onnx_backend(bundles, tmp_path, params, monkeypatch):
    from typer.testing import CliRunner

    from pipeline.cli import app
    from tests.tiny import tmp_store, write_params

    monkeypatch.setenv("CX_PARAMS", str(write_params(params, tmp_path / "params.yaml", tmp_store(tmp_path))))
    trained, _, _ = bundles
    done = CliRunner().invoke(app, ["export", str(trained), "--out", str(tmp_path / "int8")])
    assert done.exit_code == 0, done.output
    pd.DataFrame({"id": ["a", "b"], "text": ["Курьер опоздал.", "Цената е висока."]}).to_csv(
        tmp_path / "in.csv", index=False
    )
    args = ["score", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"), "--no-tracking"]
    scored = CliRunner().invoke(app, [*args, "--model", str(tmp_path / "int8")])
    assert scored.exit_code == 0, scored.output
    assert len(pd.read_csv(tmp_path / "out.csv")) == 2
    refused = CliRunner().invoke(app, [*args, "--model", str(trained), "--backend", "onnx"])
    assert refused.exit_code == 3 and "cx export" in refused.output
    wrong = CliRunner().invoke(app, ["export", str(tmp_path / "int8"), "--out", str(tmp_path / "again")])
    assert wrong.exit_code == 2 and "only a trained transformer bundle" in wrong.output
