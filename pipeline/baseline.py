"""The classic baseline: TF-IDF on lemmas (word 1-2-grams) and on text (char 2-5-grams), one logistic
regression per head (one-vs-rest for the multi-label heads).

It is the bar the transformer must clear and the fallback where torch is unwanted. It follows the
scikit-learn estimator contract; `decision_function` returns logits per head so that the same
calibration and decision code serves both model kinds.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier


class TfidfHeads(BaseEstimator):
    def __init__(
        self,
        word_ngrams=(1, 2),
        char_ngrams=(2, 5),
        min_df=2,
        max_features=200_000,
        C=4.0,
        max_iter=2000,
        seed=13,
    ):
        self.word_ngrams = word_ngrams
        self.char_ngrams = char_ngrams
        self.min_df = min_df
        self.max_features = max_features
        self.C = C
        self.max_iter = max_iter
        self.seed = seed

    def _lr(self) -> LogisticRegression:
        return LogisticRegression(
            C=self.C, max_iter=self.max_iter, class_weight="balanced", random_state=self.seed
        )

    def fit(self, frame: pd.DataFrame, targets: dict[str, np.ndarray], masks: dict[str, np.ndarray]):
        """frame: columns `text` and `lemmas`; targets: sentiment ids and multi-hot TERMS/Forces;
        masks: which rows carry each head's labels (partial labels are simply left out of that head)."""
        self.features_ = ColumnTransformer(
            [
                (
                    "lemmas",
                    TfidfVectorizer(
                        ngram_range=tuple(self.word_ngrams),
                        min_df=self.min_df,
                        max_features=self.max_features,
                        sublinear_tf=True,
                    ),
                    "lemmas",
                ),
                (
                    "chars",
                    TfidfVectorizer(
                        analyzer="char_wb",
                        ngram_range=tuple(self.char_ngrams),
                        min_df=self.min_df,
                        max_features=self.max_features,
                        sublinear_tf=True,
                    ),
                    "text",
                ),
            ]
        )
        x = self.features_.fit_transform(frame)
        m = masks["sentiment"]
        self.sentiment_ = self._lr().fit(x[m], targets["sentiment"][m])
        self.terms_ = OneVsRestClassifier(self._lr()).fit(x[masks["terms"]], targets["terms"][masks["terms"]])
        self.forces_ = OneVsRestClassifier(self._lr()).fit(
            x[masks["forces"]], targets["forces"][masks["forces"]]
        )
        return self

    def __getstate__(self) -> dict:
        """scikit-learn caches the memory address of `stop_words` in each vectorizer at every fit and
        transform; pickled, it makes two identical models differ byte for byte (and DVC see a changed
        model). It is only a cache, rebuilt on the next transform, so it is dropped at save time."""
        if hasattr(self, "features_"):
            for vectorizer in self.features_.named_transformers_.values():
                vars(vectorizer).pop("_stop_words_id", None)
        return super().__getstate__()

    def decision_function(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        x = self.features_.transform(frame)
        return {
            "sentiment": self.sentiment_.decision_function(x),
            "terms": self.terms_.decision_function(x),
            "forces": self.forces_.decision_function(x),
        }
