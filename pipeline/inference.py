"""Tag comments with a trained bundle: clean -> logits -> calibrated probabilities -> labels.

A bundle is a folder with `cx_model.json` (kind, labels, calibration, thresholds) and the weights:
`encoder/` + `heads.safetensors` for the transformer, `baseline.joblib` for the TF-IDF baseline.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from pipeline.cleaning.cleaner import Cleaner, CleanResult
from pipeline.decode import decode, probabilities
from pipeline.labels import FORCES, SENTIMENTS, TERMS
from pipeline.windows import pool_windows, sentence_windows

META_FILE = "cx_model.json"
CLEANING_FILE = "cleaning.yaml"  # the cleaning + langid params the model was trained with
BASELINE_FILE = "baseline.joblib"
TRANSFORMER, BASELINE = "transformer", "baseline"


@dataclass
class BundleMeta:
    kind: str
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

    def save(self, bundle_dir: Path) -> None:
        (bundle_dir / META_FILE).write_text(
            json.dumps(asdict(self), indent=2, ensure_ascii=False), encoding="utf-8"
        )

    @classmethod
    def load(cls, bundle_dir: Path) -> BundleMeta:
        path = Path(bundle_dir) / META_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{bundle_dir}: not a cx-terms model bundle (no {META_FILE})")
        return cls(**json.loads(path.read_text(encoding="utf-8")))

    @property
    def needs_lemmas(self) -> bool:
        return self.kind == BASELINE


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
        out = {
            name: np.zeros((len(texts), n), dtype=np.float32)
            for name, n in (("sentiment", len(SENTIMENTS)), ("terms", len(TERMS)), ("forces", len(FORCES)))
        }
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
        self.cleaner = cleaner or Cleaner(load_cleaning_params(self.bundle_dir))
        scorer_cls = TransformerScorer if self.meta.kind == TRANSFORMER else BaselineScorer
        self.scorer = scorer_cls(self.bundle_dir, self.meta)

    def probabilities(self, texts: list[str], lemmas: list[str] | None = None) -> dict[str, np.ndarray]:
        return probabilities(self.scorer.logits(texts, lemmas), self.meta.temperature)

    def tag_cleaned(self, cleaned: list[CleanResult]) -> pd.DataFrame:
        """Labels for already-cleaned comments (all must be ok)."""
        texts = [c.text for c in cleaned]
        lemmas = [" ".join(c.lemmas or []) for c in cleaned] if self.meta.needs_lemmas else None
        frame = decode(self.probabilities(texts, lemmas), self.meta.thresholds)
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


def save_cleaning_params(bundle_dir: Path, params: dict[str, Any]) -> None:
    """A bundle carries its cleaning config, so it tags the same way anywhere (no params.yaml needed)."""
    cfg = {"cleaning": params["cleaning"], "langid": params["langid"]}
    (bundle_dir / CLEANING_FILE).write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def load_cleaning_params(bundle_dir: Path) -> dict[str, Any] | None:
    path = bundle_dir / CLEANING_FILE
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.is_file() else None


def decode_empty() -> pd.DataFrame:
    empty = {k: np.zeros((0, n)) for k, n in (("sentiment", 3), ("terms", 5), ("forces", 6))}
    frame = decode(empty, {"terms": np.full(5, 0.5), "forces": np.full(6, 0.5)})
    frame.insert(0, "lang", [])
    return frame
