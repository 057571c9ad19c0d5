"""Tag comments with a trained bundle (`pipeline.bundle`): clean -> logits -> calibrated probabilities ->
labels. Probabilities and thresholds leave this module in the scheme's label order, whatever order the
bundle stores."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from pipeline.bundle import BASELINE_FILE, BundleMeta, ModelKind, label_order, load_cleaning_params
from pipeline.cleaning.cleaner import Cleaner, CleanResult
from pipeline.decode import decode, probabilities
from pipeline.labels import FORCES, HEADS, TERMS
from pipeline.windows import pool_windows, sentence_windows


class TransformerScorer:
    """Raw logits from the multi-task network, batched by length for CPU speed."""

    def __init__(self, bundle_dir: Path, meta: BundleMeta, batch_size: int = 64) -> None:
        import torch
        from transformers import AutoTokenizer

        from pipeline.model import ENCODER_DIR, MultiTaskModel

        self.torch = torch
        self.meta = meta
        self.batch_size = batch_size
        self.tokenizer = AutoTokenizer.from_pretrained(bundle_dir / ENCODER_DIR)
        self.model = MultiTaskModel.load(bundle_dir)

    def _count(self, text: str) -> int:
        return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def logits(self, texts: list[str], lemmas: list[str] | None = None) -> dict[str, np.ndarray]:
        """Logits per text; texts longer than `max_length` are scored over sentence windows."""
        budget = self.meta.max_length - 2 - self._count(self.meta.prefix)
        windows, owner, weight = [], [], []
        for i, text in enumerate(texts):
            parts = sentence_windows(text, self._count, budget) if len(text) > budget else [text]
            windows += parts
            owner += [i] * len(parts)
            weight += [len(p) for p in parts]
        raw = self._window_logits(windows)
        if len(windows) == len(texts):
            return raw
        return pool_windows(raw, np.asarray(owner), np.asarray(weight, dtype=np.float32), len(texts))

    def _window_logits(self, texts: list[str]) -> dict[str, np.ndarray]:
        out = {head: np.zeros((len(texts), len(HEADS[head])), dtype=np.float32) for head in HEADS}
        order = np.argsort([len(t) for t in texts], kind="stable")
        with self.torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                idx = order[start : start + self.batch_size]
                batch = self.tokenizer(
                    [self.meta.prefix + texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.meta.max_length,
                    return_tensors="pt",
                )
                heads = self.model(batch["input_ids"], batch["attention_mask"]).as_dict()
                for name, value in heads.items():
                    out[name][idx] = value.float().numpy()
        return out


class BaselineScorer:
    def __init__(self, bundle_dir: Path, meta: BundleMeta) -> None:
        import joblib

        self.model = joblib.load(bundle_dir / BASELINE_FILE)

    def logits(self, texts: list[str], lemmas: list[str] | None = None) -> dict[str, np.ndarray]:
        return self.model.decision_function(pd.DataFrame({"text": texts, "lemmas": lemmas}))


class Tagger:
    """Load once, tag many: the object `cx score`, `cx evaluate` and the MLflow pyfunc all use."""

    def __init__(self, bundle_dir: str | Path, cleaner: Cleaner | None = None) -> None:
        self.bundle_dir = Path(bundle_dir)
        self.meta = BundleMeta.load(self.bundle_dir)
        self.order = label_order(self.meta)
        self.thresholds = {
            head: np.asarray(self.meta.thresholds[head])[self.order[head]].tolist()
            for head in ("terms", "forces")
        }
        self.cleaner = cleaner or Cleaner(*load_cleaning_params(self.bundle_dir))
        scorer_cls = TransformerScorer if self.meta.kind == ModelKind.TRANSFORMER else BaselineScorer
        self.scorer = scorer_cls(self.bundle_dir, self.meta)

    def probabilities(self, texts: list[str], lemmas: list[str] | None = None) -> dict[str, np.ndarray]:
        """Calibrated probabilities per head, columns in the scheme's label order (`pipeline.labels`)."""
        probs = probabilities(self.scorer.logits(texts, lemmas), self.meta.temperature)
        return {head: p[:, self.order[head]] for head, p in probs.items()}

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
