"""The engine's approximate path: the same hits as the exact search when every cluster is
probed, for every linear form (generic, low-rank, dense), metric and blend; fresh after
updates, deletes and a compaction; exact for filters and non-linear heads."""

from __future__ import annotations

import numpy as np
import pytest
from _views_helpers import make_head
from test_low_rank_views import D, _head, _labelled, _mix_weight

from gst_integrations import ArraySource, ViewEngine
from gst_integrations.core.views.matrices import DenseView, LowRankView

N = 1500


def _corpus(n: int = N, seed: int = 0) -> ArraySource:
    X, y = _labelled(n, seed)
    ids = [f"r{i}" for i in range(n)]
    return ArraySource(ids, X, [f"text {i}" for i in ids], [{"label": int(c)} for c in y])


def _heads() -> dict:
    W = np.random.default_rng(3).standard_normal((6, D)).astype(np.float32)
    return {"mix": _head(_mix_weight()), "dense": _head(W, "dense")}


SPECS = [None, "mix", "dense", {"mix": 0.6, None: 0.4}, {"mix": 0.5, "dense": 0.3, None: 0.2}]


def _engines(metric: str, source=None):
    source = source or _corpus()
    common = dict(device="cpu", metric=metric, max_staleness=0, reconcile_every=1e9)
    exact = ViewEngine(source, _heads(), encoder=None, ann="off", **common)
    approx = ViewEngine(source, _heads(), encoder=None, ann="on", ann_probe_share=1.0, **common)
    return source, exact, approx


def _same(a, b) -> None:
    assert [h.id for h in a] == [h.id for h in b]
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_probing_every_cluster_gives_the_exact_hits(metric):
    source, exact, approx = _engines(metric)
    queries, _ = _labelled(12, seed=9)
    approx.search_by_vector(queries[0], None, k=1)  # builds the index
    table = approx._rows.table
    assert table.ann is not None and len(table.ann) == N
    calls = []
    search = table.ann.search
    table.ann.search = lambda *a, **kw: calls.append(1) or search(*a, **kw)
    for view in SPECS:
        for q in queries:
            _same(approx.search_by_vector(q, view, k=10), exact.search_by_vector(q, view, k=10))
    assert len(calls) == len(SPECS) * len(queries)  # every search was answered by the index
    assert isinstance(table.views["mix"], LowRankView) and isinstance(
        table.views["dense"], DenseView
    )
    assert approx.memory()["approximate index"] > 0


def test_the_index_follows_updates_deletes_and_a_compaction():
    source, exact, approx = _engines("cosine")
    q = _labelled(1, seed=5)[0][0]
    approx.search_by_vector(q, "mix", k=5)  # builds the index
    source.upsert(["r7"], q[None, :], ["now the query itself"], [{"label": 0}])
    source.delete([f"r{i}" for i in range(100, 600)])  # a third: the rows are compacted
    for engine in (exact, approx):
        engine.refresh()
    hits = approx.search_by_vector(q, "mix", k=10)
    assert hits[0].id == "r7" and hits[0].document == "now the query itself"
    assert not {h.id for h in hits} & {f"r{i}" for i in range(100, 600)}
    for view in SPECS:
        _same(approx.search_by_vector(q, view, k=10), exact.search_by_vector(q, view, k=10))
    assert len(approx._rows.table.ann) == N - 500


def test_filters_and_non_linear_heads_are_searched_exactly():
    source, exact, approx = _engines("cosine")
    mlp = make_head(d=D, z=8, family="mlp", seed=1)
    exact.register("mlp", mlp)
    approx.register("mlp", mlp)
    q = _labelled(1, seed=6)[0][0]
    _same(approx.search_by_vector(q, "mlp", k=10), exact.search_by_vector(q, "mlp", k=10))
    where = {"label": 2}
    got = approx.search_by_vector(q, "mix", k=10, where=where)
    assert {h.metadata["label"] for h in got} == {2}
    _same(got, exact.search_by_vector(q, "mix", k=10, where=where))


def test_auto_keeps_small_stores_exact():
    engine = ViewEngine(_corpus(), _heads(), encoder=None, device="cpu", ann_min_rows=10_000)
    engine.search_by_vector(_labelled(1, seed=7)[0][0], "mix", k=3)
    assert engine._rows.table.ann is None
    small = ViewEngine(_corpus(), _heads(), encoder=None, device="cpu", ann_min_rows=1000)
    small.search_by_vector(_labelled(1, seed=7)[0][0], "mix", k=3)
    assert small._rows.table.ann is not None
