"""LangChain's own contracts on our retriever: fields, search_kwargs, MMR, tracing, LCEL.

Real MiniLM vectors of 60 drug reviews in embedded Chroma (``lc_chroma``).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import numpy as np
import pytest
from langchain_chroma import Chroma
from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.runnables import RunnableParallel
from lc_testdata import heads

from gst_integrations.langchain import GSTRetriever

QUERY = "the birth control pill gave me terrible mood swings and I stopped it"


class Recorder(BaseCallbackHandler):
    """What a tracer sees when a retriever starts: its tags and metadata."""

    def __init__(self) -> None:
        self.starts: list[dict[str, Any]] = []

    def on_retriever_start(
        self,
        serialized: dict[str, Any],
        query: str,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        self.starts.append({"tags": tags or [], "metadata": metadata or {}})


@pytest.fixture(scope="module")
def materialised(reviews_store: Chroma) -> GSTRetriever:
    return GSTRetriever.from_chroma(reviews_store, heads(), k=4)


@pytest.fixture(scope="module")
def query_side(reviews_store: Chroma) -> GSTRetriever:
    return GSTRetriever.from_vector_store(reviews_store, heads(), k=4)


def test_factories_take_langchain_retriever_fields(reviews_store: Chroma) -> None:
    seen = Recorder()
    for factory in (GSTRetriever.from_chroma, GSTRetriever.from_vector_store):
        retriever = factory(
            reviews_store, heads(), k=3, tags=["views"], metadata={"team": "search"}
        )
        assert retriever.tags == ["views"] and retriever.metadata == {"team": "search"}
        retriever.invoke(QUERY, config={"callbacks": [seen]}, view="condition")
    for start in seen.starts:
        assert "views" in start["tags"]
        assert start["metadata"]["team"] == "search"


@pytest.mark.parametrize("path", ["materialised", "query_side"])
def test_trace_metadata_names_the_store_encoder_and_call(path: str, request) -> None:
    retriever: GSTRetriever = request.getfixturevalue(path)
    seen = Recorder()
    retriever.invoke(QUERY, config={"callbacks": [seen]}, view="rating", k=2)
    meta = seen.starts[0]["metadata"]
    assert meta["ls_retriever_name"] == "gst"
    assert meta["ls_vector_store_provider"] == "Chroma"
    assert meta["ls_embedding_model"].endswith("all-MiniLM-L6-v2")
    assert meta["gst_view"] == "rating" and meta["gst_k"] == 2


@pytest.mark.parametrize("path", ["materialised", "query_side"])
def test_search_kwargs_are_honoured(path: str, request) -> None:
    base: GSTRetriever = request.getfixturevalue(path)
    retriever = base.model_copy(
        update={"search_kwargs": {"k": 2, "view": "condition", "filter": {"rating": "positive"}}}
    )
    docs = retriever.invoke(QUERY)
    assert len(docs) == 2
    assert {d.metadata["gst_view"] for d in docs} == {"condition"}
    assert {d.metadata["rating"] for d in docs} == {"positive"}
    assert len(retriever.invoke(QUERY, k=3)) == 3  # the call wins over search_kwargs
    with pytest.raises(ValueError, match="unknown search_kwargs"):
        GSTRetriever(engine=base.engine, search_kwargs={"score_threshold": 0.5})


@pytest.mark.parametrize("path", ["materialised", "query_side"])
def test_gst_score_is_set_on_every_path_and_view(path: str, request) -> None:
    retriever: GSTRetriever = request.getfixturevalue(path)
    for view in ("condition", None, {"condition": 0.5, None: 0.5}):
        docs = retriever.invoke(QUERY, view=view)
        scores = [d.metadata["gst_score"] for d in docs]
        assert all(isinstance(s, float) for s in scores)
        assert scores == sorted(scores, reverse=True)


@pytest.mark.parametrize("path", ["materialised", "query_side"])
def test_mmr_on_view_vectors(path: str, request) -> None:
    base: GSTRetriever = request.getfixturevalue(path)
    similar = base.invoke(QUERY, view="condition", k=10)
    mmr = base.model_copy(
        update={"search_type": "mmr", "search_kwargs": {"fetch_k": 10, "lambda_mult": 0.0}}
    )
    diverse = mmr.invoke(QUERY, view="condition", k=4)
    assert len(diverse) == 4
    assert diverse[0].id == similar[0].id  # MMR starts from the most similar document
    assert {d.id for d in diverse} <= {d.id for d in similar}  # picked among fetch_k
    # lambda_mult=0 maximises diversity: the picks are further apart in the view than the
    # plain top 4 (mean pairwise cosine of their view vectors).
    engine = base.engine

    def spread(docs: list[Any]) -> float:
        hits = engine.search(QUERY, view="condition", k=10, with_vectors=True)
        vec = {h.id: h.vector / np.linalg.norm(h.vector) for h in hits}
        V = np.stack([vec[d.id] for d in docs])
        sims = V @ V.T
        return float(sims[np.triu_indices(len(docs), 1)].mean())

    assert spread(diverse) < spread(similar[:4])
    relevant = base.model_copy(
        update={"search_type": "mmr", "search_kwargs": {"fetch_k": 10, "lambda_mult": 1.0}}
    )
    assert [d.id for d in relevant.invoke(QUERY, view="condition", k=4)] == [
        d.id for d in similar[:4]
    ]


def test_views_side_by_side_in_one_lcel_step(materialised: GSTRetriever) -> None:
    both = RunnableParallel(
        condition=materialised.with_view("condition"), rating=materialised.with_view("rating")
    )
    out = both.invoke(QUERY)
    assert {d.metadata["gst_view"] for d in out["condition"]} == {"condition"}
    assert {d.metadata["gst_view"] for d in out["rating"]} == {"rating"}
    chain = materialised.as_configurable()
    docs = chain.invoke(QUERY, config={"configurable": {"view": "rating", "k": 2}})
    assert len(docs) == 2 and docs[0].metadata["gst_view"] == "rating"
