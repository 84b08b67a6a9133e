"""GSTRetriever over embedded Chroma: views per call, configurable views, filters, errors."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from langchain_chroma import Chroma
from langchain_core.documents import Document
from langchain_core.embeddings import FakeEmbeddings
from langchain_core.runnables import RunnableLambda
from lc_chroma import COLLECTION
from lc_testdata import base_vectors, embeddings, heads, reviews

from gst_integrations.core.encoders import CallableEncoder
from gst_integrations.core.errors import EncoderMismatchError, StoreError, UnknownViewError
from gst_integrations.langchain import (
    GSTEmbeddings,
    GSTRetriever,
    GSTVectorStoreRetriever,
    view_choice_tool,
    view_tools,
)
from gst_integrations.stores import embed_into_chroma, open_chroma_collection

QUERY = "the birth control pill gave me terrible mood swings and I stopped it"


@pytest.fixture(scope="module")
def retriever(reviews_store: Chroma) -> GSTRetriever:
    return GSTRetriever.from_chroma(reviews_store, heads(), view="condition", k=6)


def ids(docs: list[Document]) -> list[str]:
    return [str(d.id) for d in docs]


def test_documents_carry_id_metadata_score_and_view(retriever: GSTRetriever) -> None:
    docs = retriever.invoke(QUERY)
    assert len(docs) == 6
    by_id = dict(zip(reviews().ids, reviews().metadata, strict=True))
    for d in docs:
        assert d.metadata["gst_view"] == "condition"
        assert isinstance(d.metadata["gst_score"], float)
        assert {k: d.metadata[k] for k in by_id[d.id]} == by_id[d.id]
        assert d.page_content == reviews().texts[reviews().ids.index(d.id)]
    scores = [d.metadata["gst_score"] for d in docs]
    assert scores == sorted(scores, reverse=True)
    conditions = [d.metadata["condition"] for d in docs]
    assert conditions.count("Birth Control") >= 5, conditions


def test_view_per_call_by_kwargs(retriever: GSTRetriever) -> None:
    cond = retriever.invoke(QUERY)
    rating = retriever.invoke(QUERY, view="rating")
    base = retriever.invoke(QUERY, view=None, k=3)
    assert ids(cond) != ids(rating)
    assert {d.metadata["gst_view"] for d in rating} == {"rating"}
    assert [d.metadata["gst_view"] for d in base] == [None] * 3
    assert len(retriever.invoke(QUERY, view="rating", k=2)) == 2


def test_view_matches_brute_force(retriever: GSTRetriever) -> None:
    head = heads()["rating"]
    Z = head.transform(base_vectors())
    q = head.transform(np.asarray([embeddings().embed_query(QUERY)]))[0]
    s = Z @ q / (np.linalg.norm(Z, axis=1) * np.linalg.norm(q))
    expected = [reviews().ids[i] for i in np.argsort(-s, kind="stable")[:5]]
    assert ids(retriever.invoke(QUERY, view="rating", k=5)) == expected


def test_one_lcel_chain_serves_every_view(retriever: GSTRetriever) -> None:
    chain = retriever.as_configurable() | RunnableLambda(ids)
    blend = {"condition": 0.6, "rating": 0.4, None: 0.2}  # a blend is a view like any other
    for view in ("condition", "rating", blend):
        got = chain.invoke(QUERY, config={"configurable": {"view": view}})
        assert got == ids(retriever.invoke(QUERY, view=view))
    assert (
        chain.invoke(QUERY, config={"configurable": {"k": 2}}) == ids(retriever.invoke(QUERY))[:2]
    )
    bound = chain.with_config(configurable={"view": "rating", "filter": {"rating": "negative"}})
    negative = retriever.invoke(QUERY, view="rating", filter={"rating": "negative"})
    assert bound.invoke(QUERY) == ids(negative)
    with pytest.raises(UnknownViewError, match="unknown view 'dosage'"):
        chain.invoke(QUERY, config={"configurable": {"view": "dosage"}})


async def test_async_per_call_view(retriever: GSTRetriever) -> None:
    docs = await retriever.ainvoke(QUERY, view="rating", k=3)
    assert ids(docs) == ids(retriever.invoke(QUERY, view="rating", k=3))


def test_filters(retriever: GSTRetriever) -> None:
    neg = retriever.invoke(QUERY, view="rating", filter={"rating": "negative"}, k=5)
    assert len(neg) == 5 and {d.metadata["rating"] for d in neg} == {"negative"}
    both = {"$and": [{"condition": "Acne"}, {"rating": {"$in": ["positive", "neutral"]}}]}
    docs = retriever.invoke(QUERY, filter=both, k=3)
    assert all(
        d.metadata["condition"] == "Acne" and d.metadata["rating"] != "negative" for d in docs
    )
    text = retriever.invoke(QUERY, where_document={"$contains": "sleep"}, k=3)
    assert text and all("sleep" in d.page_content for d in text)
    default = GSTRetriever(engine=retriever.engine, view="condition", filter={"condition": "Pain"})
    assert {d.metadata["condition"] for d in default.invoke(QUERY)} == {"Pain"}


def test_from_collection_equals_from_chroma(
    reviews_collection: Any, retriever: GSTRetriever
) -> None:
    r = GSTRetriever.from_collection(
        reviews_collection, heads(), encoder=embeddings(), view="condition", k=6, device="cpu"
    )
    assert ids(r.invoke(QUERY)) == ids(retriever.invoke(QUERY))


def test_query_side_over_chroma_agrees_with_materialised(
    reviews_store: Chroma, retriever: GSTRetriever
) -> None:
    qs = GSTVectorStoreRetriever(
        vectorstore=reviews_store, heads=heads(), k=5, overfetch=12, metric="cosine"
    )
    for view in ("condition", "rating"):
        assert ids(qs.invoke(QUERY, view=view)) == ids(retriever.invoke(QUERY, view=view, k=5))


def test_gst_embeddings_as_chroma_embedding_function(client: Any) -> None:
    corpus, base = reviews(), embeddings()
    before = base.n_encoded
    store = Chroma(client=client, collection_name="lc_added", embedding_function=base)
    store.add_texts(corpus.texts[:20], metadatas=corpus.metadata[:20], ids=corpus.ids[:20])
    assert base.n_encoded == before  # already cached: nothing encoded again
    got = store._collection.get(ids=corpus.ids[:3], include=["embeddings"])
    stored = dict(zip(got["ids"], got["embeddings"], strict=True))
    np.testing.assert_allclose([stored[i] for i in corpus.ids[:3]], base_vectors()[:3], atol=1e-6)
    assert store.similarity_search(corpus.texts[4], k=1)[0].id == corpus.ids[4]
    docs = GSTRetriever.from_chroma(store, heads(), k=3).invoke(QUERY, view="condition")
    assert len(docs) == 3 and all(d.id in corpus.ids[:20] for d in docs)
    # A view GSTEmbeddings also works as a plain embedding function (it stores view vectors).
    view_store = Chroma(
        client=client,
        collection_name="lc_view",
        embedding_function=base.with_view("condition", heads()),
    )
    view_store.add_texts(corpus.texts[:10], ids=corpus.ids[:10])
    assert view_store.similarity_search(corpus.texts[2], k=1)[0].id == corpus.ids[2]


def test_tools_over_chroma(retriever: GSTRetriever) -> None:
    tools = {t.name: t for t in view_tools(retriever)}
    assert set(tools) == {"search_by_condition", "search_by_rating"}
    text = tools["search_by_rating"].invoke({"query": QUERY})
    assert text.split("\n\n")[0] == retriever.invoke(QUERY, view="rating")[0].page_content
    choice = view_choice_tool(retriever)
    assert choice.invoke({"query": QUERY, "view": "rating"}) == text


# -- bad input --------------------------------------------------------------------------------
def test_unknown_view(reviews_store: Chroma, retriever: GSTRetriever) -> None:
    with pytest.raises(UnknownViewError, match=r"unknown view 'dosage'.*condition.*rating"):
        retriever.invoke(QUERY, view="dosage")
    with pytest.raises(UnknownViewError, match="unknown view 'dosage'"):
        GSTRetriever.from_chroma(reviews_store, heads(), view="dosage")


def test_k_must_be_positive(reviews_store: Chroma, retriever: GSTRetriever) -> None:
    for bad in (0, -1):
        with pytest.raises(ValueError, match="k must be a positive integer"):
            retriever.invoke(QUERY, k=bad)
        with pytest.raises(ValueError, match="k must be a positive integer"):
            GSTRetriever.from_chroma(reviews_store, heads(), k=bad)


def _other_encoder() -> CallableEncoder:
    proj = np.random.default_rng(1).normal(size=(256, 384)).astype(np.float32)

    def other(texts: list[str]) -> np.ndarray:
        codes = np.array([[ord(c) % 256 for c in t[:12].ljust(12)] for t in texts])
        vecs = np.stack([proj[c].sum(0) for c in codes])
        return vecs / np.linalg.norm(vecs, axis=1, keepdims=True)

    return CallableEncoder(other, name="other-encoder")


def test_head_fitted_on_another_encoder_than_the_store(client: Any) -> None:
    other = _other_encoder()
    col = open_chroma_collection("other_enc", client=client, create=True)
    corpus = reviews()
    embed_into_chroma(col, corpus.texts[:10], corpus.ids[:10], encoder=other)
    with pytest.raises(EncoderMismatchError, match="view 'condition' cannot read this store"):
        GSTRetriever.from_collection(col, heads(), encoder=other, view="condition")
    lazy = GSTRetriever.from_collection(col, heads(), encoder=other)
    with pytest.raises(EncoderMismatchError, match="another base encoder"):
        lazy.invoke(QUERY, view="rating")
    # A LangChain store whose embedding function is another model (nothing recorded).
    fake = Chroma(
        client=client, collection_name="fake_emb", embedding_function=FakeEmbeddings(size=384)
    )
    fake.add_texts(corpus.texts[:5])
    with pytest.raises(EncoderMismatchError, match="does not fit the query encoder"):
        GSTRetriever.from_chroma(fake, heads(), view="condition")


def test_store_with_no_base_vectors(client: Any, reviews_store: Chroma) -> None:
    empty = Chroma(client=client, collection_name="empty", embedding_function=embeddings())
    r = GSTRetriever.from_chroma(empty, heads())
    for view in ("condition", None):
        with pytest.raises(StoreError, match="empty"):
            r.invoke(QUERY, view=view)
    views = Chroma(
        client=client,
        collection_name=COLLECTION,
        embedding_function=embeddings().with_view("condition", heads()),
    )
    with pytest.raises(StoreError, match="view vectors, not base vectors"):
        GSTRetriever.from_chroma(views, heads())
    with pytest.raises(Exception, match="base vectors"):
        GSTRetriever.from_chroma(
            reviews_store, heads(), encoder=GSTEmbeddings(head=heads()["rating"])
        )
