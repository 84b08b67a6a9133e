"""One scenario, every way a user reaches it: the same ids and scores.

The drug reviews sit in one embedded Chroma collection (real MiniLM base vectors). The
scenario runs through LangChain and LlamaIndex, materialised (``from_chroma``) and query
side (``from_vector_store``, through Chroma's own index), for a single view, a blend, the
generic view and a filter. Both paths score inner products here (the query side's
default), so all four must agree to 1e-5.
"""

from __future__ import annotations

from typing import Any

import chromadb
import numpy as np
import pytest
from langchain_chroma import Chroma
from llama_index.core.vector_stores.types import MetadataFilter, MetadataFilters
from llama_index.vector_stores.chroma import ChromaVectorStore

from gst_integrations import fit_head
from gst_integrations.core.errors import ViewFallbackWarning
from gst_integrations.langchain import GSTEmbeddings
from gst_integrations.langchain import GSTRetriever as LCRetriever
from gst_integrations.llama_index import GSTEmbedding
from gst_integrations.llama_index import GSTRetriever as LIRetriever
from gst_integrations.stores import embed_into_chroma, open_chroma_collection

pytestmark = pytest.mark.integration

QUERIES = ["this pill cleared my skin but I felt sick", "I could not sleep at all"]
K = 5
BLEND = {"condition": 0.6, "rating": 0.3, None: 0.1}
CASES = [
    ("single view", "condition", None),
    ("blend", BLEND, None),
    ("generic", None, None),
    ("filter", "condition", "negative"),
]


@pytest.fixture(scope="module")
def scenario(tmp_path_factory, drug_reviews, encoder) -> dict[str, Any]:
    path = tmp_path_factory.mktemp("parity") / "chroma"
    client = chromadb.PersistentClient(path=str(path))
    collection = open_chroma_collection(
        "reviews", client=client, create=True, encoder_fingerprint=encoder.fingerprint()
    )
    ids = [f"r{i}" for i in range(len(drug_reviews.texts))]
    metas = [
        {"condition": c, "rating": r}
        for c, r in zip(
            drug_reviews.facets["condition"], drug_reviews.facets["rating"], strict=True
        )
    ]
    embed_into_chroma(collection, drug_reviews.texts, ids, metas, encoder=encoder)
    X = np.asarray(collection.get(ids=ids, include=["embeddings"])["embeddings"], np.float32)
    heads = {
        facet: fit_head(f"By {facet}", X, [m[facet] for m in metas], encoder=encoder, name=facet)
        for facet in ("condition", "rating")
    }
    lc_store = Chroma(
        client=client, collection_name="reviews", embedding_function=GSTEmbeddings(encoder=encoder)
    )
    li_store = ChromaVectorStore(chroma_collection=collection)
    li_embed = GSTEmbedding(encoder=encoder)
    ip = {"engine_options": {"metric": "ip"}}
    side = {"overfetch": 40}
    return {
        "lc materialised": LCRetriever.from_chroma(lc_store, heads, k=K, **ip),
        "li materialised": LIRetriever.from_chroma(
            li_store, heads, li_embed, similarity_top_k=K, **ip
        ),
        "lc query side": LCRetriever.from_vector_store(lc_store, heads, k=K, **side),
        "li query side": LIRetriever.from_vector_store(
            li_store, heads, li_embed, similarity_top_k=K, **side
        ),
    }


def _run(
    name: str, retriever: Any, query: str, view: Any, rating: str | None, k: int = K
) -> list[tuple[str, float]]:
    if name.startswith("lc"):
        flt = {"rating": rating} if rating else None
        docs = retriever.invoke(query, view=view, filter=flt, k=k)
        assert all(d.metadata["gst_score"] is not None for d in docs)
        return [(d.id, d.metadata["gst_score"]) for d in docs]
    filters = (
        MetadataFilters(filters=[MetadataFilter(key="rating", value=rating)]) if rating else None
    )
    nodes = retriever.retrieve(query, view=view, filters=filters, similarity_top_k=k)
    return [(n.node.node_id, n.score) for n in nodes]


@pytest.mark.parametrize("case, view, rating", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("query", QUERIES)
def test_every_path_gives_the_same_ids_and_scores(scenario, case, view, rating, query) -> None:
    results = {name: _run(name, r, query, view, rating) for name, r in scenario.items()}
    reference = results["lc materialised"]
    assert len(reference) == K
    for name, got in results.items():
        assert [i for i, _ in got] == [i for i, _ in reference], name
        np.testing.assert_allclose([s for _, s in got], [s for _, s in reference], atol=1e-5)
    if rating:
        retriever = scenario["lc materialised"]
        docs = retriever.invoke(query, view=view, filter={"rating": rating})
        assert {d.metadata["rating"] for d in docs} == {rating}


@pytest.mark.parametrize("name", ["li materialised", "lc query side"])
def test_blend_scores_are_the_weighted_view_scores(scenario, name) -> None:
    """A blend scores sum_i w_i sim_i; a view that fell back (the rating, barely in these
    vectors) is dropped from it, and the hits say what was scored."""
    retriever = scenario[name]
    query = QUERIES[0]
    singles = {v: dict(_run(name, retriever, query, v, None, k=495)) for v in ("condition", None)}
    mixed = {"condition": 0.7, None: 0.3}
    for node_id, score in _run(name, retriever, query, mixed, None):
        want = sum(w * singles[v][node_id] for v, w in mixed.items())
        assert score == pytest.approx(want, abs=1e-5)
    with pytest.warns(ViewFallbackWarning, match="'rating' fell back"):
        labels = _labels(name, retriever, query, BLEND)
    assert labels == {"condition*0.6+generic*0.1"}


def _labels(name: str, retriever: Any, query: str, view: Any) -> set[str]:
    if name.startswith("lc"):
        return {d.metadata["gst_view"] for d in retriever.invoke(query, view=view)}
    return {n.view for n in retriever.retrieve(query, view=view)}
