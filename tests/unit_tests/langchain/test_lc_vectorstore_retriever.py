"""GSTVectorStoreRetriever: the query-side path over LangChain's InMemoryVectorStore."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings, FakeEmbeddings
from langchain_core.runnables import RunnableLambda
from langchain_core.vectorstores import InMemoryVectorStore, VectorStore
from lc_testdata import base_vectors, embeddings, heads, in_memory_store, reviews

from gst_integrations import fit_head
from gst_integrations.core.errors import (
    EncoderMismatchError,
    GSTError,
    StoreError,
    UnknownViewError,
)
from gst_integrations.langchain import GSTVectorStoreRetriever

pytestmark = pytest.mark.filterwarnings("ignore:a cosine view on the query-side path")

QUERY = "the birth control pill gave me terrible mood swings and I stopped it"


@pytest.fixture(scope="module")
def store() -> InMemoryVectorStore:
    return in_memory_store()


@pytest.fixture(scope="module")
def retriever(store: InMemoryVectorStore) -> GSTVectorStoreRetriever:
    return GSTVectorStoreRetriever(
        metric="cosine", vectorstore=store, heads=heads(), view="condition", k=4
    )


def exact_top(view: str, k: int) -> list[str]:
    """Brute-force cosine top-k in the materialised view."""
    head = heads()[view]
    Z = head.transform(base_vectors())
    q = head.transform(np.asarray([embeddings().embed_query(QUERY)]))[0]
    s = Z @ q / (np.linalg.norm(Z, axis=1) * np.linalg.norm(q))
    return [reviews().ids[i] for i in np.argsort(-s, kind="stable")[:k]]


def test_query_side_matches_the_materialised_view(store: InMemoryVectorStore) -> None:
    full = GSTVectorStoreRetriever(
        metric="cosine", vectorstore=store, heads=heads(), k=5, overfetch=100
    )
    for view in ("condition", "rating"):
        docs = full.invoke(QUERY, view=view)
        assert [d.id for d in docs] == exact_top(view, 5)
        assert all(d.metadata["gst_view"] == view for d in docs)
        scores = [d.metadata["gst_score"] for d in docs]
        assert scores == sorted(scores, reverse=True)


def test_views_switch_per_call_and_change_results(retriever: GSTVectorStoreRetriever) -> None:
    cond = retriever.invoke(QUERY, k=6)
    rating = retriever.invoke(QUERY, view="rating", k=6)
    assert [d.id for d in cond] != [d.id for d in rating]
    conditions = [d.metadata["condition"] for d in cond]
    assert conditions.count("Birth Control") >= 4, conditions
    assert {d.metadata["gst_view"] for d in rating} == {"rating"}
    assert retriever.view == "condition"  # per-call view leaves the default alone


def test_views_switch_by_configurable(retriever: GSTVectorStoreRetriever) -> None:
    chain = retriever.as_configurable() | RunnableLambda(lambda docs: [d.id for d in docs])
    by_cfg = chain.invoke(QUERY, config={"configurable": {"view": "rating", "k": 3}})
    assert by_cfg == [d.id for d in retriever.invoke(QUERY, view="rating", k=3)]
    assert chain.invoke(QUERY) == [d.id for d in retriever.invoke(QUERY)]


def test_filter_is_passed_to_the_store(retriever: GSTVectorStoreRetriever) -> None:
    docs = retriever.invoke(
        QUERY, view="rating", k=5, filter=lambda d: d.metadata["condition"] == "Acne"
    )
    assert len(docs) == 5 and {d.metadata["condition"] for d in docs} == {"Acne"}


def test_base_view_uses_the_stores_ranking(retriever: GSTVectorStoreRetriever) -> None:
    docs = retriever.invoke(QUERY, view=None, k=3)
    assert len(docs) == 3 and all(d.metadata["gst_view"] is None for d in docs)


def test_with_view_returns_a_copy(retriever: GSTVectorStoreRetriever) -> None:
    rating = retriever.with_view("rating")
    assert rating.view == "rating" and retriever.view == "condition"
    with pytest.raises(UnknownViewError, match="unknown view 'dosage'"):
        retriever.with_view("dosage")


def test_bad_input(store: InMemoryVectorStore, retriever: GSTVectorStoreRetriever) -> None:
    with pytest.raises(UnknownViewError, match=r"unknown view 'dosage'.*condition.*rating"):
        retriever.invoke(QUERY, view="dosage")
    with pytest.raises(UnknownViewError, match="unknown view"):
        GSTVectorStoreRetriever(metric="cosine", vectorstore=store, heads=heads(), view="dosage")
    for bad in (0, -2):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            retriever.invoke(QUERY, k=bad)
        with pytest.raises(ValueError, match="k must be a positive integer"):
            GSTVectorStoreRetriever(metric="cosine", vectorstore=store, heads=heads(), k=bad)
    with pytest.raises(TypeError, match="unexpected argument"):
        retriever.invoke(QUERY, top_k=3)


def test_head_from_another_encoder_is_refused() -> None:
    other = InMemoryVectorStore(embedding=FakeEmbeddings(size=384))
    other.add_texts(["a text"], ids=["a"])
    r = GSTVectorStoreRetriever(
        metric="cosine", vectorstore=other, heads=heads()
    )  # checked on first use
    with pytest.raises(EncoderMismatchError, match="another base encoder"):
        r.invoke(QUERY, view="condition")
    with pytest.raises(EncoderMismatchError, match="another base encoder"):
        GSTVectorStoreRetriever(metric="cosine", vectorstore=other, heads=heads(), view="condition")


def test_store_of_view_vectors_is_refused() -> None:
    views = InMemoryVectorStore(embedding=embeddings().with_view(heads()["condition"]))
    with pytest.raises(StoreError, match="view vectors, not base vectors"):
        GSTVectorStoreRetriever(metric="cosine", vectorstore=views, heads=heads())


def test_non_linear_head_is_refused(store: InMemoryVectorStore) -> None:
    corpus = reviews()
    mlp = fit_head(
        "condition",
        base_vectors(),
        corpus.facets["condition"],
        family="mlp",
        max_epochs=2,
        encoder=embeddings(),
    )
    r = GSTVectorStoreRetriever(metric="cosine", vectorstore=store, heads={"mlp": mlp, **heads()})
    with pytest.raises(GSTError, match="view 'mlp'.*needs a linear head"):
        r.invoke(QUERY, view="mlp")
    assert len(r.invoke(QUERY, view="condition")) == 4  # only its own view breaks


class OpaqueStore(VectorStore):
    """A minimal VectorStore that returns documents but never their vectors."""

    def __init__(self, inner: InMemoryVectorStore) -> None:
        self.inner = inner

    @property
    def embeddings(self) -> Embeddings:
        return self.inner.embeddings

    def add_texts(self, texts, metadatas=None, **kwargs):  # type: ignore[no-untyped-def]
        return self.inner.add_texts(texts, metadatas, **kwargs)

    def similarity_search(self, query: str, k: int = 4, **kwargs: Any) -> list[Document]:
        return self.inner.similarity_search(query, k, **kwargs)

    def similarity_search_by_vector(
        self, embedding: list[float], k: int = 4, **kwargs: Any
    ) -> list[Document]:
        return self.inner.similarity_search_by_vector(embedding, k, **kwargs)

    @classmethod
    def from_texts(cls, texts, embedding, metadatas=None, **kwargs):  # type: ignore[no-untyped-def]
        return cls(InMemoryVectorStore.from_texts(texts, embedding, metadatas, **kwargs))


def test_store_without_vector_access_falls_back_to_cached_encoder(
    store: InMemoryVectorStore,
) -> None:
    """A store that exposes no vectors: refused, unless re-encoding is asked for (warned)."""
    with pytest.raises(StoreError, match="vector_lookup"):
        GSTVectorStoreRetriever(metric="cosine", vectorstore=OpaqueStore(store), heads=heads())
    r = GSTVectorStoreRetriever(
        metric="cosine",
        vectorstore=OpaqueStore(store),
        heads=heads(),
        k=5,
        overfetch=100,
        vector_lookup="reencode",
    )
    before = embeddings().n_encoded
    with pytest.warns(UserWarning, match="approximate"):
        assert [d.id for d in r.invoke(QUERY, view="condition")] == exact_top("condition", 5)
    assert embeddings().n_encoded == before  # every text was already cached


def test_head_checks_are_not_repeated_per_search(
    store: InMemoryVectorStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """WᵀW (d×d) is checked once per head when its view is first used, not per search."""
    from gst_integrations.core.heads.head import Head

    calls = []
    original = Head.query_matrix
    monkeypatch.setattr(Head, "query_matrix", lambda self: calls.append(1) or original(self))
    r = GSTVectorStoreRetriever(
        metric="cosine", vectorstore=store, heads=heads(), view="condition", k=3
    )
    first = r.invoke(QUERY)
    for _ in range(3):
        assert [d.id for d in r.invoke(QUERY)] == [d.id for d in first]
        r.invoke(QUERY, view="rating")
    assert len(calls) == 2  # condition and rating, once each
