"""The engine's approximate path (the int8 sketch, then an exact re-score): the hits of
an exact search when every row is a candidate, for every view form, metric and blend;
fresh after updates, deletes and a compaction; filters honoured; small stores exact."""

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
    return {
        "mix": _head(_mix_weight()),
        "dense": _head(W, "dense"),
        "mlp": make_head(d=D, z=8, family="mlp", seed=1),
    }


SPECS = [
    None,
    "mix",
    "dense",
    {"mix": 0.6, None: 0.4},
    {"mix": 0.5, "dense": 0.3, None: 0.2},
    {"mlp": 0.5, None: 0.5},
]


def _engines(metric: str, candidates: int = N, dims: int = 8):
    source = _corpus()
    common = dict(device="cpu", metric=metric, max_staleness=0, reconcile_every=1e9)
    exact = ViewEngine(source, _heads(), encoder=None, ann="off", **common)
    approx = ViewEngine(
        source, _heads(), encoder=None, ann="on", ann_candidates=candidates, ann_dims=dims, **common
    )
    return source, exact, approx


def _same(a, b) -> None:
    assert [h.id for h in a] == [h.id for h in b]
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], rtol=1e-5, atol=1e-5)


def _count_sketch_searches(engine) -> list:
    calls: list = []
    top = engine._approx.top

    def counted(*args, **kwargs):
        got = top(*args, **kwargs)
        calls.append(got is not None)
        return got

    engine._approx.top = counted
    return calls


@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_every_row_a_candidate_gives_the_exact_hits(metric):
    _, exact, approx = _engines(metric)
    calls = _count_sketch_searches(approx)
    queries, _ = _labelled(8, seed=9)
    for view in SPECS:
        for q in queries:
            _same(approx.search_by_vector(q, view, k=10), exact.search_by_vector(q, view, k=10))
    table = approx._rows.table
    assert table.sketch is not None and table.sketch.dims == 8
    assert isinstance(table.views["mix"], LowRankView) and isinstance(
        table.views["dense"], DenseView
    )
    # the sketch answered every spec that needs q·x (all but the dense view alone)
    assert sum(calls) == (len(SPECS) - 1) * len(queries)
    assert approx.memory()["sketch (approximate search)"] > 0


def test_few_candidates_still_find_the_top_10_of_clustered_rows():
    _, exact, approx = _engines("cosine", candidates=60, dims=24)
    hits = []
    for q in _labelled(20, seed=11)[0]:
        for view in SPECS:
            got = {h.id for h in approx.search_by_vector(q, view, k=10)}
            hits.append(len(got & {h.id for h in exact.search_by_vector(q, view, k=10)}) / 10)
    assert np.mean(hits) >= 0.97


def test_the_sketch_follows_updates_deletes_and_a_compaction():
    source, exact, approx = _engines("cosine")
    q = _labelled(1, seed=5)[0][0]
    approx.search_by_vector(q, "mix", k=5)  # builds the sketch
    source.upsert(["r7"], q[None, :], ["now the query itself"], [{"label": 0}])
    source.upsert([f"new{i}" for i in range(300)], _labelled(300, seed=12)[0])  # grows the rows
    source.delete([f"r{i}" for i in range(100, 700)])  # a third: the rows are compacted
    for engine in (exact, approx):
        engine.refresh()
    hits = approx.search_by_vector(q, "mix", k=10)
    assert hits[0].id == "r7" and hits[0].document == "now the query itself"
    assert not {h.id for h in hits} & {f"r{i}" for i in range(100, 700)}
    for view in SPECS:
        _same(approx.search_by_vector(q, view, k=10), exact.search_by_vector(q, view, k=10))


def test_filters_are_honoured():
    _, exact, approx = _engines("cosine", candidates=50)
    q = _labelled(1, seed=6)[0][0]
    where = {"label": 2}
    got = approx.search_by_vector(q, "mix", k=10, where=where)
    assert {h.metadata["label"] for h in got} == {2}
    _same(got, exact.search_by_vector(q, "mix", k=10, where=where))


def test_auto_keeps_small_stores_exact():
    engine = ViewEngine(_corpus(), _heads(), encoder=None, device="cpu", ann_min_rows=10_000)
    engine.search_by_vector(_labelled(1, seed=7)[0][0], "mix", k=3)
    assert engine._rows.table.sketch is None
    big = ViewEngine(_corpus(), _heads(), encoder=None, device="cpu", ann_min_rows=1000)
    big.search_by_vector(_labelled(1, seed=7)[0][0], "mix", k=3)
    assert big._rows.table.sketch is not None
