"""Stored vectors by store type (``gst_integrations.llama_index.vector_lookup``).

A fake 32-d encoder keeps these fast; the fakes below stand in for plumbing only (a Milvus
client, stores that return no vectors, a pymongo-like object). The real Milvus path is in
tests/integration_tests/milvus.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import numpy as np
import pytest
from llama_index.core import VectorStoreIndex
from llama_index.core.schema import BaseNode, TextNode
from llama_index.core.vector_stores.simple import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    VectorStoreQuery,
    VectorStoreQueryResult,
)
from pydantic import PrivateAttr

from gst_integrations import fit_head
from gst_integrations.core.errors import StoreError
from gst_integrations.llama_index import GSTEmbedding, GSTRetriever
from gst_integrations.llama_index import vector_lookup as vl

pytestmark = pytest.mark.filterwarnings("ignore:a cosine view on the query-side path")

DIM = 32
COLOURS = ["red", "green", "blue"]
SHAPES = ["round", "square"]
QUERY = "a green square thing"


def fake_encoder(texts: list[str]) -> np.ndarray:
    """Unit vectors: a colour direction + a shape direction + per-text noise."""
    out = []
    for t in texts:
        seed = int(hashlib.sha256(t.encode()).hexdigest()[:8], 16)
        v = np.random.default_rng(seed).normal(scale=0.3, size=DIM)
        for i, c in enumerate(COLOURS):
            v[i] += 2.0 * (c in t)
        for i, s in enumerate(SHAPES):
            v[8 + i] += 2.0 * (s in t)
        out.append(v / np.linalg.norm(v))
    return np.asarray(out, dtype=np.float32)


fake_encoder.__name__ = "fake-32-li"

TEXTS = [f"a {COLOURS[i % 3]} {SHAPES[(i // 3) % 2]} thing number {i}" for i in range(60)]
METAS = [{"colour": COLOURS[i % 3], "shape": SHAPES[(i // 3) % 2]} for i in range(60)]
IDS = [f"doc-{i}" for i in range(60)]


def nodes() -> list[TextNode]:
    return [
        TextNode(id_=i, text=t, metadata=m, excluded_embed_metadata_keys=list(m))
        for i, t, m in zip(IDS, TEXTS, METAS, strict=True)
    ]


@pytest.fixture(scope="module")
def embed() -> GSTEmbedding:
    return GSTEmbedding(encoder=fake_encoder)


@pytest.fixture(scope="module")
def heads(embed: GSTEmbedding) -> dict[str, Any]:
    X = embed.base_encoder.encode(TEXTS)
    return {
        name: fit_head(
            f"What {name} is the thing?",
            X,
            [m[name] for m in METAS],
            encoder=embed.base_encoder,
            name=name,
            family="linear",
            max_epochs=20,
        )
        for name in ("colour", "shape")
    }


@pytest.fixture(scope="module")
def index(embed: GSTEmbedding) -> VectorStoreIndex:
    return VectorStoreIndex(nodes(), embed_model=embed)


def exact_top(heads: dict[str, Any], embed: GSTEmbedding, view: str, k: int) -> list[str]:
    head = heads[view]
    Z = head.transform(embed.base_encoder.encode(TEXTS))
    q = head.transform(embed.base_encoder.encode_query([QUERY]))[0]
    s = Z @ q / (np.linalg.norm(Z, axis=1) * np.linalg.norm(q))
    return [IDS[i] for i in np.argsort(-s, kind="stable")[:k]]


class NoVectorStore(BasePydanticVectorStore):
    """A store of an unsupported kind: its results carry nodes, never their vectors."""

    stores_text: bool = True
    _inner: Any = PrivateAttr()
    _nodes: dict[str, BaseNode] = PrivateAttr()

    def __init__(self, inner: SimpleVectorStore, by_id: dict[str, BaseNode]) -> None:
        super().__init__()
        self._inner = inner
        self._nodes = by_id

    @property
    def client(self) -> Any:
        return None

    def add(self, nodes: list[BaseNode], **kwargs: Any) -> list[str]:
        raise NotImplementedError

    def delete(self, ref_doc_id: str, **kwargs: Any) -> None:
        raise NotImplementedError

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        res = self._inner.query(query)
        out = [self._nodes[i].model_copy() for i in res.ids]
        for n in out:
            n.embedding = None
        return VectorStoreQueryResult(nodes=out, ids=res.ids, similarities=res.similarities)


class Mongoish:
    """Like a pymongo Collection: every attribute name answers, with a callable."""

    def __init__(self, name: str = "db.coll") -> None:
        self._name = name

    def __getattr__(self, name: str) -> Mongoish:
        if name.startswith("__"):
            raise AttributeError(name)
        return Mongoish(f"{self._name}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Mongoish:
        return Mongoish(f"{self._name}()")

    def __getitem__(self, key: Any) -> Mongoish:
        return Mongoish(f"{self._name}[{key!r}]")


class MongoBackedStore(NoVectorStore):
    """Like a Mongo-backed LlamaIndex store: a private ``_collection`` that answers anything."""

    _collection: Any = PrivateAttr(default_factory=Mongoish)


class MongoishStore(Mongoish):
    """Not even a BasePydanticVectorStore: answers every attribute, and can be queried."""

    def __init__(self, inner: NoVectorStore) -> None:
        super().__init__("store")
        self._inner = inner

    def query(self, query: VectorStoreQuery, **kwargs: Any) -> VectorStoreQueryResult:
        return self._inner.query(query)


def no_vector_store(index: VectorStoreIndex) -> NoVectorStore:
    return NoVectorStore(index.vector_store, {n.node_id: n for n in nodes()})


# -- dispatch by type ---------------------------------------------------------------------
def test_simple_vector_store_is_read_by_get(index, embed) -> None:
    vs = index.vector_store
    assert vl.adapter_for(vs) is vl.simple_vectors
    found = vl.store_vectors(vs, IDS[:3] + ["deleted"])
    assert set(found) == set(IDS[:3])  # an id the store lacks is simply absent
    np.testing.assert_allclose(
        np.stack([found[i] for i in IDS[:3]]), embed.base_encoder.encode(TEXTS[:3]), atol=1e-6
    )


def test_chroma_vector_store_is_read_through_its_public_client(tmp_path, embed) -> None:
    chromadb = pytest.importorskip("chromadb")
    from llama_index.core import StorageContext
    from llama_index.vector_stores.chroma import ChromaVectorStore

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    vs = ChromaVectorStore(chroma_collection=client.get_or_create_collection("lookup"))
    VectorStoreIndex(
        nodes()[:10],
        storage_context=StorageContext.from_defaults(vector_store=vs),
        embed_model=embed,
    )
    assert vl.is_chroma_store(vs) and vl.adapter_for(vs) is vl.chroma_vectors
    found = vl.store_vectors(vs, [IDS[4], IDS[1]])
    np.testing.assert_allclose(found[IDS[4]], embed.base_encoder.encode([TEXTS[4]])[0], atol=1e-6)
    assert not vl.is_chroma_store(Mongoish())
    assert not vl.is_chroma_store(vs.client)  # its chromadb Collection is not the store


class FakeMilvusClient:
    """Plumbing only: the one MilvusClient call the adapter makes."""

    def __init__(self, rows: dict[str, list[float]]) -> None:
        self.rows = rows

    def get(self, name: str, ids: list[str], output_fields: list[str]) -> list[dict[str, Any]]:
        assert output_fields == ["embedding"]
        return [{"id": i, "embedding": self.rows[i]} for i in ids if i in self.rows]


def test_milvus_vector_store_is_read_by_type(embed) -> None:
    pytest.importorskip("llama_index.vector_stores.milvus")
    from llama_index.vector_stores.milvus import MilvusVectorStore

    rows = {IDS[i]: embed.base_encoder.encode([TEXTS[i]])[0] for i in (0, 1)}

    class FakeMilvusVectorStore(MilvusVectorStore):  # the real class, a fake connection
        @property
        def client(self) -> Any:
            return FakeMilvusClient(rows)

    vs = FakeMilvusVectorStore.model_construct()  # no connection made
    assert vl.adapter_for(vs) is vl.milvus_vectors
    found = vl.store_vectors(vs, [IDS[1], IDS[0], "deleted"])
    assert set(found) == {IDS[0], IDS[1]}
    np.testing.assert_allclose(found[IDS[1]], rows[IDS[1]], atol=1e-6)


def test_other_pydantic_stores_are_read_through_get_nodes(index, embed) -> None:
    X = dict(zip(IDS, embed.base_encoder.encode(TEXTS), strict=True))

    class WithGetNodes(NoVectorStore):
        def get_nodes(self, node_ids=None, filters=None):  # type: ignore[no-untyped-def]
            return [TextNode(id_=i, text="", embedding=X[i].tolist()) for i in node_ids]

    vs = WithGetNodes(index.vector_store, {})
    assert vl.adapter_for(vs) is vl.get_nodes_vectors
    np.testing.assert_allclose(vl.store_vectors(vs, [IDS[7]])[IDS[7]], X[IDS[7]], atol=1e-6)
    assert vl.store_vectors(no_vector_store(index), [IDS[7]]) is None  # NotImplementedError


# -- stores whose vectors cannot be read --------------------------------------------------
@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_a_store_whose_vectors_cannot_be_read_is_a_clear_error(index, heads, embed, metric):
    """One rule for every view and metric: no re-rank without the stored vectors, and the
    store's own (approximate) order is never passed off as the view's."""
    qs = GSTRetriever.from_vector_store(no_vector_store(index), heads, embed, metric=metric)
    for view in ("colour", None, {"colour": 0.5, None: 0.5}):
        with pytest.raises(StoreError, match=r"NoVectorStore.*vector_lookup="):
            qs.retrieve(QUERY, view=view)


@pytest.mark.parametrize("kind", ["private attribute", "whole store"])
def test_pymongo_like_objects_get_the_clear_error_not_a_crash(index, heads, embed, kind) -> None:
    inner = MongoBackedStore(index.vector_store, {n.node_id: n for n in nodes()})
    store = inner if kind == "private attribute" else MongoishStore(inner)
    if kind == "private attribute":
        assert callable(store._collection.get)  # what getattr/hasattr probing would find
    else:
        assert callable(store._collection) and callable(store.store) and callable(store.get)
    assert vl.adapter_for(Mongoish()) is None
    if kind == "whole store":  # no vectors to be had from this type: refused when built
        with pytest.raises(StoreError, match="vector_lookup"):
            GSTRetriever.from_vector_store(store, heads, embed, metric="cosine")
    else:
        qs = GSTRetriever.from_vector_store(store, heads, embed, metric="cosine")
        with pytest.raises(StoreError, match="vector_lookup"):
            qs.retrieve(QUERY, view="colour")
    with pytest.raises(TypeError, match="ChromaVectorStore"):
        GSTRetriever.from_chroma(store, heads, embed)


def test_a_user_vector_lookup_makes_the_re_rank_exact(index, heads, embed) -> None:
    calls = []

    def lookup(ns):
        calls.append(len(ns))
        return [index.vector_store.get(n.node_id) for n in ns]

    qs = GSTRetriever.from_vector_store(
        no_vector_store(index),
        heads,
        embed,
        vector_lookup=lookup,
        similarity_top_k=5,
        metric="cosine",
        overfetch=10,
    )
    for view in ("colour", "shape"):
        got = qs.retrieve(QUERY, view=view)
        assert [n.node.node_id for n in got] == exact_top(heads, embed, view, 5)
    assert calls == [50, 50]
    with pytest.raises(TypeError, match="vector_lookup"):
        GSTRetriever.from_vector_store(index.vector_store, heads, embed, vector_lookup="x")
    bad = GSTRetriever.from_vector_store(
        no_vector_store(index), heads, embed, vector_lookup=lambda ns: [[0.0] * DIM]
    )
    with pytest.raises(StoreError, match="one row per"):
        bad.retrieve(QUERY, view="colour")


def test_reencode_is_an_explicit_opt_in_that_warns_once(index, heads, embed) -> None:
    qs = GSTRetriever.from_vector_store(
        no_vector_store(index),
        heads,
        embed,
        vector_lookup="reencode",
        similarity_top_k=5,
        metric="cosine",
    )
    with pytest.warns(UserWarning, match="reencode.*approximate"):
        got = qs.retrieve(QUERY, view="colour")
    assert [n.node.node_id for n in got] == exact_top(heads, embed, "colour", 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        qs.retrieve(QUERY, view="shape")


def test_supported_store_needs_no_option(index, heads, embed) -> None:
    qs = GSTRetriever.from_index(index, heads, similarity_top_k=5, metric="cosine")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for view in ("colour", "shape"):
            got = [n.node.node_id for n in qs.retrieve(QUERY, view=view)]
            assert got == exact_top(heads, embed, view, 5)
