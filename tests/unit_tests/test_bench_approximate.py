"""The benchmarks' approximate-path measurements run end to end at a toy size (plumbing: the
figures themselves come from the benchmark commands, on real and embedding-shaped rows)."""

from __future__ import annotations

import numpy as np

from gst_integrations import ArraySource, ViewEngine, fit_head
from gst_integrations.evaluation.ann_bench import ENGINE_SPECS, engine_figures
from gst_integrations.evaluation.embedding_rows import EmbeddingRows
from gst_integrations.evaluation.store_bench import (
    _approximate_vs_exact,
    _default_shaped_head,
    _linear_head,
)


def _clusters() -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, size=400)
    X = rng.normal(size=(400, 32)) * np.linspace(3.0, 0.5, 32)  # anisotropic, like embeddings
    X[:, -4:] += 1.5 * np.eye(4)[labels]  # the facet lives in low-variance directions
    return X, [str(v) for v in labels]


def _rows(n: int) -> np.ndarray:
    return EmbeddingRows(_clusters()[0], "toy clusters")(n, seed=1)


def test_engine_figures_cover_every_spec() -> None:
    seed, labels = _clusters()
    heads = {
        family: fit_head("Which cluster?", seed, labels, family=family)
        for family in ("lda_mix", "lda")
    }
    assert not any(h.fell_back for h in heads.values())
    X = _rows(3000)
    out = engine_figures(X, heads, X[:5], candidates=(50,), dims=(16,))
    assert [r["spec"] for r in out["results"]] == list(ENGINE_SPECS)
    for r in out["results"]:
        assert 0.0 <= r["worst"] <= r["recall@10"] <= 1.0
        assert r["bytes_per_row"] >= 16 and r["build_s"] >= 0 and r["p50_ms"] > 0
    assert "sketch (approximate search)" in out["memory_per_row"]


def test_store_bench_compares_the_approximate_path_with_the_exact_one() -> None:
    X = np.ascontiguousarray(_rows(2000))
    X = np.pad(X, ((0, 0), (0, 384 - X.shape[1])))  # the store bench's heads are 384-d
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    engine = ViewEngine(
        ArraySource([str(i) for i in range(len(X))], X),
        {"a": _linear_head(1), "b": _default_shaped_head(2)},
        encoder=None,
        ann="on",
    )
    engine.search_by_vector(X[0], "b", k=10)
    out = _approximate_vs_exact(engine, X[:5])
    assert out["used"]
    for label in ("a", "b", "generic", "blend"):
        assert 0.0 <= out[label]["recall@10"] <= 1.0 and out[label]["exact_p50_ms"] > 0
