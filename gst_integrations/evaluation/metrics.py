"""The evaluation protocol's metrics, computed on held-out view vectors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.stats import spearmanr
from sklearn.cluster import KMeans
from sklearn.metrics import v_measure_score


def _unit(Z: np.ndarray) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    return Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)


def clustering_v_measure(
    Z: np.ndarray, labels: Sequence[str], seeds: Sequence[int] = (0, 1, 2)
) -> float:
    """KMeans with k = number of classes on unit-normalised vectors; mean V-measure over seeds."""
    k = len(set(labels))
    Zn = _unit(Z)
    scores = [
        v_measure_score(labels, KMeans(n_clusters=k, n_init=10, random_state=s).fit_predict(Zn))
        for s in seeds
    ]
    return float(np.mean(scores))


def sample_triplets(
    facet_a: Sequence[str], facet_b: Sequence[str], n: int = 10_000, seed: int = 0
) -> np.ndarray:
    """(n, 3) index triplets: anchor and positive share A, differ on B; the negative shares
    B with the anchor and differs on A."""
    a = np.asarray(facet_a)
    b = np.asarray(facet_b)
    rng = np.random.default_rng(seed)
    m = len(a)
    same_a = a[:, None] == a[None, :]
    same_b = b[:, None] == b[None, :]
    pos_ok = same_a & ~same_b
    neg_ok = same_b & ~same_a
    anchors = np.flatnonzero(pos_ok.any(1) & neg_ok.any(1))
    if len(anchors) == 0 or m < 3:
        raise ValueError("no valid triplets: facets A and B never vary independently")
    out = np.empty((n, 3), dtype=np.int64)
    pos_lists = [np.flatnonzero(pos_ok[i]) for i in range(m)]
    neg_lists = [np.flatnonzero(neg_ok[i]) for i in range(m)]
    chosen = rng.choice(anchors, size=n)
    for t, i in enumerate(chosen):
        out[t] = (i, rng.choice(pos_lists[i]), rng.choice(neg_lists[i]))
    return out


def triplet_accuracy(Z: np.ndarray, triplets: np.ndarray) -> float:
    """Share of triplets with cos(anchor, positive) > cos(anchor, negative)."""
    Zn = _unit(Z)
    a, p, n = Zn[triplets[:, 0]], Zn[triplets[:, 1]], Zn[triplets[:, 2]]
    return float(np.mean((a * p).sum(1) > (a * n).sum(1)))


def sts_spearman(
    Z: np.ndarray, labels: Sequence[str], n_pairs: int = 10_000, seed: int = 0
) -> float:
    """Spearman of cosine with same/different label, over half same and half different pairs."""
    lab = np.asarray(labels)
    rng = np.random.default_rng(seed)
    m = len(lab)
    same, diff = [], []
    while len(same) < n_pairs // 2 or len(diff) < n_pairs // 2:
        i, j = rng.integers(0, m, size=(2, 4 * n_pairs))
        keep = i != j
        i, j = i[keep], j[keep]
        eq = lab[i] == lab[j]
        same.extend(zip(i[eq], j[eq], strict=True))
        diff.extend(zip(i[~eq], j[~eq], strict=True))
    pairs = np.array(same[: n_pairs // 2] + diff[: n_pairs // 2])
    gold = np.r_[np.ones(n_pairs // 2), np.zeros(n_pairs // 2)]
    Zn = _unit(Z)
    cos = (Zn[pairs[:, 0]] * Zn[pairs[:, 1]]).sum(1)
    return float(spearmanr(cos, gold).statistic)


def top_k_neighbours(Z: np.ndarray, k: int = 10) -> np.ndarray:
    """(n, k) indices of each text's k most cosine-similar other texts, most similar first."""
    Zn = _unit(Z)
    sims = Zn @ Zn.T
    np.fill_diagonal(sims, -np.inf)
    top = np.argpartition(-sims, kth=k - 1, axis=1)[:, :k]
    order = np.argsort(-np.take_along_axis(sims, top, axis=1), axis=1, kind="stable")
    return np.take_along_axis(top, order, axis=1)


def _hits(
    Z: np.ndarray, labels: Sequence[str], k: int, neighbours: np.ndarray | None
) -> np.ndarray:
    """(n, k) booleans: the ranked neighbour shares the query's label."""
    lab = np.asarray(labels)
    top = top_k_neighbours(Z, k) if neighbours is None else neighbours[:, :k]
    return lab[top] == lab[:, None]


def precision_at_k(
    Z: np.ndarray, labels: Sequence[str], k: int = 10, neighbours: np.ndarray | None = None
) -> float:
    """Each held-out text queries the other held-out texts; share of same-label top-k.

    ``neighbours`` (from ``top_k_neighbours``) saves the search when several label sets are
    scored on the same vectors."""
    return float(np.mean(_hits(Z, labels, k, neighbours)))


def precision_at_k_by_class(
    Z: np.ndarray, labels: Sequence[str], k: int = 10, neighbours: np.ndarray | None = None
) -> dict[str, float]:
    """P@k of the queries of each class: where a view helps or hurts."""
    lab = np.asarray(labels)
    per_query = _hits(Z, lab, k, neighbours).mean(1)
    return {str(c): float(per_query[lab == c].mean()) for c in np.unique(lab)}


def ndcg_at_k(
    Z: np.ndarray, labels: Sequence[str], k: int = 10, neighbours: np.ndarray | None = None
) -> float:
    """nDCG@k with binary relevance (same label); the ideal ranks every relevant text first."""
    lab = np.asarray(labels)
    hits = _hits(Z, lab, k, neighbours)
    discount = 1.0 / np.log2(np.arange(2, k + 2))
    _, inverse, counts = np.unique(lab, return_inverse=True, return_counts=True)
    n_relevant = np.minimum(counts[inverse] - 1, k)  # other texts with the query's label
    ideal = np.cumsum(discount)[np.maximum(n_relevant - 1, 0)] * (n_relevant > 0)
    dcg = (hits * discount).sum(1)
    ok = ideal > 0
    return float(np.mean(dcg[ok] / ideal[ok])) if ok.any() else 0.0


def joint_labels(facet_a: Sequence[str], facet_b: Sequence[str]) -> np.ndarray:
    """One label per text for joint retrieval: a neighbour counts only if both facets match."""
    return np.array([f"{a}\x1f{b}" for a, b in zip(facet_a, facet_b, strict=True)])
