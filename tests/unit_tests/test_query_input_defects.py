"""Query inputs that used to fail deep inside: a lone surrogate, and an absurd k."""

from __future__ import annotations

import numpy as np
import pytest
from _views_helpers import make_head, unit_rows

from gst_integrations.core.encoders import CallableEncoder
from gst_integrations.core.errors import GSTError, InvalidTextError
from gst_integrations.core.search.query_side import QuerySideSearcher, array_search_base
from gst_integrations.core.validation import MAX_K
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.source import ArraySource

D = 16


def _encode(texts: list[str]) -> np.ndarray:
    return np.stack([unit_rows(1, D, seed=len(t))[0] for t in texts])


@pytest.fixture()
def engine():
    X = unit_rows(50, D)
    src = ArraySource([f"d{i}" for i in range(50)], X, [f"doc {i}" for i in range(50)])
    enc = CallableEncoder(_encode, name="toy")
    return ViewEngine(src, {"v": make_head(d=D)}, encoder=enc, device="cpu"), X


def test_lone_surrogate_in_a_query_is_a_typed_error(engine) -> None:
    eng, _ = engine
    with pytest.raises(InvalidTextError, match="surrogate"):
        eng.search("bad \ud800 query", k=3)
    with pytest.raises(InvalidTextError, match="surrogate"):
        eng.encoder.encode(["fine", "also \udfff bad"])
    assert len(eng.search("fine query", k=3)) == 3


def test_k_beyond_any_sane_bound_is_a_clear_error(engine) -> None:
    eng, X = engine
    ids = [f"d{i}" for i in range(50)]
    qs = QuerySideSearcher(make_head(d=D), array_search_base(ids, X), metric="ip")
    with pytest.raises(GSTError, match="at most"):
        qs.search(X[0], k=10**9)
    with pytest.raises(GSTError, match="at most"):
        eng.search_by_vector(X[0], "v", k=10**9)
    assert len(qs.search(X[0], k=MAX_K)) == 50  # the bound itself is fine: clamped to the store
    assert len(eng.search_by_vector(X[0], "v", k=MAX_K)) == 50


def test_overfetch_cannot_overflow_the_store_request(engine) -> None:
    eng, X = engine
    asked = []

    def base(vec, n):
        asked.append(n)
        return array_search_base([f"d{i}" for i in range(50)], X)(vec, min(n, 50))

    QuerySideSearcher(make_head(d=D), base, metric="ip", overfetch=10**9).search(X[0], k=10)
    assert asked and asked[0] <= 2**31 - 1
