"""Embedding-shaped rows at any size: a Gaussian fitted to real embedding vectors.

Random isotropic vectors flatter or mislead every approximate index (they have no
structure to exploit and none to get wrong), so the benchmarks draw rows from the mean and
covariance of real vectors of the base encoder instead, each scaled to unit length as the
encoder's are.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EmbeddingRows"]


class EmbeddingRows:
    """``rows(n, seed)``: n unit rows from N(mean(X), cov(X)) of real vectors ``X`` (m, d)."""

    def __init__(self, X: np.ndarray, source: str = "real vectors") -> None:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) <= X.shape[1]:
            raise ValueError(f"need more real vectors than dimensions, got {X.shape}")
        self.mean = X.mean(0)
        cov = np.cov(X, rowvar=False)
        self.chol = np.linalg.cholesky(cov + 1e-9 * np.trace(cov) / len(cov) * np.eye(len(cov)))
        self.dim = X.shape[1]
        self.source = f"a Gaussian fitted to {len(X):,} {source}"

    def __call__(self, n: int, seed: int, chunk: int = 200_000) -> np.ndarray:
        rng = np.random.default_rng(seed)
        out = np.empty((n, self.dim), np.float32)
        for s in range(0, n, chunk):
            m = min(chunk, n - s)
            Z = self.mean + rng.standard_normal((m, self.dim)) @ self.chol.T
            out[s : s + m] = Z / np.linalg.norm(Z, axis=1, keepdims=True)
        return out
