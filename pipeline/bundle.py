"""The model bundle: the one contract between training and everything that tags (`cx score`, `cx evaluate`,
the MLflow pyfunc, a Spark UDF).

A bundle is a folder: `cx_model.json` (`BundleMeta`: kind, format version, the label order of each head,
calibration temperatures, per-label thresholds, provenance), `cleaning.yaml` (the cleaning config it was
trained with) and the weights (`encoder/` + `heads.safetensors`, or `baseline.joblib`; an exported bundle
has `model.onnx` and only the tokenizer in `encoder/`). The label order is
read back from the bundle, never assumed: `Tagger` maps the bundle's outputs onto the scheme's order
(`pipeline.labels`), so a bundle written with another order is decoded correctly, and one with labels this
version does not know is refused with a clear error.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from pipeline.labels import FORCES, HEADS, SENTIMENTS, TERMS
from pipeline.settings import Cleaning, LangId

FORMAT_VERSION = 1  # bump when the folder layout or the meta fields change incompatibly
META_FILE = "cx_model.json"
CLEANING_FILE = "cleaning.yaml"
BASELINE_FILE = "baseline.joblib"
ENCODER_DIR = "encoder"  # a Hugging Face encoder folder; its tokenizer serves every transformer backend
HEADS_FILE = "heads.safetensors"
ONNX_FILE = "model.onnx"  # an exported bundle (`cx export`): the whole network as one ONNX graph
EMBEDDING = "embedding"  # the exported graph's output after the heads' logits: the pooled text vector
EXPORT_FILE = "export.json"  # how it was exported: source weights, quantisation, opset, onnxruntime


class ModelKind(StrEnum):
    TRANSFORMER = "transformer"
    BASELINE = "baseline"


class BundleError(ValueError):
    """A folder that is not a bundle this version of cx-terms can read."""


@dataclass
class BundleMeta:
    kind: ModelKind
    temperature: dict[str, float] = field(
        default_factory=lambda: {"sentiment": 1.0, "terms": 1.0, "forces": 1.0}
    )
    thresholds: dict[str, list[float]] = field(
        default_factory=lambda: {"terms": [0.5] * len(TERMS), "forces": [0.5] * len(FORCES)}
    )
    labels: dict[str, list[str]] = field(
        default_factory=lambda: {"sentiment": list(SENTIMENTS), "terms": list(TERMS), "forces": list(FORCES)}
    )
    prefix: str = ""
    max_length: int = 128
    info: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION

    def save(self, bundle_dir: Path) -> None:
        (Path(bundle_dir) / META_FILE).write_text(
            json.dumps(asdict(self), indent=2, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, bundle_dir: str | Path) -> BundleMeta:
        path = Path(bundle_dir) / META_FILE
        if not path.is_file():
            raise BundleError(f"{bundle_dir}: not a cx-terms model bundle (no {META_FILE})")
        data = json.loads(path.read_text(encoding="utf-8"))
        version = data.setdefault("format_version", 1)  # bundles from before versioning are format 1
        if version != FORMAT_VERSION:
            raise BundleError(
                f"{path}: bundle format {version}, this cx-terms reads format {FORMAT_VERSION}; "
                "retrain the model with this version, or install the version that wrote it"
            )
        if data.get("kind") not in set(ModelKind):
            raise BundleError(
                f"{path}: unknown model kind {data.get('kind')!r}; known: {[k.value for k in ModelKind]}"
            )
        meta = cls(**{**data, "kind": ModelKind(data["kind"])})
        label_order(meta)  # refuse unknown labels now, not at the first comment
        return meta

    @property
    def needs_lemmas(self) -> bool:
        return self.kind == ModelKind.BASELINE


def label_order(meta: BundleMeta) -> dict[str, np.ndarray]:
    """Per head, the bundle's output index of each label of the scheme, in the scheme's order."""
    order = {}
    for head, labels in HEADS.items():
        stored = list(meta.labels.get(head, []))
        if sorted(stored) != sorted(labels):
            raise BundleError(
                f"bundle labels of head '{head}' are {stored}; this cx-terms knows {list(labels)}"
            )
        order[head] = np.array([stored.index(label) for label in labels])
    return order


def save_cleaning_params(bundle_dir: Path, cleaning: Cleaning, langid: LangId) -> None:
    """A bundle carries its cleaning config, so it tags the same way anywhere (no params.yaml needed)."""
    cfg = {"cleaning": cleaning.model_dump(mode="json"), "langid": langid.model_dump(mode="json")}
    (Path(bundle_dir) / CLEANING_FILE).write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def load_cleaning_params(bundle_dir: Path) -> tuple[Cleaning, LangId] | tuple[()]:
    """The bundle's cleaning sections, or none (then the cleaner uses the params.yaml in use)."""
    path = Path(bundle_dir) / CLEANING_FILE
    if not path.is_file():
        return ()
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    return Cleaning.model_validate(cfg["cleaning"]), LangId.model_validate(cfg["langid"])
