"""LlamaIndex adapters with a fake 32-d encoder: fast, no model, no Chroma."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import (
    CompletionResponse,
    CompletionResponseGen,
    CustomLLM,
    LLMMetadata,
    MockLLM,
)
from llama_index.core.schema import TextNode
from llama_index.core.selectors import EmbeddingSingleSelector, LLMSingleSelector
from llama_index.core.vector_stores import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from gst_integrations import as_encoder, fit_head
from gst_integrations.core.errors import EncoderMismatchError, UnknownViewError
from gst_integrations.core.search import QuerySideBackend
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.filters import FilterError
from gst_integrations.core.views.source import ArraySource
from gst_integrations.llama_index import (
    GSTEmbedding,
    GSTRetriever,
    to_chroma_where,
    view_query_engine,
    view_router_retriever,
    view_selector,
    view_tools,
)
from gst_integrations.llama_index.tools import tool_name

pytestmark = pytest.mark.filterwarnings("ignore:a cosine view on the query-side path")

DIM = 32
COLOURS = ["red", "green", "blue"]
SHAPES = ["round", "square"]


def fake_encoder(texts: list[str]) -> np.ndarray:
    """Unit vectors: a colour direction + a shape direction + per-text noise."""
    out = []
    for t in texts:
        seed = int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)
        v = np.random.default_rng(seed).normal(scale=0.3, size=DIM)
        for i, c in enumerate(COLOURS):
            if c in t:
                v[i] += 2.0
        for i, s in enumerate(SHAPES):
            if s in t:
                v[8 + i] += 2.0
        out.append(v / np.linalg.norm(v))
    return np.asarray(out, dtype=np.float32)


fake_encoder.__name__ = "fake-32"


@pytest.fixture(scope="module")
def corpus() -> dict[str, list[Any]]:
    texts, metas = [], []
    for i in range(60):
        colour, shape = COLOURS[i % 3], SHAPES[(i // 3) % 2]
        texts.append(f"a {colour} {shape} thing number {i}")
        metas.append({"colour": colour, "shape": shape, "n": i})
    return {"texts": texts, "metas": metas, "ids": [f"doc-{i}" for i in range(60)]}


@pytest.fixture(scope="module")
def embed() -> GSTEmbedding:
    return GSTEmbedding(encoder=fake_encoder)


@pytest.fixture(scope="module")
def heads(corpus, embed) -> dict[str, Any]:
    X = embed.base_encoder.encode(corpus["texts"])
    return {
        name: fit_head(
            f"What {name} is the thing?",
            X,
            [m[name] for m in corpus["metas"]],
            encoder=embed.base_encoder,
            name=name,
        )
        for name in ("colour", "shape")
    }


@pytest.fixture(scope="module")
def retriever(corpus, embed, heads) -> GSTRetriever:
    X = embed.base_encoder.encode(corpus["texts"])
    source = ArraySource(corpus["ids"], X, corpus["texts"], corpus["metas"])
    engine = ViewEngine(source, heads, encoder=embed.base_encoder, device="cpu")
    return GSTRetriever(engine, similarity_top_k=6)


def nodes_for(corpus) -> list[TextNode]:
    return [
        # LlamaIndex embeds metadata with the text unless excluded; keep the text alone so the
        # stored vectors equal the ViewEngine's base vectors
        TextNode(id_=i, text=t, metadata=m, excluded_embed_metadata_keys=list(m))
        for i, t, m in zip(corpus["ids"], corpus["texts"], corpus["metas"], strict=True)
    ]


# -- GSTEmbedding -------------------------------------------------------------------------
def test_embedding_base_vectors_and_cache(embed) -> None:
    assert GSTEmbedding.class_name() == "GSTEmbedding"
    e = GSTEmbedding(encoder=fake_encoder)
    batch = e.get_text_embedding_batch(["x red", "y blue", "x red"])
    assert np.allclose(batch[0], fake_encoder(["x red"])[0], atol=1e-6)
    assert e.n_encoded == 2  # duplicates and repeats are encoded once
    assert np.allclose(e.get_query_embedding("y blue"), batch[1])
    assert e.n_encoded == 2
    assert e.view is None and e.head is None
    assert as_encoder(e) is e.base_encoder  # core unwraps it to the cached encoder


def test_embedding_in_a_view(embed, heads) -> None:
    colour = embed.with_view("colour", head_store=heads)
    assert colour.view == "colour" and colour.base_encoder is embed.base_encoder
    v = np.asarray(colour.get_query_embedding("a red round thing"))
    assert v.shape == (heads["colour"].out_dim,) and abs(np.linalg.norm(v) - 1) < 1e-5
    direct = heads["colour"].transform(fake_encoder(["a red round thing"]))[0]
    assert np.allclose(v, direct / np.linalg.norm(direct), atol=1e-5)
    raw = GSTEmbedding(heads["colour"], encoder=embed, normalize=False)
    assert np.allclose(raw.get_text_embedding("a red round thing"), direct, atol=1e-5)
    assert embed.with_view(None).view is None


async def test_embedding_async_matches_sync(embed, heads) -> None:
    shape = embed.with_view(heads["shape"])
    texts = ["a blue square", "a green round"]
    sync = shape.get_text_embedding_batch(texts)
    got = await shape.aget_text_embedding_batch(texts)
    assert np.allclose(sync, got)
    q = await shape.aget_query_embedding(texts[0])
    assert np.allclose(q, sync[0])


def test_embedding_bad_views(embed, heads, tmp_path) -> None:
    with pytest.raises(UnknownViewError, match=r"'size'.*colour.*shape"):
        embed.with_view("size", head_store=heads)
    with pytest.raises(UnknownViewError, match="head_store"):
        embed.with_view("size")

    def other(texts: list[str]) -> np.ndarray:
        return fake_encoder([t[::-1] for t in texts])

    with pytest.raises(EncoderMismatchError):
        GSTEmbedding(heads["colour"], encoder=other)
    path = heads["colour"].save(tmp_path / "colour")
    assert GSTEmbedding(str(path), encoder=embed).view == "colour"


# -- filters ------------------------------------------------------------------------------
def test_to_chroma_where() -> None:
    assert to_chroma_where(None) is None
    assert to_chroma_where({"a": 1}) == {"a": 1}
    f = MetadataFilters(filters=[MetadataFilter(key="a", value=1)])
    assert to_chroma_where(f) == {"a": {"$eq": 1}}
    f = MetadataFilters(
        filters=[
            MetadataFilter(key="a", operator=FilterOperator.GTE, value=2),
            MetadataFilters(
                filters=[
                    MetadataFilter(key="b", operator=FilterOperator.IN, value=["x", "y"]),
                    MetadataFilter(key="c", operator=FilterOperator.NE, value="z"),
                ],
                condition=FilterCondition.OR,
            ),
        ]
    )
    assert to_chroma_where(f) == {
        "$and": [
            {"a": {"$gte": 2}},
            {"$or": [{"b": {"$in": ["x", "y"]}}, {"c": {"$ne": "z"}}]},
        ]
    }
    with pytest.raises(FilterError, match="contains"):
        to_chroma_where(
            MetadataFilters(
                filters=[MetadataFilter(key="a", operator=FilterOperator.CONTAINS, value="x")]
            )
        )
    with pytest.raises(TypeError):
        to_chroma_where("a == 1")  # type: ignore[arg-type]


# -- GSTRetriever over a ViewEngine ------------------------------------------------------
def test_retriever_switches_views_per_call(retriever) -> None:
    assert retriever.views() == ["colour", "shape"]
    q = "a red round thing"
    by_colour = retriever.retrieve(q, view="colour")
    by_shape = retriever.retrieve(q, view="shape")
    assert all(n.node.metadata["colour"] == "red" for n in by_colour)
    assert all(n.node.metadata["shape"] == "round" for n in by_shape)
    assert {n.view for n in by_colour} == {"colour"}
    assert "gst_view" not in by_colour[0].node.metadata  # node identity is the same in every view
    assert retriever.view is None and len(retriever.retrieve(q)) == 6
    assert len(retriever.retrieve(q, view="shape", similarity_top_k=2)) == 2


def test_retriever_filters_and_options(retriever) -> None:
    f = MetadataFilters(filters=[MetadataFilter(key="n", operator=FilterOperator.LT, value=10)])
    nodes = retriever.retrieve("a red round thing", view="colour", filters=f)
    assert nodes and all(n.node.metadata["n"] < 10 for n in nodes)
    blue = retriever.with_options(view="colour", filters={"colour": "blue"})
    assert all(n.node.metadata["colour"] == "blue" for n in blue.retrieve("red"))
    assert retriever.with_view("shape").with_view(None).view is None


def test_retriever_errors(retriever) -> None:
    with pytest.raises(UnknownViewError, match=r"'size'.*colour"):
        retriever.retrieve("x", view="size")
    with pytest.raises(ValueError, match="similarity_top_k"):
        retriever.with_options(similarity_top_k=-1)
    with pytest.raises(TypeError):
        GSTRetriever()


# -- query-side path ----------------------------------------------------------------------
def test_query_side_over_simple_vector_store(corpus, embed, retriever) -> None:
    index = VectorStoreIndex(nodes_for(corpus), embed_model=embed)
    qs = GSTRetriever.from_index(
        index, retriever.engine.heads, similarity_top_k=6, overfetch=10, metric="cosine"
    )
    assert isinstance(qs.engine, QuerySideBackend) and qs.views() == ["colour", "shape"]
    for view in ("colour", "shape"):
        got = qs.retrieve("a green square thing", view=view)
        want = retriever.retrieve("a green square thing", view=view)
        assert [n.node.node_id for n in got] == [n.node.node_id for n in want]
        assert np.allclose([n.score for n in got], [n.score for n in want], atol=1e-4)
        assert got[0].node.get_content() == want[0].node.get_content()
    f = MetadataFilters(filters=[MetadataFilter(key="colour", value="red")])
    assert all(
        n.node.metadata["colour"] == "red" for n in qs.retrieve("x", view="shape", filters=f)
    )


def test_blends_materialised_and_query_side(corpus, embed, retriever) -> None:
    blend = {"colour": 0.6, "shape": 0.3, None: 0.1}
    q = "a green square thing"
    single = {
        v: {n.node.node_id: n.score for n in retriever.retrieve(q, view=v, similarity_top_k=60)}
        for v in ("colour", "shape", None)
    }
    got = retriever.retrieve(q, view=blend)
    assert got[0].view == "colour*0.6+shape*0.3+generic*0.1"
    for n in got:
        want = sum(w * single[v][n.node.node_id] for v, w in blend.items())
        assert n.score == pytest.approx(want, abs=1e-5)
    index = VectorStoreIndex(nodes_for(corpus), embed_model=embed)
    qs = GSTRetriever.from_index(
        index, retriever.engine.heads, similarity_top_k=6, overfetch=10, metric="cosine"
    )
    side = qs.retrieve(q, view=blend)  # the over-fetch covers the corpus: arithmetic only
    assert [n.node.node_id for n in side] == [n.node.node_id for n in got]
    with pytest.raises(UnknownViewError):
        retriever.retrieve(q, view={"colour": 1.0, "size": 1.0})


# -- tools and routing --------------------------------------------------------------------
def test_tools(retriever) -> None:
    assert tool_name("drug.rating-v2", prefix="", suffix="_view") == "drug_rating-v2_view"
    tools = view_tools(retriever, similarity_top_k=2)
    assert [t.metadata.name for t in tools] == ["colour_view", "shape_view"]
    assert tools[0].metadata.description.startswith("What colour is the thing?")
    assert "red" in tools[0].metadata.description
    out = tools[1].call("a blue square thing")
    assert [n.node.metadata["shape"] for n in out.raw_output] == ["square", "square"]
    out = asyncio.run(tools[0].acall("a blue square thing"))
    assert {n.node.metadata["colour"] for n in out.raw_output} == {"blue"}


class PickSecond(CustomLLM):
    """A stand-in for a real LLM: always answers the selector with choice 2."""

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata()

    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text='[{"choice": 2, "reason": "it asks about shape"}]')

    def stream_complete(
        self, prompt: str, formatted: bool = False, **kw: Any
    ) -> CompletionResponseGen:
        yield self.complete(prompt, formatted, **kw)


def test_router_selectors(retriever) -> None:
    assert isinstance(view_selector(retriever), EmbeddingSingleSelector)
    assert isinstance(view_selector(retriever, llm=MockLLM()), EmbeddingSingleSelector)
    assert isinstance(view_selector(retriever, llm=PickSecond()), LLMSingleSelector)
    router = view_router_retriever(retriever, llm=PickSecond(), similarity_top_k=3)
    nodes = router.retrieve("anything")
    assert len(nodes) == 3 and {n.view for n in nodes} == {"shape"}
    offline = view_router_retriever(retriever, similarity_top_k=3, llm=MockLLM())
    nodes = offline.retrieve("What colour is the thing? red")
    assert {n.view for n in nodes} == {"colour"}


def test_query_engine(retriever) -> None:
    engine = view_query_engine(retriever, view="colour", similarity_top_k=2, llm=MockLLM())
    response = engine.query("a green round thing")
    assert len(response.source_nodes) == 2
    assert all(n.node.metadata["colour"] == "green" for n in response.source_nodes)
    assert "gst_view" not in response.source_nodes[0].node.get_content(metadata_mode="llm")


# -- any LlamaIndex BaseEmbedding as the base encoder, on a real (ephemeral) Chroma --------
class FakeLlamaEmbedding(BaseEmbedding):
    """A plain LlamaIndex embedding (not ours) that built the index."""

    def _get_query_embedding(self, query: str) -> list[float]:
        return fake_encoder([query])[0].tolist()

    def _get_text_embedding(self, text: str) -> list[float]:
        return fake_encoder([text])[0].tolist()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._get_query_embedding(query)


def test_chroma_index_built_with_any_base_embedding(corpus) -> None:
    import chromadb
    from llama_index.core import StorageContext
    from llama_index.vector_stores.chroma import ChromaVectorStore

    base = FakeLlamaEmbedding(model_name="fake-li")
    client = chromadb.EphemeralClient()
    collection = client.get_or_create_collection("any_embedding", embedding_function=None)
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(collection))
    index = VectorStoreIndex(nodes_for(corpus), storage_context=storage, embed_model=base)
    X = np.asarray(base.get_text_embedding_batch(corpus["texts"]))
    shape = fit_head(
        "What shape is it?", X, [m["shape"] for m in corpus["metas"]], encoder=base, name="shape"
    )
    retriever = GSTRetriever.from_index(index, {"shape": shape}, similarity_top_k=5)
    assert retriever.engine is not None  # a ChromaVectorStore: materialised views
    nodes = retriever.retrieve("a red square thing", view="shape")
    assert [n.node.metadata["shape"] for n in nodes] == ["square"] * 5
    assert {n.node.node_id for n in nodes} <= set(corpus["ids"])
    client.delete_collection("any_embedding")


def test_router_and_query_engine_never_fall_back_to_a_mock_llm(retriever, monkeypatch) -> None:
    from llama_index.core import Settings

    from gst_integrations.core.errors import GSTError

    def no_default_llm() -> None:
        raise ImportError("llama-index-llms-openai is not installed")

    monkeypatch.setattr(Settings, "_llm", None)
    monkeypatch.setattr("llama_index.core.settings.resolve_llm", lambda *a, **k: no_default_llm())
    with pytest.raises(GSTError, match="Settings.llm"):
        view_query_engine(retriever, view="colour")
    router = view_router_retriever(retriever)  # no LLM needed: the embedding selector
    assert type(router._selector).__name__ == "EmbeddingSingleSelector"
    assert router.retrieve("a blue thing")
    monkeypatch.setattr(Settings, "_llm", PickSecond())  # the globally configured LLM is used
    assert view_query_engine(retriever, view="colour")._response_synthesizer._llm is Settings.llm
