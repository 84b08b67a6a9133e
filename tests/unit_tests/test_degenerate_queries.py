"""Degenerate query vectors: zero and non-finite get a clear error, huge ones rank as usual."""

from __future__ import annotations

import numpy as np
import pytest
from _views_helpers import make_head, unit_rows

from gst_integrations.core.errors import InvalidVectorsError
from gst_integrations.core.search.query_side import QuerySideSearcher, array_search_base
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.source import ArraySource

N, D = 300, 16


@pytest.fixture(scope="module")
def setup():
    X = unit_rows(N, D)
    ids = [f"d{i}" for i in range(N)]
    heads = {"lin": make_head(d=D, z=8, name="lin"), "mlp": make_head(d=D, z=8, family="mlp")}
    engines = {
        m: ViewEngine(ArraySource(ids, X), heads, device="cpu", metric=m) for m in ("cosine", "ip")
    }
    return X, ids, heads, engines


VIEWS = [None, "lin", "mlp", {"lin": 0.5, None: 0.5}]


@pytest.mark.parametrize("metric", ["cosine", "ip"])
@pytest.mark.parametrize("view", VIEWS, ids=str)
def test_zero_and_non_finite_queries_are_refused(setup, metric, view) -> None:
    _, _, _, engines = setup
    engine = engines[metric]
    with pytest.raises(InvalidVectorsError, match="zero"):
        engine.search_by_vector(np.zeros(D, np.float32), view, k=5)
    for bad in (np.nan, np.inf, -np.inf):
        q = unit_rows(1, D, seed=1)[0]
        q[3] = bad
        with pytest.raises(InvalidVectorsError, match="NaN or inf"):
            engine.search_by_vector(q, view, k=5)


@pytest.mark.parametrize("metric", ["cosine", "ip"])
@pytest.mark.parametrize("view", VIEWS, ids=str)
@pytest.mark.parametrize("scale", [1e30, 1e-30])
def test_huge_and_tiny_queries_rank_like_the_unit_query(setup, metric, view, scale) -> None:
    _, _, _, engines = setup
    engine = engines[metric]
    q = unit_rows(1, D, seed=7)[0]
    unit = engine.search_by_vector(q, view, k=10)
    scaled = engine.search_by_vector((q.astype(np.float64) * scale), view, k=10)
    assert [h.id for h in scaled] == [h.id for h in unit]
    assert all(np.isfinite(h.score) for h in scaled)
    assert len({round(h.score, 6) for h in scaled}) > 1  # not all ties at 0.0
    if metric == "cosine":
        np.testing.assert_allclose([h.score for h in scaled], [h.score for h in unit], rtol=1e-4)


def test_query_side_path_refuses_zero_and_ranks_huge(setup) -> None:
    X, ids, heads, engines = setup
    qs = QuerySideSearcher(heads["lin"], array_search_base(ids, X), metric="ip")
    with pytest.raises(InvalidVectorsError, match="zero"):
        qs.search(np.zeros(D, np.float32), k=5)
    q = unit_rows(1, D, seed=7)[0]
    unit = qs.search(q, k=10)
    huge = qs.search(q.astype(np.float64) * 1e30, k=10)
    assert [h.id for h in huge] == [h.id for h in unit]
    assert all(np.isfinite(h.score) for h in huge)
