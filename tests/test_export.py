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
    vectors = Tagger(trained).embeddings(texts)  # the pooled vector the heads read, for `cx themes`
    assert vectors.shape == (len(texts), 32) and abs(fp32_tagger.embeddings(texts) - vectors).max() < 1e-4
    assert Tagger(trained).embeddings([]).shape == (0, 32)
    record = json.loads((int8 / EXPORT_FILE).read_text())
    assert record["export"]["weights"] == "int8" and record["size_bytes"] == (int8 / ONNX_FILE).stat().st_size
    assert record["size_bytes"] < (fp32 / ONNX_FILE).stat().st_size  # real bundle: README "Export…"
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

    store = tmp_store(tmp_path)
    monkeypatch.setenv("CX_PARAMS", str(write_params(params, tmp_path / "params.yaml", store)))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["tracking.uri"])  # the tracked export sets it
    trained, _, _ = bundles
    done = CliRunner().invoke(app, ["export", str(trained), "--out", str(tmp_path / "int8")])
    assert done.exit_code == 0, done.output
    pd.DataFrame({"id": ["a", "b"], "text": ["Курьер опоздал.", "Цената е висока."]}).to_csv(
        tmp_path / "in.csv", index=False
    )
    args = ["score", str(tmp_path / "in.csv"), "--out", str(tmp_path / "out.csv"), "--no-tracking"]
    scored = CliRunner().invoke(app, [*args, "--model", str(tmp_path / "int8")])
    assert scored.exit_code == 0, scored.output
    noted = CliRunner().invoke(
        app, [*args, "--model", str(tmp_path / "int8"), "--backend", "onnx", "--precision", "bf16"]
    )
    assert noted.exit_code == 0 and "applies to the torch backend" in noted.output
    assert len(pd.read_csv(tmp_path / "out.csv")) == 2
    refused = CliRunner().invoke(app, [*args, "--model", str(trained), "--backend", "onnx"])
    assert refused.exit_code == 3 and "cx export" in refused.output
    unknown = CliRunner().invoke(app, [*args, "--model", str(trained), "--precision", "fp16"])
    assert unknown.exit_code == 2 and "use one of auto, bf16, fp32" in unknown.output
    fp32 = CliRunner().invoke(app, [*args, "--model", str(trained), "--precision", "fp32"])
    assert fp32.exit_code == 0, fp32.output
    wrong = CliRunner().invoke(app, ["export", str(tmp_path / "int8"), "--out", str(tmp_path / "again")])
    assert wrong.exit_code == 2 and "only a trained transformer bundle" in wrong.output


def test_the_export_is_logged_and_the_registry_scores_it_by_default(bundles, tmp_path, params, monkeypatch):
    """`cx export` of a registered version tags that version; `models:/...` then resolves to the exported
    bundle under the same version label, except when the torch backend is asked for."""
    import shutil

    import mlflow

    from pipeline.bundle import BundleMeta
    from pipeline.jobs.export import run_export
    from pipeline.pyfunc import log_bundle
    from pipeline.registry import EXPORT_TAG, resolve_model
    from pipeline.settings import with_changes
    from pipeline.tracking import client, configure, tracked_run
    from tests.tiny import tmp_store

    store = tmp_store(tmp_path)
    # MLflow exports the store it is pointed at to the environment: set here, it is undone after the test
    monkeypatch.setenv("MLFLOW_TRACKING_URI", store["tracking.uri"])
    local = with_changes(params, store | {"export.fp32_layers": 1})
    trained = shutil.copytree(bundles[0], tmp_path / "trained")
    configure(local.tracking)
    with tracked_run("train-tiny", "train"):
        version = log_bundle(Tagger(trained), local.model.name, ["Курьер опоздал."]).registered_model_version
    meta = BundleMeta.load(trained)
    meta.info |= {"registered_name": local.model.name, "registered_version": str(version)}
    meta.save(trained)

    run_export(local, trained, tmp_path / "int8", log=lambda _: None)
    tags = client().get_model_version(local.model.name, str(version)).tags
    assert tags[EXPORT_TAG].startswith("models:/")
    ref = f"models:/{local.model.name}/{version}"
    exported, label = resolve_model(ref, local.tracking)
    assert (exported / ONNX_FILE).is_file() and label == f"{local.model.name}/{version}"
    assert isinstance(Tagger(exported).scorer, OnnxScorer) and Tagger(exported).arithmetic == "onnx"
    torch_bundle, _ = resolve_model(ref, local.tracking, backend="torch")
    assert (torch_bundle / HEADS_FILE).is_file() and not (torch_bundle / ONNX_FILE).exists()
    run = mlflow.search_runs(filter_string="tags.stage = 'export'", output_format="list")[0]
    assert run.data.params["export_fp32_layers"] == "1" and run.data.metrics["onnx_size_mb"] > 0


def test_model_input_is_canonical_text():
    """All-lower-case comments get their sentence starts back and a final full stop; text that already
    has capitals, placeholders and trailing symbols is left as written."""
    from pipeline.canonical import canonical

    assert canonical("курьер опоздал. всё промокло") == "Курьер опоздал. Всё промокло."
    assert canonical("<MENTION> the app crashed again") == "<MENTION> The app crashed again."
    assert canonical("Anna at the leeds branch was great") == "Anna at the leeds branch was great."
    assert canonical("Ужасно! 😡") == "Ужасно! 😡"
    assert canonical("see <URL>") == "See <URL>"
    assert canonical("12345") == "12345."
    assert canonical("") == ""
