"""Tag comments with a trained bundle (`pipeline.bundle`): clean -> logits -> calibrated probabilities ->
labels. Probabilities and thresholds leave this module in the scheme's label order, whatever order the
bundle stores."""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import dataclass
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
from pipeline.cleaning.lemmatizers import LEMMAS_VERSION
from pipeline.decode import decode, probabilities
from pipeline.labels import FORCES, HEADS, TERMS
from pipeline.precision import Precision, uses_bf16
from pipeline.windows import pool_windows, sentence_windows

# padded tokens per encoder call (`score.batch_tokens` in params.yaml): texts sorted by length fill a batch
# until its longest text times its size would pass this, so a batch holds ~50 tweets or 8 windows of a long
# review. Measured on 5,000 mixed comments, 2 cores, end to end: torch bf16 203 texts/s at 2048 (179 at
# 1024, 191 at 3072; 115 and 161 at a fixed 16 and 64 texts), int8 120/s (129 at 1024; 99 at 16 texts);
# peak RSS 1.3 GB (bf16) and 0.9 GB (int8), where 64 texts took 1.8 GB. README "Export for CPU scoring".
BATCH_TOKENS = 2048


@dataclass(frozen=True)
class ScorerOptions:
    """How a scorer computes, the same for every kind of scorer (the `Tagger` builds one from its
    arguments). `threads`: the cores to use (default: all this process may use; the torch backend takes
    them from `torch.set_num_threads`, which the caller owns). `precision`: of the torch backend's matrix
    products (`pipeline.precision`); the weights stay fp32."""

    threads: int | None = None
    batch_tokens: int = BATCH_TOKENS
    precision: Precision = "fp32"


class TransformerScorer:
    """Raw logits from the multi-task network (torch), batched by length for CPU speed."""

    def __init__(self, bundle_dir: Path, meta: BundleMeta, options: ScorerOptions = ScorerOptions()) -> None:
        from transformers import AutoTokenizer

        self.meta = meta
        self.threads = options.threads or cpu_count()
        self.batch_tokens = options.batch_tokens
        self.bf16 = uses_bf16(options.precision)
        self.tokenizer = AutoTokenizer.from_pretrained(bundle_dir / ENCODER_DIR)
        if self.tokenizer.pad_token_id is None:  # batches are padded by hand (`_batched`)
            raise BundleError(
                f"{bundle_dir / ENCODER_DIR}: the tokenizer has no pad token; set one and save it"
            )
        config = json.loads((bundle_dir / ENCODER_DIR / "config.json").read_text(encoding="utf-8"))
        self.hidden = int(config["hidden_size"])
        self._load(bundle_dir)

    @property
    def arithmetic(self) -> str:
        """What the encoder computes in, for a run's record (`precision: auto` depends on the CPU)."""
        return f"torch {'bf16' if self.bf16 else 'fp32'}"

    def _load(self, bundle_dir: Path) -> None:
        from pipeline.model import MultiTaskModel

        self.model = MultiTaskModel.load(bundle_dir)

    def _forward(
        self, input_ids: np.ndarray, attention_mask: np.ndarray, names: list[str]
    ) -> dict[str, np.ndarray]:
        import torch

        with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=self.bf16):
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
        if not texts:
            return out
        encoded = self.tokenizer(
            [self.meta.prefix + text for text in texts], truncation=True, max_length=self.meta.max_length
        )["input_ids"]
        for idx in token_batches([len(ids) for ids in encoded], self.batch_tokens):
            ids = np.full((len(idx), len(encoded[idx[-1]])), self.tokenizer.pad_token_id, dtype=np.int64)
            mask = np.zeros_like(ids)
            for row, i in enumerate(idx):  # right padding, as the tokenizer pads
                ids[row, : len(encoded[i])] = encoded[i]
                mask[row, : len(encoded[i])] = 1
            for name, value in self._forward(ids, mask, names).items():
                out[name][idx] = value
        return out


def token_batches(lengths: list[int], budget: int) -> list[np.ndarray]:
    """Indices of texts sorted by length, cut into batches whose padded size (longest x count) stays within
    `budget` tokens; a text longer than the budget makes a batch of its own."""
    order = np.argsort(lengths, kind="stable")
    batches, start = [], 0
    while start < len(order):
        end = start + 1
        while end < len(order) and lengths[order[end]] * (end + 1 - start) <= budget:
            end += 1
        batches.append(order[start:end])
        start = end
    return batches


class OnnxScorer(TransformerScorer):
    """The same network exported by `cx export` (int8), run by onnxruntime: same tokenisation, windows
    and batching as the torch scorer; torch need not be installed."""

    arithmetic = "onnx"

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


def preferred_backend(backend: str, precision: Precision) -> str:
    """The backend to resolve a registered model with: `auto` is torch where torch runs in bf16 (on such a
    CPU faster than the int8 export and closer to fp32: README "Export for CPU scoring"), else it stays
    `auto` (the export where there is one)."""
    return "torch" if backend == "auto" and uses_bf16(precision) else backend


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
    arithmetic = "baseline"

    def __init__(self, bundle_dir: Path, meta: BundleMeta, options: ScorerOptions = ScorerOptions()) -> None:
        """`options` are unused: the linear models score a whole chunk on one core."""
        import joblib

        fitted_on = meta.info.get("lemmas_version", 1)
        if fitted_on != LEMMAS_VERSION:  # it still scores, but its words no longer match as they were fitted
            warnings.warn(
                f"{bundle_dir}: this baseline was fitted on lemmas of version {fitted_on}, this cx-terms "
                f"lemmatises as version {LEMMAS_VERSION}; its scores drift: retrain it "
                "(cx train --model baseline)",
                stacklevel=3,
            )

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
        batch_tokens: int = BATCH_TOKENS,
        precision: Precision = "fp32",
    ) -> None:
        """`precision` (torch backend): fp32 by default, the reference every evaluation reports; `cx score`
        passes `score.precision` (auto: bf16 on a CPU with native bf16)."""
        self.bundle_dir = Path(bundle_dir)
        self.meta = BundleMeta.load(self.bundle_dir)
        self.order = label_order(self.meta)
        self.thresholds = {
            head: np.asarray(self.meta.thresholds[head])[self.order[head]].tolist()
            for head in ("terms", "forces")
        }
        self.cleaner = cleaner or Cleaner(*load_cleaning_params(self.bundle_dir))
        self.scorer = scorer_class(self.bundle_dir, self.meta, backend)(
            self.bundle_dir, self.meta, ScorerOptions(threads, batch_tokens, precision)
        )

    @property
    def arithmetic(self) -> str:
        """What this tagger's encoder computes in: `onnx`, `torch bf16`, `torch fp32` or `baseline`."""
        return self.scorer.arithmetic

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
