"""Sentence vectors for themes: the multilingual base encoder the tagger was fine-tuned from.

The tagger's own pooled vector (`Tagger.embeddings`) was trained to decide TERMS, Forces and sentiment, so
inside one cell, where those decisions agree, it keeps little of what tells "hold time" from "a callback
that never came": on the test half of the themes check set (`data/themes/`) its adjusted Rand index inside
the cells was 0.09 against 0.56 for the base e5 encoder (`benchmarks/themes_check.py`; README "Themes").
Languages sit apart in e5's space, so each language's mean vector is subtracted before clustering: without
that, the base encoder's groups followed the languages, not the sub-issues (within-cell index 0.0 in the
first measurement, before the clustering was settled).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from pipeline.settings import Themes

TAGGER = "tagger"  # params themes.encoder: the tagger's own pooled vector instead of a base encoder


class SentenceVectors:
    """Load once, embed many: L2-normalised mean-pooled vectors (E5's convention)."""

    def __init__(self, cfg: Themes, bundle: Path | None = None) -> None:
        self.cfg = cfg
        if cfg.encoder == TAGGER:
            from pipeline.inference import Tagger

            if bundle is None:
                raise ValueError("themes.encoder: tagger needs a model bundle (--model)")
            self._tagger = Tagger(bundle)
            return
        from transformers import AutoModel, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(cfg.encoder)
        self._model = AutoModel.from_pretrained(cfg.encoder, add_pooling_layer=False).eval()

    def __call__(self, texts: list[str]) -> np.ndarray:
        if self.cfg.encoder == TAGGER:
            vectors = self._tagger.embeddings(texts)
        else:
            from pipeline.pooling import embed_texts

            order = np.argsort([len(t) for t in texts], kind="stable")  # length-sorted: less padding
            vectors = np.zeros((len(texts), self._model.config.hidden_size), dtype=np.float32)
            for start in range(0, len(texts), self.cfg.batch_size):
                idx = order[start : start + self.cfg.batch_size]
                batch = [texts[i] for i in idx]
                vectors[idx] = embed_texts(
                    self._model, self._tokenizer, batch, self.cfg.prefix, self.cfg.max_length
                ).numpy()
        return normalise(vectors)


def normalise(vectors: np.ndarray) -> np.ndarray:
    return vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)


def language_means(vectors: np.ndarray, langs: np.ndarray) -> dict[str, np.ndarray]:
    return {lang: vectors[langs == lang].mean(axis=0) for lang in np.unique(langs)}


def center_by_language(
    vectors: np.ndarray, langs: np.ndarray, means: dict[str, np.ndarray] | None = None
) -> np.ndarray:
    """Each language's mean vector (of these vectors, or `means`) removed, then re-normalised: what is left
    is what a text says."""
    means = means if means is not None else language_means(vectors, langs)
    out = vectors.copy()
    for lang in np.unique(langs):
        out[langs == lang] -= means[lang]
    return normalise(out)
