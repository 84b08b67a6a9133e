"""Refitting a view releases the old one: 100 refits on a 20k-row engine stay within 40 MB."""

from __future__ import annotations

import gc

import numpy as np
import psutil
import torch
from _views_helpers import make_head

from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.source import ArraySource

N, D = 20_000, 384


def _default_shaped_weights(rank: int = 32, alpha: float = 0.7) -> torch.Tensor:
    """W = M^(1/2) with M = a² RᵀR + (1-a)² I, the default family's form: its view is held
    in the low-rank form (A x and a norm per row)."""
    R = np.random.default_rng(0).standard_normal((rank, D)) / np.sqrt(D)
    lam, V = np.linalg.eigh(alpha**2 * R.T @ R + (1 - alpha) ** 2 * np.eye(D))
    return torch.from_numpy((V * np.sqrt(lam)) @ V.T).float()


W = _default_shaped_weights()


def _default_shaped(seed: int):
    """A refitted head: a new object each time (what the engine must let go of)."""
    head = make_head(d=D, z=D, seed=seed, name="v")
    with torch.no_grad():
        head.module[0].weight.copy_(W * (1 + seed / 1000))
    return head


def test_100_refits_release_old_views() -> None:
    X = np.random.default_rng(0).standard_normal((N, D)).astype(np.float32)
    engine = ViewEngine(ArraySource([str(i) for i in range(N)], X), {}, device="cpu")
    q = X[0]
    engine.register("v", _default_shaped(0))
    engine.register("dense", make_head(d=D, z=64, family="mlp", seed=0))
    engine.search_by_vector(q, "v", k=5)
    engine.search_by_vector(q, "dense", k=5)
    gc.collect()
    before = psutil.Process().memory_info().rss
    for i in range(1, 101):
        engine.register("v", _default_shaped(i))  # a refit: a new head under the same name
        assert len(engine.search_by_vector(q, "v", k=5)) == 5
        if i % 10 == 0:
            engine.register("dense", make_head(d=D, z=64, family="mlp", seed=i))
            engine.search_by_vector(q, "dense", k=5)
    gc.collect()
    grown = (psutil.Process().memory_info().rss - before) / 2**20
    assert grown <= 40, f"RSS grew by {grown:.0f} MB over 100 refits"
