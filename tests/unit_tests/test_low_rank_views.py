"""Low-rank views: the default head's view scored from the base matrix, with the same scores."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gst_integrations import ArraySource, Head, ViewEngine
from gst_integrations.core.heads.families import build_head_module
from gst_integrations.core.heads.mix import fit_view_weight
from gst_integrations.core.heads.persistence import FORMAT_VERSION
from gst_integrations.core.views.low_rank import low_rank_metric

D = 32


def _head(W: np.ndarray, name: str = "v") -> Head:
    module = build_head_module("lda", W.shape[1], W.shape[0])
    with torch.no_grad():
        next(module.parameters()).copy_(torch.from_numpy(W))
    card = {
        "format": "gst-head",
        "format_version": FORMAT_VERSION,
        "name": name,
        "instruction": "test",
        "label_names": ["a", "b", "c", "d"],
        "in_dim": W.shape[1],
        "out_dim": W.shape[0],
        "options": {"family": "lda", "hidden_dim": 8},
        "encoder": None,
        "metrics": {},
    }
    return Head(module, card, device="cpu")


def _labelled(n: int = 240, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    X = rng.standard_normal((n, D)) + 1.5 * np.eye(D)[y]
    return (X / np.linalg.norm(X, axis=1, keepdims=True)).astype(np.float32), y


def _mix_weight(seed: int = 0) -> np.ndarray:
    """A view of the lda_mix form: [a D x ; (1-a) x] stored as M^(1/2)."""
    rng = np.random.default_rng(seed)
    Dm = rng.standard_normal((3, D))
    M = 0.49 * Dm.T @ Dm + 0.09 * np.eye(D)
    lam, V = np.linalg.eigh(M)
    return ((V * np.sqrt(lam)) @ V.T).astype(np.float32)


def test_the_metric_form_is_recovered_exactly() -> None:
    W = _mix_weight()
    form = low_rank_metric(W)
    assert form is not None and form.rank == 3
    assert form.c == pytest.approx(0.09, rel=1e-4)
    M = form.c * np.eye(D) + form.A.T.astype(np.float64) @ form.A
    np.testing.assert_allclose(M, W.T.astype(np.float64) @ W, atol=1e-5)


def test_heads_without_the_form_keep_a_full_view() -> None:
    rng = np.random.default_rng(1)
    assert low_rank_metric(rng.standard_normal((D, D))) is None  # full rank, no identity part
    assert low_rank_metric(rng.standard_normal((3, D))) is None  # plain lda: c = 0


def test_a_fitted_default_head_has_the_form() -> None:
    X, y = _labelled()
    W, info = fit_view_weight(X, y)
    assert not info["fell_back_to_generic"]
    form = low_rank_metric(W)
    assert form is not None and form.rank == info["discriminant_dims"]


@pytest.mark.parametrize("metric", ["cosine", "ip"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_low_rank_view_scores_equal_the_materialised_view(metric: str, dtype) -> None:
    X, _ = _labelled(300)
    W = _mix_weight()
    ids = [f"d{i}" for i in range(len(X))]
    engine = ViewEngine(
        ArraySource(ids, X), {"v": _head(W)}, encoder=None, metric=metric, dtype=dtype
    )
    q = X[7]
    hits = engine.search_by_vector(q, "v", k=10)
    Z, qz = X.astype(np.float64) @ W.T, W.astype(np.float64) @ q
    s = Z @ qz
    if metric == "cosine":
        s = s / (np.linalg.norm(Z, axis=1) * np.linalg.norm(qz))
    top = np.argsort(-s)[:10]
    tol = 1e-4 if dtype == torch.float32 else 3e-2
    assert [h.id for h in hits][:3] == [ids[i] for i in top[:3]]
    np.testing.assert_allclose([h.score for h in hits], s[top], atol=tol)
    # The view holds r + 1 numbers a row, not d.
    assert engine.memory()["view v"] < 0.2 * engine.memory()["base matrix"]
    # Its view vectors, when asked for, are the full view.
    got_ids, V = engine.view_matrix("v")
    want = Z if metric == "ip" else Z / np.linalg.norm(Z, axis=1, keepdims=True)
    np.testing.assert_allclose(V[got_ids.index("d3")], want[3], atol=tol * 10)


def test_low_rank_views_follow_updates_and_blends() -> None:
    X, _ = _labelled(200)
    W = _mix_weight()
    ids = [f"d{i}" for i in range(len(X))]
    source = ArraySource(ids, X)
    engine = ViewEngine(source, {"v": _head(W)}, encoder=None, max_staleness=0)
    engine.search_by_vector(X[0], "v", k=3)
    new = -X[5]
    source.upsert(["d0"], new[None, :])
    hits = engine.search_by_vector(new, {"v": 0.5, None: 0.5}, k=1)
    assert hits[0].id == "d0"
    assert hits[0].score == pytest.approx(1.0, abs=1e-4)
