"""`cx export`: a trained transformer bundle as one int8 ONNX graph that onnxruntime runs on any CPU.

The network (encoder, mean pooling, the three heads) is exported with `torch.onnx` at dynamic batch and
sequence sizes, its graph fused by onnxruntime's transformer optimiser (skip layer norm, bias GELU) and
its weights stored as int8 (params `export`): dynamic quantisation, int8 weights per output channel and
int8 activations scaled per batch at run time, so no calibration data is needed. The input of each
feed-forward output projection (after GELU) carries outlier activations, and one scale per tensor cannot
hold them: quantised everywhere, the fine-tuned e5 encoder lost 1.7 points of real-text TERMS macro-F1.
So the output projections of the first `fp32_layers` layers stay fp32 (measured on text as written: every
head within 0.73 points on both test splits; with the canonical input and batches of 16, real-text TERMS
moves by about 1-2 points, and keeping all twelve fp32 does not bring it under 1: README "Export for CPU
scoring"); the rest, and the embedding table, are int8. Activations are scaled per batch, so a comment's
int8 probabilities move slightly with its batch-mates; the torch backend's do not.
onnxruntime's block-wise `MatMulNBits` was as accurate but no faster than fp32 on this CPU.

The exported bundle is a folder of its own: the source bundle's metadata (label order, temperatures,
thresholds), cleaning config and tokenizer, plus `model.onnx` and `export.json` (source weights,
quantisation, opset, versions). It has no torch weights: a scoring service needs neither torch nor the
170 MB checkpoint.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from pipeline.bundle import (
    CLEANING_FILE,
    EMBEDDING,
    ENCODER_DIR,
    EXPORT_FILE,
    HEADS_FILE,
    META_FILE,
    ONNX_FILE,
    BundleError,
    BundleMeta,
    ModelKind,
)
from pipeline.labels import HEADS
from pipeline.settings import Export
from pipeline.tables import file_sha256

OPSET = 17
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "config.json")


def export_bundle(bundle_dir: Path, out_dir: Path, cfg: Export) -> Path:
    """Export the torch bundle `bundle_dir` into the exported bundle `out_dir` (replaced if present)."""
    meta = BundleMeta.load(bundle_dir)
    if meta.kind != ModelKind.TRANSFORMER or not (bundle_dir / HEADS_FILE).is_file():
        raise BundleError(f"{bundle_dir}: only a trained transformer bundle (with {HEADS_FILE}) exports")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        graph = _export_graph(bundle_dir, meta, work / "network.onnx")
        graph = _optimise(graph, bundle_dir, work / "optimised.onnx")
        if cfg.weights == "int8":
            graph = _int8(graph, work / "int8.onnx", cfg)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        (out_dir / ENCODER_DIR).mkdir(parents=True)
        shutil.copyfile(graph, out_dir / ONNX_FILE)
    for name in TOKENIZER_FILES:
        if (bundle_dir / ENCODER_DIR / name).is_file():
            shutil.copyfile(bundle_dir / ENCODER_DIR / name, out_dir / ENCODER_DIR / name)
    for name in (META_FILE, CLEANING_FILE):
        if (bundle_dir / name).is_file():
            shutil.copyfile(bundle_dir / name, out_dir / name)
    _write_record(bundle_dir, out_dir, cfg)
    return out_dir


def _export_graph(bundle_dir: Path, meta: BundleMeta, path: Path) -> Path:
    import torch
    from transformers import AutoTokenizer

    from pipeline.model import MultiTaskModel

    class Logits(torch.nn.Module):
        """The network with a tuple of outputs: the logits in the order of `HEADS`, then the embedding."""

        def __init__(self, model: MultiTaskModel) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, ...]:
            output = self.model(input_ids, attention_mask)
            heads = output.as_dict()
            return (*(heads[name] for name in HEADS), output.embedding)

    tokenizer = AutoTokenizer.from_pretrained(bundle_dir / ENCODER_DIR)
    sample = tokenizer(
        [meta.prefix + "the courier was late", meta.prefix + "ok"], padding=True, return_tensors="pt"
    )
    axes = {0: "batch", 1: "tokens"}
    torch.onnx.export(
        Logits(MultiTaskModel.load(bundle_dir)).eval(),
        (sample["input_ids"], sample["attention_mask"]),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=[*HEADS, EMBEDDING],
        dynamic_axes={"input_ids": axes, "attention_mask": axes}
        | {name: {0: "batch"} for name in [*HEADS, EMBEDDING]},
        opset_version=OPSET,
        dynamo=False,
    )
    return path


def _optimise(graph: Path, bundle_dir: Path, path: Path) -> Path:
    """onnxruntime's transformer fusions (attention, skip layer norm, GELU), offline, for CPU."""
    from onnxruntime.transformers.optimizer import optimize_model

    config = json.loads((bundle_dir / ENCODER_DIR / "config.json").read_text(encoding="utf-8"))
    optimised = optimize_model(
        str(graph),
        model_type="bert",
        num_heads=config["num_attention_heads"],
        hidden_size=config["hidden_size"],
        opt_level=1,
    )
    optimised.save_model_to_file(str(path))
    return path


def _int8(graph: Path, path: Path, cfg: Export) -> Path:
    import onnx
    from onnx import TensorProto
    from onnxruntime.quantization import QuantType, quantize_dynamic

    kept = [
        node.name
        for node in onnx.load(str(graph), load_external_data=False).graph.node
        if node.op_type == "MatMul"
        and any(f"/layer.{i}/output/dense/" in node.name for i in range(cfg.fp32_layers))
    ]
    quantize_dynamic(
        str(graph),
        str(path),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gather"],
        per_channel=True,
        nodes_to_exclude=kept,
        extra_options={
            "MatMulConstBOnly": True,  # weights only; attention's activation products stay fp32
            # the fused operators (com.microsoft) have no shape inference: their outputs are float
            "DefaultTensorType": TensorProto.FLOAT,
        },
    )
    return path


def _write_record(bundle_dir: Path, out_dir: Path, cfg: Export) -> None:
    import onnxruntime
    import torch

    weights = [*sorted((bundle_dir / ENCODER_DIR).glob("*.safetensors")), bundle_dir / HEADS_FILE]
    record = {
        "source_bundle": str(bundle_dir),
        "source_weights_sha256": {str(p.relative_to(bundle_dir)): file_sha256(p) for p in weights},
        "export": cfg.model_dump(mode="json", exclude={"out_dir"}),
        "opset": OPSET,
        "torch": torch.__version__,
        "onnxruntime": onnxruntime.__version__,
        "size_bytes": (out_dir / ONNX_FILE).stat().st_size,
    }
    (out_dir / EXPORT_FILE).write_text(json.dumps(record, indent=2), encoding="utf-8")
