"""A view that fell back to the generic vectors is dropped from blends, everywhere."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from _views_helpers import make_head, unit_rows

from gst_integrations import ArraySource, Head, ViewEngine
from gst_integrations.core.heads.blend import informative_weights
from gst_integrations.core.search.query_side import QuerySideSearcher, array_search_base
from gst_integrations.evaluation.blends import blend_vectors


def _fallen_back(head: Head) -> Head:
    """The head ``lda_mix`` returns for a barely encoded facet: W = I, card says so."""
    import torch

    with torch.no_grad():
        next(head.module.parameters()).copy_(torch.eye(head.in_dim))
    head.card["view_fit"] = {"alpha": 0.0, "fell_back_to_generic": True}
    return head


def test_weights_drop_fallen_back_views_and_warn_once() -> None:
    fell = {"rating"}.__contains__
    with pytest.warns(UserWarning, match="'rating' fell back"):
        got = informative_weights({"condition": 0.6, "rating": 0.4, None: 0.2}, fell)
    assert got == {"condition": 0.6, None: 0.2}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per view
        assert informative_weights({"condition": 0.5, "rating": 0.5}, fell) == {"condition": 0.5}
    # a single view stays what it is; a blend of fallen-back views only is the generic view
    assert informative_weights({"rating": 1.0}, fell) == {"rating": 1.0}
    assert informative_weights({"rating": 0.5, None: 0.5}, fell) == {None: 0.5}
    with pytest.warns(UserWarning, match="'mood' fell back"):
        assert informative_weights({"rating": 0.5, "mood": 0.5}, lambda n: True) == {None: 1.0}


def test_engine_and_query_side_rank_a_blend_as_its_informative_views() -> None:
    X = unit_rows(120, 16, seed=3)
    ids = [f"d{i}" for i in range(len(X))]
    good = make_head(16, 16, family="linear", seed=1, name="condition")
    bad = _fallen_back(make_head(16, 16, family="linear", seed=2, name="rating"))
    assert bad.fell_back and not good.fell_back
    engine = ViewEngine(ArraySource(ids, X), {"condition": good, "rating": bad}, encoder=None)
    q = X[7]
    with pytest.warns(UserWarning, match="fell back"):
        blended = engine.search_by_vector(q, {"condition": 0.5, "rating": 0.5}, k=10)
    alone = engine.search_by_vector(q, "condition", k=10)
    assert [h.id for h in blended] == [h.id for h in alone]
    assert blended[0].view == "condition"  # hits name what was scored
    # the query side (used by the LangChain and LlamaIndex adapters) drops it itself
    parts = {"condition": (good, 0.5), "rating": (bad, 0.5)}
    searcher = QuerySideSearcher(parts, array_search_base(ids, X), metric="ip", overfetch=20)
    hits = searcher.search(q, 5)
    ip_alone = X @ good.query_matrix() @ q
    assert [h.id for h in hits] == [ids[i] for i in np.argsort(-ip_alone)[:5]]
    assert {h.view for h in hits} == {"condition"}


def test_evaluation_blends_drop_them_as_the_engine_does() -> None:
    rng = np.random.default_rng(0)
    views = {None: rng.normal(size=(30, 8)), "a": rng.normal(size=(30, 4)), "b": None}
    views["b"] = views[None]
    with pytest.warns(UserWarning):
        B = blend_vectors(views, {"a": 0.5, "b": 0.5}, fell_back={"b"})
    A = views["a"] / np.linalg.norm(views["a"], axis=1, keepdims=True)
    np.testing.assert_allclose(B, np.sqrt(0.5) * A)
