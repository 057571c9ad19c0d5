"""Split one cell's comments into themes: Ward's agglomerative clustering of their (language-centred,
unit) vectors, cut at a fixed merge cost (params `themes.ward_threshold`).

Ward's cost of merging two groups grows with their sizes times the distance of their centres, so two
halves of one homogeneous group (whose centres draw closer as it grows) stay cheap to merge at any size,
while two real sub-issues get dearer to merge the more comments they have: one threshold serves cells of 15
and of 300 comments. Chosen on the dev half of the themes check set (README "Themes"); k-means with the
silhouette split one-issue cells as readily as three-issue ones there.
"""

from __future__ import annotations

import numpy as np
from sklearn.cluster import AgglomerativeClustering


def cluster(vectors: np.ndarray, threshold: float) -> np.ndarray:
    """Theme number per row, 0 for the largest theme."""
    if len(vectors) < 2:
        return np.zeros(len(vectors), dtype=int)
    labels = AgglomerativeClustering(
        n_clusters=None, distance_threshold=threshold, linkage="ward"
    ).fit_predict(vectors)
    sizes = np.bincount(labels)
    rank = np.empty_like(sizes)
    rank[np.argsort(-sizes, kind="stable")] = np.arange(len(sizes))
    return rank[labels]
