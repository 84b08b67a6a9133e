"""lda_mix's common-direction candidate: kept where it pays on the labels, never elsewhere."""

from __future__ import annotations

import numpy as np
import pytest

from gst_integrations.core.heads.mix import ViewFitOptions, _without_common, fit_view_weight
from gst_integrations.core.views.low_rank import low_rank_metric

D = 16


def _anisotropic(shared_axis: bool, n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors with a large common component (axis 0), like a sentence encoder's.

    With ``shared_axis`` the two classes differ along (e0 + e1)/sqrt(2): the discriminant
    leans on the common axis, so uncentred ``D x`` carries a large shared offset. Otherwise
    they differ along e1 only, orthogonal to the common component.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    v = np.zeros(D)
    v[1] = 1.0
    if shared_axis:
        v[0] = 1.0
        v /= np.linalg.norm(v)
    X = rng.normal(size=(n, D)) * 0.35
    X[:, 0] += 2.0
    X += np.where(y == 0, -0.5, 0.5)[:, None] * v
    return X / np.linalg.norm(X, axis=1, keepdims=True), y


def _auc(Z: np.ndarray, y: np.ndarray) -> float:
    """Share of (same-label, other-label) pairs per query ranked the right way, pooled."""
    Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    S = Zn @ Zn.T
    same = y[:, None] == y[None, :]
    np.fill_diagonal(same, False)
    good = [np.mean(S[i, same[i]][:, None] > S[i, ~same[i] & (np.arange(len(y)) != i)])
            for i in range(0, len(y), 7)]
    return float(np.mean(good))


def test_removal_annihilates_the_mean_direction() -> None:
    X, _ = _anisotropic(True)
    Dm = np.random.default_rng(1).normal(size=(3, D))
    Dp = _without_common(Dm, X)
    u = X.mean(0) / np.linalg.norm(X.mean(0))
    np.testing.assert_allclose(Dp @ u, 0.0, atol=1e-10)
    assert np.median(np.linalg.norm(X @ Dp.T, axis=1)) == pytest.approx(1.0)


def test_kept_where_the_discriminant_leans_on_the_common_direction() -> None:
    X, y = _anisotropic(True)
    W, info = fit_view_weight(X, y, seed=0)
    assert info["common_direction_removed"] is True
    assert info["common_removal_gain_z"] >= 2.0
    # it earns its place on held-out texts too, against the same fit without the candidate
    W0, info0 = fit_view_weight(X, y, seed=0, options=ViewFitOptions(try_common_removal=False))
    assert info0["common_direction_removed"] is False
    Xt, yt = _anisotropic(True, seed=1)
    assert _auc(Xt @ W.T, yt) > _auc(Xt @ W0.T, yt)
    # still one linear, bias-free view of the low-rank form the engine keeps small
    form = low_rank_metric(W)
    assert form is not None and form.rank <= 2


def test_not_kept_where_it_does_not_pay() -> None:
    X, y = _anisotropic(False)
    _, info = fit_view_weight(X, y, seed=0)
    assert info["alpha"] > 0
    assert info["common_direction_removed"] is False
