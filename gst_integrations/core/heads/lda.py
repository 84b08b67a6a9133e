"""The closed-form `lda` head: shrinkage-LDA discriminant directions plus a small residual."""

from __future__ import annotations

import numpy as np


def fit_lda_weight(
    X: np.ndarray, y: np.ndarray, residual_weight: float = 0.1, residual_dim: int = 16
) -> np.ndarray:
    """W (z, d) of an ``lda`` head: C−1 shrinkage-LDA directions, scaled to unit median norm,
    stacked over ``residual_weight`` × the top ``residual_dim`` principal directions.

    The discriminant part carries the instruction's classes while suppressing what varies
    within them (shrinkage keeps it stable with a few hundred labels); the small residual
    part keeps a view of more than C−1 dimensions, so that cosine ranking within a class
    still follows the generic similarity instead of collapsing to ties.
    """
    from scipy.linalg import eigh
    from sklearn.covariance import ledoit_wolf

    X = np.asarray(X, dtype=np.float64)
    classes, y_idx = np.unique(np.asarray(y), return_inverse=True)
    means = np.stack([X[y_idx == c].mean(0) for c in range(len(classes))])
    within = X - means[y_idx]
    # Ledoit-Wolf shrinks towards a multiple of the identity, so Sw is well conditioned
    # even along directions where the encoder's vectors have no variance at all (W stays
    # finite there, which the query side's WᵀW needs; sklearn's LDA blows up to ~1e30).
    Sw, _ = ledoit_wolf(within, assume_centered=True)
    priors = np.bincount(y_idx) / len(y_idx)
    centred = means - priors @ means
    Sb = (centred * priors[:, None]).T @ centred
    evals, evecs = eigh(Sb, Sw)
    W = evecs[:, np.argsort(evals)[::-1][: len(classes) - 1]].T
    W = W / max(float(np.median(np.linalg.norm(X @ W.T, axis=1))), 1e-12)
    if residual_weight > 0 and residual_dim > 0:
        _, _, Vt = np.linalg.svd(X - X.mean(0), full_matrices=False)
        W = np.vstack([W, residual_weight * Vt[:residual_dim]])
    return W.astype(np.float32)
