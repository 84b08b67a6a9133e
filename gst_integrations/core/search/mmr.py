"""Maximal marginal relevance over a view's hits.

MMR picks, one at a time, the hit that maximises
``λ · relevance − (1 − λ) · max cosine to the hits already picked``. Relevance is the score
the view itself gave (cosine or inner product, a blend's weighted sum), so the first pick
is always the view's best hit and ``λ = 1`` is the plain top k; redundancy is the cosine
between the hits' view vectors.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from gst_integrations.core.hits import SearchHit

__all__ = ["mmr"]


def mmr(hits: Sequence[SearchHit], k: int, lambda_mult: float = 0.5) -> list[SearchHit]:
    """``k`` of ``hits`` (searched ``with_vectors=True``) chosen by maximal marginal relevance."""
    if not 0.0 <= lambda_mult <= 1.0:
        raise ValueError(f"lambda_mult must be between 0 and 1, got {lambda_mult!r}")
    if not hits:
        return []
    if any(h.vector is None for h in hits):
        raise ValueError("MMR needs each hit's view vector: search with with_vectors=True")
    V = np.stack([np.asarray(h.vector, np.float64) for h in hits])
    V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-300)
    relevance = np.array([h.score for h in hits], np.float64)
    picked = [int(np.argmax(relevance))]
    redundancy = V @ V[picked[0]]
    while len(picked) < min(k, len(hits)):
        gain = lambda_mult * relevance - (1.0 - lambda_mult) * redundancy
        gain[picked] = -np.inf
        best = int(np.argmax(gain))
        picked.append(best)
        redundancy = np.maximum(redundancy, V @ V[best])
    return [hits[i] for i in picked]
