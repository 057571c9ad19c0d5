"""Tag comments with a trained bundle (`pipeline.bundle`): clean -> logits -> calibrated probabilities ->
labels. Probabilities and thresholds leave this module in the scheme's label order, whatever order the
bundle stores."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.bundle import (
    BASELINE_FILE,
    EMBEDDING,
    ENCODER_DIR,
    HEADS_FILE,
    ONNX_FILE,
    BundleError,
    BundleMeta,
    ModelKind,
    label_order,
    load_cleaning_params,
)
from pipeline.canonical import canonical
from pipeline.cleaning.cleaner import Cleaner, CleanResult
from pipeline.decode import decode, probabilities
from pipeline.labels import FORCES, HEADS, TERMS
from pipeline.windows import pool_windows, sentence_windows

# texts per encoder call: 16 measured fastest on 2 cores (int8 183 texts/s against 138 at 64, torch 126
# against 108: less padding in a batch of long reviews) and it holds `cx score`'s peak RSS at 1.0 GB, where
# 64 took 1.8 GB (onnxruntime keeps the largest batch's activations); `score.batch_size` in params.yaml
BATCH_SIZE = 16


class TransformerScorer:
    """Raw logits from the multi-task network (torch), batched by length for CPU speed."""

    def __init__(
        self,
        bundle_dir: Path,
        meta: BundleMeta,
        threads: int | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        """`threads`: the cores to use (default: all this process may use; the torch backend takes them
        from `torch.set_num_threads`, which the caller owns)."""
        from transformers import AutoTokenizer

        self.meta = meta
        self.threads = threads or cpu_count()
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(bundle_dir / ENCODER_DIR)
        config = json.loads((bundle_dir / ENCODER_DIR / "config.json").read_text(encoding="utf-8"))
        self.hidden = int(config["hidden_size"])
        self._load(bundle_dir)

    def _load(self, bundle_dir: Path) -> None:
        from pipeline.model import MultiTaskModel

        self.model = MultiTaskModel.load(bundle_dir)

    def _forward(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, names: list[str]
    ) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode():
            output = self.model(torch.from_numpy(input_ids), torch.from_numpy(attention_mask))
        values = output.as_dict() | {EMBEDDING: output.embedding}
        return {name: values[name].float().numpy() for name in names}

    def _count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def logits(self, texts: list[str], lemmas: list[str] | None = None) -> dict[str, np.ndarray]:
        """Logits per text (read as `canonical` text); texts longer than `max_length` are scored over
        sentence windows."""
        budget = self.meta.max_length - 2 - self._count(self.meta.prefix)
        windows, owner, weight = [], [], []
        for i, text in enumerate(map(canonical, texts)):
            parts = sentence_windows(text, self._count, budget) if len(text) > budget else [text]
            windows += parts
            owner += [i] * len(parts)
            weight += [len(p) for p in parts]
        raw = self._window_logits(windows)
        if len(windows) == len(texts):
            return raw
        return pool_windows(raw, np.asarray(owner), np.asarray(weight, dtype=np.float32), len(texts))

    def embeddings(self, texts: list[str]) -> np.ndarray:
        """The pooled vector the heads read, one row per (canonical) text cut at `max_length`: for grouping
        short texts such as sentences by meaning (`cx themes`)."""
        return self._batched(list(map(canonical, texts)), [EMBEDDING])[EMBEDDING]

    def _window_logits(self, texts: list[str]) -> dict[str, np.ndarray]:
        return self._batched(texts, list(HEADS))

    def _batched(self, texts: list[str], names: list[str]) -> dict[str, np.ndarray]:
        widths = {name: len(labels) for name, labels in HEADS.items()} | {EMBEDDING: self.hidden}
        out = {name: np.zeros((len(texts), widths[name]), dtype=np.float32) for name in names}
        order = np.argsort([len(t) for t in texts], kind="stable")
        for start in range(0, len(texts), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = self.tokenizer(
                [self.meta.prefix + texts[i] for i in idx],
                padding=True,
                truncation=True,
                max_length=self.meta.max_length,
                return_tensors="np",
            )
            ids, mask = (batch[k].astype(np.int64) for k in ("input_ids", "attention_mask"))
            for name, value in self._forward(ids, mask, names).items():
                out[name][idx] = value
        return out


class OnnxScorer(TransformerScorer):
    """The same network exported by `cx export` (int8), run by onnxruntime: same tokenisation, windows
    and batching as the torch scorer; torch need not be installed."""

    def _load(self, bundle_dir: Path) -> None:
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(
            str(bundle_dir / ONNX_FILE), options, providers=["CPUExecutionProvider"]
        )
        self.output_names = {output.name for output in self.session.get_outputs()}
        self.bundle_dir = bundle_dir

    def _forward(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, names: list[str]
    ) -> dict[str, np.ndarray]:
        missing = set(names) - self.output_names
        if missing:
            raise BundleError(f"{self.bundle_dir}: exported without {sorted(missing)}; export it again")
        outputs = self.session.run(names, {"input_ids": input_ids, "attention_mask": attention_mask})
        return dict(zip(names, outputs, strict=True))


def cpu_count() -> int:
    """The cores this process may use (a container's or a Spark task's share, not the host's)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


BACKENDS = ("auto", "torch", "onnx")


def scorer_class(bundle_dir: Path, meta: BundleMeta, backend: str = "auto") -> type:
    """The baseline's scorer, or the transformer's on `backend`: `auto` runs an exported bundle's ONNX
    graph and a trained bundle's torch weights; `onnx` on a bundle without an export is an error that
    says how to make one."""
    if backend not in BACKENDS:
        raise BundleError(f"unknown backend {backend!r}; use one of {', '.join(BACKENDS)}")
    if meta.kind == ModelKind.BASELINE:
        return BaselineScorer
    exported = (bundle_dir / ONNX_FILE).is_file()
    if backend == "onnx" and not exported:
        raise BundleError(f"{bundle_dir}: no {ONNX_FILE}; make one with `cx export {bundle_dir} --out DIR`")
    if backend == "torch" and not (bundle_dir / HEADS_FILE).is_file():
        raise BundleError(
            f"{bundle_dir}: an exported bundle has no torch weights; score it with the onnx backend"
        )
    return OnnxScorer if exported and backend != "torch" else TransformerScorer


class BaselineScorer:
    def __init__(
        self, bundle_dir: Path, meta: BundleMeta, threads: int | None = None, batch_size: int = BATCH_SIZE
    ) -> None:
        """`threads` and `batch_size` are unused: the linear models score a whole chunk on one core."""
        import joblib

        self.model = joblib.load(bundle_dir / BASELINE_FILE)

    def logits(self, texts: list[str], lemmas: list[str] | None = None) -> dict[str, np.ndarray]:
        return self.model.decision_function(pd.DataFrame({"text": texts, "lemmas": lemmas}))


class Tagger:
    """Load once, tag many: the object `cx score`, `cx evaluate` and the MLflow pyfunc all use."""

    def __init__(
        self,
        bundle_dir: str | Path,
        cleaner: Cleaner | None = None,
        backend: str = "auto",
        threads: int | None = None,
        batch_size: int = BATCH_SIZE,
    ) -> None:
        self.bundle_dir = Path(bundle_dir)
        self.meta = BundleMeta.load(self.bundle_dir)
        self.order = label_order(self.meta)
        self.thresholds = {
            head: np.asarray(self.meta.thresholds[head])[self.order[head]].tolist()
            for head in ("terms", "forces")
        }
        self.cleaner = cleaner or Cleaner(*load_cleaning_params(self.bundle_dir))
        self.scorer = scorer_class(self.bundle_dir, self.meta, backend)(
            self.bundle_dir, self.meta, threads, batch_size
        )

    def probabilities(self, texts: list[str], lemmas: list[str] | None = None) -> dict[str, np.ndarray]:
        """Calibrated probabilities per head, columns in the scheme's label order (`pipeline.labels`)."""
        probs = probabilities(self.scorer.logits(texts, lemmas), self.meta.temperature)
        return {head: p[:, self.order[head]] for head, p in probs.items()}

    def embeddings(self, texts: list[str]) -> np.ndarray:
        """The model's own text vectors (cleaned texts in, one row each); transformer bundles only."""
        if not hasattr(self.scorer, "embeddings"):
            raise BundleError(
                f"{self.bundle_dir}: a {self.meta.kind} bundle has no text vectors; use a transformer"
            )
        return self.scorer.embeddings(texts)

    def tag_cleaned(self, cleaned: list[CleanResult]) -> pd.DataFrame:
        """Labels for already-cleaned comments (all must be ok)."""
        texts = [c.text for c in cleaned]
        lemmas = [" ".join(c.lemmas or []) for c in cleaned] if self.meta.needs_lemmas else None
        frame = decode(self.probabilities(texts, lemmas), self.thresholds)
        frame.insert(0, "lang", [c.lang for c in cleaned])
        return frame

    def tag(self, texts: list[Any]) -> pd.DataFrame:
        """Clean and tag raw texts; rows that cannot be cleaned get empty labels and an `error`."""
        cleaned = self.cleaner.batch(texts, lemmas=self.meta.needs_lemmas)
        ok = [i for i, c in enumerate(cleaned) if c.ok]
        tagged = self.tag_cleaned([cleaned[i] for i in ok]) if ok else decode_empty()
        frame = pd.DataFrame(index=range(len(texts)), columns=tagged.columns)
        if ok:
            frame.loc[ok, :] = tagged.to_numpy()
        frame["error"] = [c.error for c in cleaned]
        return frame


def decode_empty() -> pd.DataFrame:
    empty = {head: np.zeros((0, len(labels))) for head, labels in HEADS.items()}
    frame = decode(empty, {"terms": np.full(len(TERMS), 0.5), "forces": np.full(len(FORCES), 0.5)})
    frame.insert(0, "lang", [])
    return frame
