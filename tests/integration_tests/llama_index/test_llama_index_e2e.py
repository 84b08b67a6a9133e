"""End to end, offline: a real ChromaVectorStore index, the real encoder, two views."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.llms import MockLLM
from llama_index.core.schema import NodeWithScore
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)
from llama_index.core.vector_stores.simple import SimpleVectorStore
from llama_index.vector_stores.chroma import ChromaVectorStore

from gst_integrations import fit_head
from gst_integrations.core.errors import (
    EncoderMismatchError,
    GSTError,
    StoreError,
    UnknownViewError,
)
from gst_integrations.core.heads.store import HeadStore
from gst_integrations.core.search import QuerySideBackend
from gst_integrations.core.views.filters import FilterError
from gst_integrations.llama_index import (
    GSTEmbedding,
    GSTRetriever,
    view_query_engine,
    view_router_retriever,
    view_selector,
    view_tools,
)
from gst_integrations.stores import open_chroma_collection

pytestmark = pytest.mark.integration

QUERY = (
    "This drug made my depression worse and the side effects were terrible. I stopped taking it."
)


def majority(nodes: list[NodeWithScore], facet: str) -> str:
    return Counter(n.node.metadata[facet] for n in nodes).most_common(1)[0][0]


def share(nodes: list[NodeWithScore], facet: str, value: str) -> float:
    return float(np.mean([n.node.metadata[facet] == value for n in nodes]))


# -- retrieval in views -------------------------------------------------------------------
def test_nodes_are_rebuilt_as_llama_index_wrote_them(li_retriever, li_data) -> None:
    corpus, _ = li_data
    text_by_id = dict(zip(corpus.ids, corpus.texts, strict=True))
    nodes = li_retriever.retrieve(QUERY, view="condition")
    assert len(nodes) == 10
    for n in nodes:
        assert n.node.node_id in text_by_id
        assert n.node.get_content() == text_by_id[n.node.node_id]
        assert set(n.node.metadata) >= {"condition", "rating"}
        assert n.view == "condition"
        assert "gst_view" not in n.node.metadata  # the stored node, unchanged
        assert n.node.ref_doc_id is None or isinstance(n.node.ref_doc_id, str)
    scores = [n.score for n in nodes]
    assert scores == sorted(scores, reverse=True)


def test_one_query_two_views_follow_their_facet(li_retriever) -> None:
    by_condition = li_retriever.retrieve(QUERY, view="condition")
    by_rating = li_retriever.retrieve(QUERY, view="rating")
    assert majority(by_condition, "condition") == "Depression"
    assert majority(by_rating, "rating") == "negative"
    # each view ranks by its own facet, not the other's
    assert share(by_rating, "rating", "negative") > share(by_condition, "rating", "negative")
    assert share(by_condition, "condition", "Depression") > share(
        by_rating, "condition", "Depression"
    )


def test_held_out_reviews_find_their_facet_in_its_view(li_retriever, li_data, li_embed) -> None:
    """Held-out reviews (not indexed) as queries: each view groups by its own facet.

    Measured on these 40 reviews: the condition view's top-10 majority is the query's
    condition for ~80%; the rating view is weaker (200 labels, 3 unbalanced classes): it
    gives negative reviews ~54% negative neighbours against ~37% in the base space.
    """
    _, held = li_data
    li_embed.base_encoder.encode(held.texts)  # one batch; retrieval then hits the cache
    stats: dict[str, list[float]] = {
        "cond_majority": [],
        "cond_share_condition_view": [],
        "cond_share_rating_view": [],
        "neg_share_rating_view": [],
        "neg_share_base": [],
    }
    for text, cond, rating in zip(
        held.texts, held.facets["condition"], held.facets["rating"], strict=True
    ):
        in_cond = li_retriever.retrieve(text, view="condition")
        in_rat = li_retriever.retrieve(text, view="rating")
        stats["cond_majority"].append(majority(in_cond, "condition") == cond)
        stats["cond_share_condition_view"].append(share(in_cond, "condition", cond))
        stats["cond_share_rating_view"].append(share(in_rat, "condition", cond))
        if rating == "negative":
            stats["neg_share_rating_view"].append(share(in_rat, "rating", "negative"))
            base = li_retriever.retrieve(text)
            stats["neg_share_base"].append(share(base, "rating", "negative"))
    mean = {k: float(np.mean(v)) for k, v in stats.items()}
    # majority condition of the top 10 is the query's condition for most held-out reviews
    assert mean["cond_majority"] >= 0.7, mean
    # the rating view trades the condition for the rating ...
    assert mean["cond_share_condition_view"] > mean["cond_share_rating_view"] + 0.25, mean
    # ... and finds more reviews of the query's (negative) rating than the base space does
    assert mean["neg_share_rating_view"] > mean["neg_share_base"] + 0.05, mean


def test_base_search_without_a_view(li_retriever) -> None:
    nodes = li_retriever.retrieve(QUERY)
    assert len(nodes) == 10
    assert all(n.view is None for n in nodes)


def test_similarity_top_k_per_call_and_with_view(li_retriever) -> None:
    assert len(li_retriever.retrieve(QUERY, view="rating", similarity_top_k=3)) == 3
    rating = li_retriever.with_view("rating")
    assert rating.view == "rating" and li_retriever.view is None
    assert [n.node.node_id for n in rating.retrieve(QUERY)] == [
        n.node.node_id for n in li_retriever.retrieve(QUERY, view="rating")
    ]


async def test_aretrieve(li_retriever) -> None:
    nodes = await li_retriever.aretrieve(QUERY, view="rating", similarity_top_k=5)
    assert len(nodes) == 5 and all(n.view == "rating" for n in nodes)


def test_views_share_cached_query_vectors(li_retriever, li_embed) -> None:
    li_retriever.retrieve("a brand new question about acne cream", view="condition")
    before = li_embed.n_encoded
    for view in (None, "condition", "rating"):
        li_retriever.retrieve("a brand new question about acne cream", view=view)
    assert li_embed.n_encoded == before


def test_embedding_in_a_view_matches_the_retriever(li_embed, li_heads, li_retriever) -> None:
    rating = li_embed.with_view("rating", head_store=li_heads)
    assert rating.view == "rating" and rating.base_encoder is li_embed.base_encoder
    vec = np.asarray(rating.get_query_embedding(QUERY))
    assert vec.shape == (li_heads.get("rating").out_dim,)
    assert abs(np.linalg.norm(vec) - 1) < 1e-5
    ids, Z = li_retriever.engine.view_matrix("rating")
    top = [ids[i] for i in np.argsort(-(Z @ vec))[:5]]
    got = [n.node.node_id for n in li_retriever.retrieve(QUERY, view="rating")[:5]]
    assert top == got


# -- filters ------------------------------------------------------------------------------
def test_metadata_filters(li_retriever) -> None:
    only_neg = MetadataFilters(filters=[MetadataFilter(key="rating", value="negative")])
    nodes = li_retriever.retrieve(QUERY, view="condition", filters=only_neg)
    assert nodes and all(n.node.metadata["rating"] == "negative" for n in nodes)

    either = MetadataFilters(
        filters=[
            MetadataFilter(key="condition", value="Acne"),
            MetadataFilter(key="condition", value="Insomnia"),
        ],
        condition=FilterCondition.OR,
    )
    nodes = li_retriever.retrieve(QUERY, view="rating", filters=either)
    assert nodes and {n.node.metadata["condition"] for n in nodes} <= {"Acne", "Insomnia"}

    nested = MetadataFilters(
        filters=[
            MetadataFilter(key="rating", operator=FilterOperator.NE, value="positive"),
            MetadataFilters(
                filters=[
                    MetadataFilter(key="condition", operator=FilterOperator.IN, value=["Pain"])
                ]
            ),
        ]
    )
    nodes = li_retriever.retrieve(QUERY, view="rating", filters=nested)
    assert nodes and all(
        n.node.metadata["condition"] == "Pain" and n.node.metadata["rating"] != "positive"
        for n in nodes
    )


def test_chroma_where_dict_and_default_filters(li_retriever) -> None:
    scoped = li_retriever.with_options(filters={"condition": "Acne"}, similarity_top_k=4)
    nodes = scoped.retrieve(QUERY, view="rating")
    assert len(nodes) == 4 and all(n.node.metadata["condition"] == "Acne" for n in nodes)
    nodes = li_retriever.retrieve(QUERY, view="rating", where_document={"$contains": "skin"})
    assert nodes and all("skin" in n.node.get_content() for n in nodes)


def test_unsupported_filter_is_a_clear_error(li_retriever) -> None:
    text_match = MetadataFilters(
        filters=[MetadataFilter(key="condition", operator=FilterOperator.TEXT_MATCH, value="x")]
    )
    with pytest.raises(FilterError, match="text_match"):
        li_retriever.retrieve(QUERY, view="rating", filters=text_match)


# -- tools, router, query engine ---------------------------------------------------------
def test_a_retriever_tool_per_view(li_retriever) -> None:
    tools = view_tools(li_retriever, similarity_top_k=3)
    assert [t.metadata.name for t in tools] == ["condition_view", "rating_view"]
    assert "Which condition is the patient treating?" in tools[0].metadata.description
    assert "negative" in tools[1].metadata.description
    out = tools[1].call(QUERY)
    assert len(out.raw_output) == 3
    assert all(n.view == "rating" for n in out.raw_output)
    assert out.raw_output[0].node.get_content()[:30] in out.content


async def test_a_retriever_tool_async(li_retriever) -> None:
    tool = view_tools(li_retriever, views=["condition"], similarity_top_k=2)[0]
    out = await tool.acall(QUERY)
    assert len(out.raw_output) == 2 and out.tool_name == "condition_view"


@pytest.mark.parametrize(
    ("question", "view"),
    [
        ("which condition is this patient treating: acne, depression or insomnia?", "condition"),
        ("how satisfied was the patient with the drug, positive or negative?", "rating"),
    ],
)
def test_router_picks_the_view_from_instructions(li_retriever, question: str, view: str) -> None:
    router = view_router_retriever(
        li_retriever, similarity_top_k=4, selector=view_selector(li_retriever), llm=MockLLM()
    )
    nodes = router.retrieve(question)
    assert len(nodes) == 4
    assert {n.view for n in nodes} == {view}


def test_query_engine_answers_with_sources_from_the_view(li_retriever, local_li_llm) -> None:
    """A real local LLM (SmolLM2-135M, shared by the session) writes the answer."""
    engine = view_query_engine(li_retriever, view="rating", similarity_top_k=3, llm=local_li_llm)
    response = engine.query(QUERY)
    answer = str(response).strip()
    assert answer and "Context information" not in answer  # an answer, not the prompt echoed
    assert len(response.source_nodes) == 3
    assert {n.view for n in response.source_nodes} == {"rating"}
    routed = view_query_engine(
        li_retriever,
        route=True,
        similarity_top_k=2,
        llm=local_li_llm,
        selector=view_selector(li_retriever),  # 135M cannot pick a view reliably: embeddings do
    )
    response = routed.query("Which condition is the patient treating? Reviews about insomnia.")
    assert {n.view for n in response.source_nodes} == {"condition"}


# -- query-side path over any LlamaIndex vector store -------------------------------------
def test_query_side_over_simple_vector_store(cookbook, li_data, li_embed, li_heads, li_retriever):
    corpus, _ = li_data
    before = li_embed.n_encoded
    simple = VectorStoreIndex(cookbook.review_nodes(corpus), embed_model=li_embed)
    assert isinstance(simple.vector_store, SimpleVectorStore)
    assert li_embed.n_encoded == before  # the same texts: served by the cache
    qs = GSTRetriever.from_index(simple, li_heads, similarity_top_k=10, metric="cosine")
    assert isinstance(qs.engine, QuerySideBackend)  # nothing materialised
    for view in ("condition", "rating"):
        got = qs.retrieve(QUERY, view=view)
        assert all(n.view == view for n in got)
        want = li_retriever.retrieve(QUERY, view=view)
        overlap = {n.node.node_id for n in got} & {n.node.node_id for n in want}
        assert len(overlap) >= 8, (view, len(overlap))
        assert got[0].node.node_id == want[0].node.node_id
        assert abs(got[0].score - want[0].score) < 1e-4
    filters = MetadataFilters(filters=[MetadataFilter(key="rating", value="negative")])
    got = qs.retrieve(QUERY, view="condition", filters=filters)
    assert got and all(n.node.metadata["rating"] == "negative" for n in got)


def test_query_side_over_the_chroma_index(li_index, li_heads, li_retriever) -> None:
    """query_side=True on Chroma: the base HNSW index serves the view, re-ranked exactly."""
    import warnings

    # cosine views re-rank an over-fetched candidate set; 10x keeps recall high here
    qs = GSTRetriever.from_index(
        li_index, li_heads, query_side=True, similarity_top_k=10, overfetch=10, metric="cosine"
    )
    assert isinstance(qs.engine, QuerySideBackend)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # candidates carry their vectors: no fallback
        warnings.filterwarnings("ignore", message="a cosine view on the query-side")
        got = qs.retrieve(QUERY, view="rating", filters={"condition": {"$ne": "Acne"}})
    want = li_retriever.retrieve(QUERY, view="rating", filters={"condition": {"$ne": "Acne"}})
    assert got[0].node.node_id == want[0].node.node_id
    overlap = {n.node.node_id for n in got} & {n.node.node_id for n in want}
    assert len(overlap) >= 9, len(overlap)


def test_query_side_refuses_a_non_linear_head(li_data, li_embed, li_index) -> None:
    corpus, _ = li_data
    X = li_embed.base_encoder.encode(corpus.texts)
    mlp = fit_head(
        "Which condition?",
        X,
        corpus.facets["condition"],
        encoder=li_embed.base_encoder,
        family="mlp",
        max_epochs=2,
    )
    qs = GSTRetriever.from_index(li_index, {"mlp": mlp}, query_side=True)
    with pytest.raises(GSTError, match="linear head"):
        qs.retrieve(QUERY, view="mlp")


# -- bad input ----------------------------------------------------------------------------
def test_unknown_view(li_retriever, li_embed, li_heads) -> None:
    with pytest.raises(UnknownViewError, match=r"'sentiment'.*condition.*rating"):
        li_retriever.retrieve(QUERY, view="sentiment")
    with pytest.raises(UnknownViewError, match="sentiment"):
        li_retriever.with_view("sentiment")
    with pytest.raises(UnknownViewError, match="sentiment"):
        li_embed.with_view("sentiment", head_store=li_heads)
    with pytest.raises(UnknownViewError):
        view_tools(li_retriever, views=["sentiment"])


def test_head_from_another_encoder(li_index, li_embed, li_dir) -> None:
    rng = np.random.default_rng(0)

    def other_encoder(texts: list[str]) -> np.ndarray:  # 384-d, but not MiniLM
        return rng.normal(size=(len(texts), 384)).astype(np.float32)

    X = rng.normal(size=(40, 384)).astype(np.float32)
    alien = fit_head(
        "Which condition?", X, ["a", "b"] * 20, encoder=other_encoder, name="alien", max_epochs=2
    )
    retriever = GSTRetriever.from_index(li_index, {"alien": alien})
    with pytest.raises(EncoderMismatchError, match="alien"):
        retriever.retrieve(QUERY, view="alien")
    with pytest.raises(EncoderMismatchError):
        GSTEmbedding(alien, encoder=li_embed)
    store = HeadStore(li_dir / "alien-heads")
    store.save("alien", alien)
    with pytest.raises(EncoderMismatchError):
        GSTRetriever.from_index(li_index, store, view="alien")


def test_empty_store(li_embed, li_heads, li_dir) -> None:
    collection = open_chroma_collection("empty", path=str(li_dir / "empty"), create=True)
    retriever = GSTRetriever.from_chroma(ChromaVectorStore(collection), li_heads, li_embed)
    with pytest.raises(StoreError, match="empty"):
        retriever.retrieve(QUERY, view="condition")
    with pytest.raises(StoreError, match="empty"):
        retriever.retrieve(QUERY)
    simple = VectorStoreIndex([], embed_model=li_embed)
    with pytest.raises(StoreError, match="empty"):
        GSTRetriever.from_index(simple, li_heads).retrieve(QUERY, view="rating")


def test_bad_arguments(li_retriever) -> None:
    with pytest.raises(ValueError, match="similarity_top_k"):
        li_retriever.retrieve(QUERY, view="rating", similarity_top_k=0)
    with pytest.raises(ValueError, match="empty"):
        li_retriever.retrieve("   ", view="rating")
    with pytest.raises(TypeError, match="ChromaVectorStore"):
        GSTRetriever.from_chroma(object(), {})


# -- the cookbook -------------------------------------------------------------------------
def test_cookbook_runs_offline(
    cookbook, li_cache, li_index, tmp_path, capsys, local_li_llm
) -> None:
    """The recipe, after the session index filled the shared cache (so it encodes ~nothing)."""
    result: dict[str, Any] = cookbook.main(workdir=tmp_path, cache=li_cache, llm=local_li_llm)
    out = capsys.readouterr().out
    assert "indexed 200 reviews once; views: ['condition', 'rating']" in out
    cond_block = out.split("[view=condition] top 10")[1].split("[view=rating]")[0]
    assert "majority: condition=Depression" in cond_block
    # The recipe's default head: the rating is barely encoded, so its view says so and falls
    # back to the generic vectors; its scores still rank (no ties at the top).
    assert re.search(r"view 'rating': feasibility: .* barely encoded", out)
    assert len(result["by_view"]["rating"]) == 10 and result["spread"]["rating"] > 0.01
    # A blend answers the question that mixes facets, with spread scores too.
    blend_block = out.split("view={'condition': 0.6, 'rating': 0.4, None: 0.2}] top 10")[1]
    assert "majority: condition=Acne" in blend_block.split("score spread")[0]
    assert all(n.view == "condition*0.6+generic*0.2" for n in result["blended"])
    assert result["spread"]["blend"] > 0.01
    negatives = out.split("[view=condition, rating == negative]")[1].split("routed")[0]
    assert "majority: condition=Depression, rating=negative" in negatives
    assert "routed 'which condition" in out and "-> view=condition" in out
    assert "-> view=rating" in out
    assert "source view=condition condition=Insomnia" in out
    # The local model (SmolLM2-135M-Instruct, offline) wrote the answer, not a mock.
    answer = re.search(r"^answer \(SmolLM2-135M-Instruct\): (.+)$", out, re.M)
    assert answer and len(answer.group(1).split()) >= 3, out[-2000:]
    assert result["routed"] == {
        "which condition is this patient treating: acne, depression or insomnia?": "condition",
        "how satisfied was the patient with the drug, positive or negative?": "rating",
    }
    assert result["n_encoded"] <= 8  # the corpus came from the shared cache
