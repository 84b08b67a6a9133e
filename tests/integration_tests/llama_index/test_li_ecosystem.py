"""LlamaIndex's own tools on our retriever: fusion, serialization, routing, options.

The shared Chroma-backed ``VectorStoreIndex`` of 200 real drug reviews (conftest).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.retrievers import QueryFusionRetriever
from llama_index.core.selectors import EmbeddingSingleSelector

from gst_integrations.core.errors import StoreError
from gst_integrations.llama_index import (
    GSTEmbedding,
    GSTRetriever,
    view_router_retriever,
    view_selector,
)

pytestmark = pytest.mark.integration

QUERY = "this pill made my acne much worse"
RRF_K = 60.0


def test_fusing_two_views_counts_each_node_once(li_retriever: GSTRetriever, local_li_llm) -> None:
    """Reciprocal-rank fusion of two views equals the RRF of each view's own list."""
    views = {"condition": li_retriever.with_view("condition"), None: li_retriever.with_view(None)}
    fusion = QueryFusionRetriever(
        list(views.values()),
        llm=local_li_llm,  # never called: num_queries=1 generates no queries
        mode="reciprocal_rerank",
        num_queries=1,
        similarity_top_k=10,
        use_async=False,
    )
    fused = fusion.retrieve(QUERY)
    want: dict[str, float] = {}
    for retriever in views.values():
        for rank, n in enumerate(retriever.retrieve(QUERY)):
            want[n.node.node_id] = want.get(n.node.node_id, 0.0) + 1.0 / (rank + RRF_K)
    top = sorted(want.items(), key=lambda kv: -kv[1])[:10]
    assert len(fused) == 10
    assert len({n.node.node_id for n in fused}) == 10  # each node once
    assert [n.node.node_id for n in fused] == [i for i, _ in top]
    np.testing.assert_allclose([n.score for n in fused], [s for _, s in top], atol=1e-12)


def test_node_identity_is_the_same_in_every_view(li_retriever: GSTRetriever) -> None:
    by_view = {
        v: {
            n.node.node_id: n.node.hash
            for n in li_retriever.retrieve(QUERY, view=v, similarity_top_k=50)
        }
        for v in ("condition", "rating", None)
    }
    shared = set.intersection(*(set(h) for h in by_view.values()))
    assert shared
    for node_id in shared:
        assert len({by_view[v][node_id] for v in by_view}) == 1


@pytest.mark.parametrize("how", ["dict", "json"])
def test_embedding_round_trips(li_embed: GSTEmbedding, li_heads: Any, how: str) -> None:
    for emb in (li_embed, GSTEmbedding("condition", head_store=li_heads, encoder=li_embed)):
        if how == "dict":
            again = GSTEmbedding.from_dict(emb.to_dict(), encoder=li_embed)
        else:
            again = GSTEmbedding.from_json(emb.to_json(), encoder=li_embed)
        assert again.view == emb.view
        np.testing.assert_allclose(
            again.get_query_embedding(QUERY), emb.get_query_embedding(QUERY), atol=1e-6
        )
    plain = GSTEmbedding.from_dict(li_embed.to_dict())  # the default encoder, rebuilt
    np.testing.assert_allclose(
        plain.get_text_embedding(QUERY), li_embed.get_text_embedding(QUERY), atol=1e-5
    )


def test_an_index_of_view_vectors_is_refused(
    li_data: Any, li_embed: GSTEmbedding, li_heads
) -> None:
    corpus, _ = li_data
    headed = GSTEmbedding("condition", head_store=li_heads, encoder=li_embed)
    index = VectorStoreIndex.from_documents([], embed_model=headed)
    with pytest.raises(StoreError, match="view vectors, not base vectors"):
        GSTRetriever.from_index(index, li_heads)


def test_routers_need_no_llm_unless_their_selector_does(li_retriever: GSTRetriever) -> None:
    for router in (
        view_router_retriever(li_retriever),
        view_router_retriever(li_retriever, selector=view_selector(li_retriever)),
    ):
        assert isinstance(router._selector, EmbeddingSingleSelector)
        nodes = router.retrieve("which condition is this patient treating?")
        assert nodes and {n.view for n in nodes} <= {"condition", "rating"}


def test_similarity_top_k_can_be_set(li_retriever: GSTRetriever) -> None:
    retriever = li_retriever.with_view("condition")
    retriever.similarity_top_k = 3
    assert len(retriever.retrieve(QUERY)) == 3
    with pytest.raises(ValueError, match="similarity_top_k"):
        retriever.similarity_top_k = 0
