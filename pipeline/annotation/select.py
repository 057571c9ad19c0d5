"""Which comments to label next (active learning), stratified by language.

- `uncertain`: the comments whose decisions are most likely wrong (expected errors from the calibrated
  probabilities: least confidence for sentiment, expected Hamming loss for TERMS and Forces), the heads
  combined by rank (or one head targeted).
- `disagree`: the transformer and the TF-IDF baseline decide differently (sentiment, primary TERMS,
  primary Force), ties broken by uncertainty.
- `diverse`: one comment per cluster of LSA embeddings (TF-IDF of character n-grams reduced by truncated
  SVD, so the three languages need no tokeniser), the one nearest its cluster's centre: the batch covers
  the pool instead of piling up near one decision boundary.
- `random`: the control every active-learning claim is measured against.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
from sklearn.cluster import MiniBatchKMeans
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.preprocessing import normalize

from pipeline.decode import decisions

STRATEGIES = ("uncertain", "disagree", "diverse", "random")
LSA_DIMENSIONS = 100
LSA_CHAR_NGRAMS = (2, 4)  # character n-grams: no tokeniser, the same features for ru, bg and en
KMEANS_INITS = 3


def expected_errors(
    probs: dict[str, np.ndarray], thresholds: dict[str, list[float]]
) -> dict[str, np.ndarray]:
    """Per head and comment, the expected share of wrong decisions if the probabilities are calibrated
    (they are: temperature-scaled on dev): sentiment 1 - max p; TERMS/Forces, per label, p when the label
    is left out and 1 - p when it is kept, averaged over the labels (expected Hamming loss)."""
    out = {"sentiment": 1.0 - probs["sentiment"].max(axis=1)}
    for name in ("terms", "forces"):
        p, t = probs[name], np.asarray(thresholds[name])[None, :]
        out[name] = np.where(p >= t, 1.0 - p, p).mean(axis=1)
    return out


def uncertainty(
    probs: dict[str, np.ndarray], thresholds: dict[str, list[float]], head: str = "all"
) -> np.ndarray:
    """Per comment in [0, 1], higher = less sure. One head: its expected errors scaled by the largest in
    the pool; "all": the mean of the heads' percentile ranks, so that each head counts the same whatever
    its scale (sentiment can be wrong once, TERMS on five labels)."""
    errors = expected_errors(probs, thresholds)
    if head != "all":
        top = errors[head].max()
        return errors[head] / top if top > 0 else errors[head]
    ranks = [rankdata(e) / len(e) for e in errors.values()]
    return np.mean(ranks, axis=0)


def disagreement(
    probs_a: dict[str, np.ndarray],
    thresholds_a: dict[str, list[float]],
    probs_b: dict[str, np.ndarray],
    thresholds_b: dict[str, list[float]],
) -> np.ndarray:
    """Number of heads (0-3) on which two models decide differently, plus a tie-break in [0, 0.5]: half
    the two models' mean uncertainty, so it orders comments within a disagreement count, never across."""
    a, b = decisions(probs_a, thresholds_a), decisions(probs_b, thresholds_b)
    differ = sum(np.array(a[head], dtype=object) != np.array(b[head], dtype=object) for head in a)
    mean_uncertainty = (uncertainty(probs_a, thresholds_a) + uncertainty(probs_b, thresholds_b)) / 2
    return differ + mean_uncertainty / 2


def quotas(langs: np.ndarray, n: int) -> dict[str, int]:
    """n (at most the pool) split across languages in proportion to the pool, by largest remainder."""
    values, counts = np.unique(langs, return_counts=True)
    n = min(n, len(langs))
    exact = counts / counts.sum() * n
    share = np.floor(exact).astype(int)
    for i in np.argsort(-(exact - share), kind="stable")[: n - share.sum()]:
        share[i] += 1
    return {str(v): int(s) for v, s in zip(values, share, strict=True)}


def pick_top(scores: np.ndarray, langs: np.ndarray, n: int) -> np.ndarray:
    """Indices of the n highest scores, stratified by language (ties: the earlier row)."""
    chosen = []
    for lang, k in quotas(langs, n).items():
        rows = np.flatnonzero(langs == lang)
        chosen.extend(rows[np.argsort(-scores[rows], kind="stable")[:k]])
    return np.sort(np.array(chosen, dtype=int))


def pick_diverse(texts: list[str], langs: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Per language, k clusters of LSA embeddings and the comment nearest each centre."""
    chosen = []
    for lang, k in quotas(langs, n).items():
        rows = np.flatnonzero(langs == lang)
        if k == 0:
            continue
        if k >= len(rows):
            chosen.extend(rows)
            continue
        tfidf = TfidfVectorizer(analyzer="char_wb", ngram_range=LSA_CHAR_NGRAMS, sublinear_tf=True)
        x = tfidf.fit_transform([texts[i] for i in rows])
        dims = min(LSA_DIMENSIONS, x.shape[1] - 1, len(rows) - 1)
        emb = normalize(TruncatedSVD(dims, random_state=seed).fit_transform(x)) if dims >= 2 else x.toarray()
        km = MiniBatchKMeans(n_clusters=k, random_state=seed, n_init=KMEANS_INITS).fit(emb)
        distance = km.transform(emb)
        taken: set[int] = set()
        for c in range(k):
            for j in np.argsort(distance[:, c], kind="stable"):
                if j not in taken:
                    taken.add(int(j))
                    break
        chosen.extend(rows[sorted(taken)])
    return np.sort(np.array(chosen, dtype=int))


def pick_random(langs: np.ndarray, n: int, seed: int) -> np.ndarray:
    """n comments at random, stratified by language like the other strategies (a fair control)."""
    return pick_top(np.random.default_rng(seed).random(len(langs)), langs, n)
