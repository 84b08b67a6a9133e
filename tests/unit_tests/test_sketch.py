"""The int8 base sketch: its estimate of q·x, the score parts of every view form, and the
rows it follows (writes, growth, compaction)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import gst_integrations.core.views.sketch as sk
from gst_integrations.core.views.sketch import (
    BaseSketch,
    ScoreParts,
    SketchConfig,
    coarse_scores,
    exact_scores,
)

D = 32


def _rows(n: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((8, D))[rng.integers(0, 8, n)] + 0.5 * rng.standard_normal((n, D))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return torch.from_numpy(X.astype(np.float32))


def _sketch(X: torch.Tensor, dims: int = D) -> BaseSketch:
    sketch = BaseSketch.fit(X, len(X), SketchConfig(dims=dims))
    sketch.write(np.arange(len(X)), X)
    return sketch


@pytest.mark.parametrize("numba", [True, False], ids=["numba", "torch"])
def test_the_estimate_of_q_dot_x_tracks_the_exact_one(numba, monkeypatch):
    if numba:
        pytest.importorskip("numba")
    else:
        monkeypatch.setattr(sk, "_KERNELS", [None])
    X = _rows(3000)
    q = _rows(1, seed=1)[0]
    full = _sketch(X).dot(q, len(X))
    err = (full - X @ q).abs()  # all dimensions: int8 rounding (and the clipped extremes)
    assert float(torch.quantile(err, 0.999)) < 0.02 and float(err.max()) < 0.06
    half = _sketch(X, dims=D // 2).dot(q, len(X))
    assert np.corrcoef(half, X @ q)[0, 1] > 0.9  # a PCA half: an estimate


def test_coarse_and_exact_scores_follow_the_parts_formula():
    X = _rows(500)
    q = _rows(1, seed=2)[0]
    M = torch.randn(500, 5)
    nu = X.norm(dim=1) + 0.5
    parts = [
        ScoreParts(0.6, 0.3, M, torch.randn(4), nu),  # uses 4 of M's 5 columns
        ScoreParts(0.4, 1.0, nu=X.norm(dim=1)),
    ]
    want = 0.6 * (0.3 * (X @ q) + M[:, :4] @ parts[0].v) / nu + 0.4 * (X @ q) / X.norm(dim=1)
    rows = torch.tensor([3, 7, 400])
    np.testing.assert_allclose(exact_scores(X, parts, q, rows), want[rows], rtol=1e-5)
    coarse = coarse_scores(_sketch(X), parts, q, len(X))
    np.testing.assert_allclose(coarse, want, atol=0.03)
    dense_only = [ScoreParts(1.0, 0.0, M, torch.randn(5))]
    np.testing.assert_allclose(
        coarse_scores(_sketch(X), dense_only, q, 500), M @ dense_only[0].v, rtol=1e-5, atol=1e-5
    )


def test_the_sketch_follows_writes_growth_and_compaction():
    everything = _rows(150)  # new rows from the same corpus
    X, extra = everything[:100], everything[100:]
    sketch = BaseSketch.fit(X, 100, SketchConfig(dims=D))
    sketch.write(np.arange(100), X)
    q = X[0]
    sketch.write(np.arange(300, 350), extra)  # beyond the capacity: grows
    assert len(sketch.codes) >= 350
    np.testing.assert_allclose(sketch.dot(q, 350)[300:], extra @ q, atol=0.02)
    keep = np.r_[np.arange(0, 100, 2), np.arange(300, 350)]
    sketch.take(keep)
    both = torch.cat([X[0:100:2], extra])
    np.testing.assert_allclose(sketch.dot(q, len(keep)), both @ q, atol=0.02)
    sketch.trim(len(keep))
    assert len(sketch.codes) == len(keep) and sketch.nbytes() > len(keep) * D


def test_options_are_validated():
    for bad in ({"dims": 0}, {"candidates": 0}, {"fit_rows": 1}):
        with pytest.raises(ValueError):
            SketchConfig(**bad)
