"""Views whose metric is a multiple of the identity plus a low-rank part.

A linear head ``x -> W x`` scores a view by ``(W x)·(W q) = xᵀ M q`` with ``M = WᵀW``. For the
default head family (``lda_mix``: ``[α D x ; (1-α) x]``, stored as ``M^½``),
``M = c I + AᵀA`` with ``c = (1-α)²`` and ``A`` of rank C-1, a handful of rows. Next to the
base matrix an engine already holds, such a view then needs only ``A x`` and the view norm
per row (r + 1 numbers instead of d), and its scores are

    (W x)·(W q) = c (x·q) + (A x)·(A q),    |W x|² = c |x|² + |A x|²

exactly: the same cosines as the materialised view, at a fraction of its memory, and a view
switch costs an r-dimensional transform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LowRankMetric", "low_rank_metric"]


@dataclass(frozen=True)
class LowRankMetric:
    """``WᵀW = c I + AᵀA``: ``A`` (r, d) float32 and ``c`` > 0."""

    A: np.ndarray
    c: float

    @property
    def rank(self) -> int:
        return int(self.A.shape[0])


def low_rank_metric(
    W: np.ndarray, max_rank_share: float = 0.25, rtol: float = 1e-5
) -> LowRankMetric | None:
    """The ``c I + AᵀA`` form of ``WᵀW`` when it has one with rank(A) <= ``max_rank_share`` d.

    Eigenvalues within ``rtol`` (relative to the largest) of the smallest one count as the
    identity part. Returns None for a metric without a positive identity part (a plain
    ``lda`` head: ``c`` = 0, its view is already narrow) or with too large a remainder.
    """
    W = np.asarray(W, dtype=np.float64)
    d = W.shape[1]
    lam, V = np.linalg.eigh(W.T @ W)  # ascending
    scale = float(max(lam[-1], 0.0))
    c = float(lam[0])
    if scale <= 0.0 or c <= rtol * scale:
        return None
    extra = lam - c
    keep = extra > rtol * scale
    if int(keep.sum()) > max_rank_share * d:
        return None
    A = np.sqrt(extra[keep])[:, None] * V[:, keep].T
    return LowRankMetric(A.astype(np.float32), c)
