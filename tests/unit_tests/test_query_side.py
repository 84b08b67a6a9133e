"""Query-side path: exact for inner-product views, re-ranked for cosine views."""

from __future__ import annotations

import numpy as np
import pytest
from _views_helpers import make_head, unit_rows

from gst_integrations.core.errors import StoreError
from gst_integrations.core.hits import Candidate
from gst_integrations.core.search.query_side import (
    QuerySideSearcher,
    array_search_base,
    rewrite_query,
)
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.source import ArraySource


def test_rewrite_is_wtw_q():
    head = make_head(d=16, z=8)
    q = unit_rows(1, 16)[0]
    x = unit_rows(1, 16, seed=3)[0]
    r = rewrite_query(head, q)
    W = head.weight
    assert np.isclose(r @ x, (W @ q) @ (W @ x), rtol=1e-4)


def test_ip_path_is_exact_against_materialised_view():
    n, d = 400, 16
    X = unit_rows(n, d)
    ids = [f"d{i}" for i in range(n)]
    head = make_head(d=d, z=8, name="v")
    eng = ViewEngine(ArraySource(ids, X), {"v": head}, device="cpu", metric="ip")
    qs = QuerySideSearcher(head, array_search_base(ids, X), metric="ip")
    for s in range(5):
        q = unit_rows(1, d, seed=100 + s)[0]
        exact = eng.search(q, "v", k=10)
        side = qs.search(q, k=10)
        assert [h.id for h in side] == [h.id for h in exact]
        np.testing.assert_allclose([h.score for h in side], [h.score for h in exact], rtol=1e-4)


def test_cosine_path_reranks_and_recall_grows_with_overfetch():
    n, d = 400, 16
    X = unit_rows(n, d)
    ids = [f"d{i}" for i in range(n)]
    head = make_head(d=d, z=4, name="v")
    eng = ViewEngine(ArraySource(ids, X), {"v": head}, device="cpu", metric="cosine")
    recalls = {}
    for over in (1, 4, 100):
        qs = QuerySideSearcher(head, array_search_base(ids, X), metric="cosine", overfetch=over)
        hit = 0
        for s in range(10):
            q = unit_rows(1, d, seed=200 + s)[0]
            exact = {h.id for h in eng.search(q, "v", k=10)}
            got = qs.search(q, k=10)
            assert all(a.score >= b.score for a, b in zip(got, got[1:], strict=False))
            hit += len(exact & {h.id for h in got})
        recalls[over] = hit / 100
    assert recalls[100] == 1.0  # fetching everything re-ranks exactly
    assert recalls[1] <= recalls[4] <= recalls[100]


@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_candidates_without_vectors_are_refused_whatever_the_metric(metric):
    """An approximate index's own order is not the view's order: never silently keep it."""
    head = make_head(d=16, z=8)
    cands = [Candidate(id=f"c{i}", score=1.0 - i / 10) for i in range(8)]
    qs = QuerySideSearcher(head, lambda v, n: cands[:n], metric=metric, overfetch=2)
    with pytest.raises(StoreError, match="vector_lookup"):
        qs.search(unit_rows(1, 16)[0], k=3)


def test_blend_rewrites_one_query_and_reranks_exactly():
    X = unit_rows(300, 16, seed=2)
    ids = [str(i) for i in range(300)]
    a, b = make_head(d=16, z=8, seed=1, name="a"), make_head(d=16, z=8, seed=2, name="b")
    q = unit_rows(1, 16, seed=9)[0]
    blend = {"a": (a, 0.6), "b": (b, 0.3), None: (None, 0.1)}
    qs = QuerySideSearcher(blend, array_search_base(ids, X), metric="cosine", overfetch=300)

    def cos(M: np.ndarray, v: np.ndarray) -> np.ndarray:
        return (M @ v) / (np.linalg.norm(M, axis=1) * np.linalg.norm(v))

    exact = (
        0.6 * cos(X @ a.weight.T, a.weight @ q)
        + 0.3 * cos(X @ b.weight.T, b.weight @ q)
        + 0.1 * cos(X, q)
    )
    hits = qs.search(q, k=10)  # the over-fetch covers the corpus: this checks the arithmetic
    assert [h.id for h in hits] == [ids[i] for i in np.argsort(-exact)[:10]]
    assert hits[0].score == pytest.approx(float(exact.max()), abs=1e-5)
    assert hits[0].view == "a*0.6+b*0.3+generic*0.1"


def test_non_linear_head_is_refused():
    with pytest.raises(TypeError, match="linear head"):
        QuerySideSearcher(make_head(family="mlp"), lambda v, n: [])
    with pytest.raises(ValueError):
        QuerySideSearcher(make_head(), lambda v, n: [], metric="l2")


def test_query_side_defaults_to_the_inner_product_and_warns_for_cosine(monkeypatch) -> None:
    """Inner-product views let a base index order candidates by the view's own score; cosine
    views cannot be recovered from a base index at scale, and the searcher says so."""
    import warnings

    from gst_integrations.core.search.query_side import DEFAULT_METRIC

    head = make_head(d=16, z=8)
    base = array_search_base(["a"], np.ones((1, head.in_dim), np.float32))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert QuerySideSearcher(head, base).metric == DEFAULT_METRIC == "ip"
    from gst_integrations.core.errors import ApproximateSearchWarning
    from gst_integrations.core.feedback import reset_warnings

    reset_warnings()
    with pytest.warns(ApproximateSearchWarning, match="cosine view on the query-side path"):
        QuerySideSearcher(head, base, metric="cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process
        QuerySideSearcher(head, base, metric="cosine")


@pytest.mark.parametrize("weight", [-0.5, float("nan"), float("inf"), "heavy"])
def test_bad_blend_weights_are_refused_not_dropped(weight) -> None:
    """Used directly, the searcher validates a blend as the engine does."""
    a, b = make_head(d=16, z=8, seed=1, name="a"), make_head(d=16, z=8, seed=2, name="b")
    base = array_search_base(["x"], unit_rows(1, 16))
    with pytest.raises(ValueError, match="blend weight"):
        QuerySideSearcher({"a": (a, 0.5), "b": (b, weight)}, base)
