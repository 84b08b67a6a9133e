"""Stored vectors by store type (``gst_integrations.langchain.vector_lookup``).

A fake 32-d encoder keeps these fast; the fakes below stand in for plumbing only (a Milvus
client, a pymongo-like object). The real Milvus path is in tests/integration_tests/milvus.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import Any

import numpy as np
import pytest
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import InMemoryVectorStore, VectorStore

from gst_integrations import fit_head
from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.errors import StoreError
from gst_integrations.langchain import GSTEmbeddings, GSTVectorStoreRetriever
from gst_integrations.langchain import vector_lookup as vl

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


fake_encoder.__name__ = "fake-32-lc"

TEXTS = [f"a {COLOURS[i % 3]} {SHAPES[(i // 3) % 2]} thing number {i}" for i in range(60)]
METAS = [{"colour": COLOURS[i % 3], "shape": SHAPES[(i // 3) % 2]} for i in range(60)]
IDS = [f"doc-{i}" for i in range(60)]


@pytest.fixture(scope="module")
def cached() -> CachedEncoder:
    return CachedEncoder(as_encoder(fake_encoder))


@pytest.fixture(scope="module")
def embeddings(cached: CachedEncoder) -> GSTEmbeddings:
    return GSTEmbeddings(encoder=cached)


@pytest.fixture(scope="module")
def heads(cached: CachedEncoder) -> dict[str, Any]:
    X = cached.encode(TEXTS)
    return {
        name: fit_head(
            f"What {name} is the thing?",
            X,
            [m[name] for m in METAS],
            encoder=cached,
            name=name,
            family="linear",
            max_epochs=20,
        )
        for name in ("colour", "shape")
    }


@pytest.fixture(scope="module")
def store(embeddings: GSTEmbeddings) -> InMemoryVectorStore:
    vs = InMemoryVectorStore(embedding=embeddings)
    vs.add_texts(TEXTS, metadatas=METAS, ids=IDS)
    return vs


def exact_top(heads: dict[str, Any], cached: CachedEncoder, view: str, k: int) -> list[str]:
    head = heads[view]
    Z = head.transform(cached.encode(TEXTS))
    q = head.transform(cached.encode_query([QUERY]))[0]
    s = Z @ q / (np.linalg.norm(Z, axis=1) * np.linalg.norm(q))
    return [IDS[i] for i in np.argsort(-s, kind="stable")[:k]]


class OpaqueStore(VectorStore):
    """A VectorStore of an unsupported type: it returns documents, never their vectors."""

    def __init__(self, inner: InMemoryVectorStore) -> None:
        self.inner = inner

    @property
    def embeddings(self) -> Embeddings | None:
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
        raise NotImplementedError


class Mongoish:
    """Like a pymongo Collection: every attribute name answers, with a callable."""

    def __init__(self, name: str = "db.coll") -> None:
        self._name = name

    def __getattr__(self, name: str) -> Mongoish:
        if name.startswith("__"):
            raise AttributeError(name)
        return Mongoish(f"{self._name}.{name}")

    def __call__(self, *args: Any, **kwargs: Any) -> Mongoish:
        return Mongoish(f"{self._name}()")  # not what any caller expects back

    def __getitem__(self, key: Any) -> Mongoish:
        return Mongoish(f"{self._name}[{key!r}]")


class MongoishStore(OpaqueStore):
    """An unsupported VectorStore that, like a pymongo object, answers every attribute."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return Mongoish(name)


# -- dispatch by type ---------------------------------------------------------------------
def test_in_memory_store_is_read_through_its_public_dict(store: InMemoryVectorStore) -> None:
    assert vl.adapter_for(store) is not None and vl.adapter_for(store).name == "InMemoryVectorStore"
    docs = store.get_by_ids(IDS[:5])
    got = vl.lookup_vectors(store, docs)
    want = np.asarray([store.store[i]["vector"] for i in IDS[:5]], np.float32)
    np.testing.assert_array_equal(np.stack(got), want)
    # an id the store no longer holds (deleted since the search) reads as None
    gone = Document(id="deleted", page_content="x")
    assert vl.lookup_vectors(store, [docs[0], gone])[1] is None


def test_chroma_store_is_read_through_its_public_get(tmp_path, embeddings, cached) -> None:
    chromadb = pytest.importorskip("chromadb")
    from langchain_chroma import Chroma

    client = chromadb.PersistentClient(path=str(tmp_path / "chroma"))
    chroma = Chroma(client=client, collection_name="lookup", embedding_function=embeddings)
    chroma.add_texts(TEXTS[:10], metadatas=METAS[:10], ids=IDS[:10])
    assert vl.adapter_for(chroma).name == "langchain_chroma.Chroma"
    docs = chroma.similarity_search_by_vector(cached.encode_query([QUERY])[0].tolist(), k=4)
    got = np.stack(vl.lookup_vectors(chroma, docs))
    np.testing.assert_allclose(got, cached.encode([d.page_content for d in docs]), atol=1e-6)


class FakeMilvusClient:
    """Plumbing only: the two MilvusClient calls the adapter makes."""

    def __init__(self, rows: dict[str, list[float]]) -> None:
        self.rows = rows
        self.calls: list[tuple[str, Any]] = []

    def describe_collection(self, name: str) -> dict[str, Any]:
        self.calls.append(("describe", name))
        return {"fields": [{"name": "pk", "is_primary": True}, {"name": "vector"}]}

    def get(self, name: str, ids: list[str], output_fields: list[str]) -> list[dict[str, Any]]:
        self.calls.append(("get", list(ids)))
        return [{"pk": i, "vector": self.rows[i]} for i in ids if i in self.rows]


def test_milvus_store_is_read_by_type_with_ids_from_metadata(cached) -> None:
    pytest.importorskip("langchain_milvus")
    from langchain_milvus import Milvus

    class FakeMilvus(Milvus):  # the real class, a fake connection
        def __init__(self, client: FakeMilvusClient) -> None:
            self._fake = client
            self.collection_name = "reviews"

        @property
        def client(self) -> Any:
            return self._fake

        @property
        def vector_fields(self) -> list[str]:
            return ["vector"]

    X = cached.encode(TEXTS[:3])
    fake = FakeMilvusClient({IDS[i]: X[i].tolist() for i in range(3)})
    store = FakeMilvus(fake)
    assert vl.adapter_for(store).name == "langchain_milvus.Milvus"
    # langchain-milvus returns Document.id None: the id is metadata["pk"]
    docs = [Document(page_content=TEXTS[i], metadata={"pk": IDS[i]}) for i in (2, 0, 1)]
    docs.append(Document(page_content="gone", metadata={"pk": "deleted"}))
    assert vl.document_ids(store, docs) == [IDS[2], IDS[0], IDS[1], "deleted"]
    got = vl.lookup_vectors(store, docs)
    np.testing.assert_allclose(np.stack(got[:3]), X[[2, 0, 1]], atol=1e-6)
    assert got[3] is None
    vl.lookup_vectors(store, docs)
    assert [c[0] for c in fake.calls].count("describe") == 1  # schema read once per store
    with pytest.raises(StoreError, match="without ids.*vector_lookup"):
        vl.lookup_vectors(store, [Document(page_content="no id")])


# -- stores this module cannot read -------------------------------------------------------
def test_unknown_store_is_a_clear_error_naming_vector_lookup(store, heads, cached) -> None:
    opaque = OpaqueStore(store)
    assert vl.adapter_for(opaque) is None
    with pytest.raises(StoreError, match=r"OpaqueStore.*vector_lookup=.*'reencode'"):
        GSTVectorStoreRetriever(metric="cosine", vectorstore=opaque, heads=heads, encoder=cached)
    with pytest.raises(StoreError, match="vector_lookup"):
        vl.lookup_vectors(opaque, store.get_by_ids(IDS[:2]))


def test_pymongo_like_store_gets_the_clear_error_not_a_crash(store, heads, cached) -> None:
    mongo = MongoishStore(store)
    assert callable(mongo.store) and callable(mongo._chroma_collection)  # answers anything
    assert vl.adapter_for(mongo) is None
    with pytest.raises(StoreError, match=r"MongoishStore.*vector_lookup"):
        GSTVectorStoreRetriever(metric="cosine", vectorstore=mongo, heads=heads, encoder=cached)
    with pytest.raises(StoreError, match="vector_lookup"):
        vl.lookup_vectors(mongo, store.get_by_ids(IDS[:2]))
    assert vl.adapter_for(Mongoish()) is None


def test_a_user_vector_lookup_serves_any_store(store, heads, cached) -> None:
    calls = []

    def lookup(docs):
        calls.append(len(docs))
        return np.asarray([store.store[d.id]["vector"] for d in docs])

    r = GSTVectorStoreRetriever(
        metric="cosine",
        vectorstore=OpaqueStore(store),
        heads=heads,
        encoder=cached,
        vector_lookup=lookup,
        k=5,
    )
    for view in ("colour", "shape"):
        got = r.invoke(QUERY, view=view)
        assert [d.id for d in got] == exact_top(heads, cached, view, 5)
    # k * overfetch candidates (at most the whole store), one call per search
    assert calls == [min(5 * r.engine.overfetch, len(store.store))] * 2

    def short(docs):
        return np.zeros((len(docs) - 1, DIM))

    bad = GSTVectorStoreRetriever(
        metric="cosine",
        vectorstore=OpaqueStore(store),
        heads=heads,
        encoder=cached,
        vector_lookup=short,
    )
    with pytest.raises(StoreError, match="one row per document"):
        bad.invoke(QUERY, view="colour")
    none = GSTVectorStoreRetriever(
        metric="cosine",
        vectorstore=OpaqueStore(store),
        heads=heads,
        encoder=cached,
        vector_lookup=lambda d: None,
    )
    with pytest.raises(StoreError, match="returned None"):
        none.invoke(QUERY, view="colour")


def test_reencode_is_an_explicit_opt_in_that_warns_once(store, heads, cached) -> None:
    opaque = OpaqueStore(store)
    r = GSTVectorStoreRetriever(
        metric="cosine",
        vectorstore=opaque,
        heads=heads,
        encoder=cached,
        vector_lookup="reencode",
        k=5,
    )
    before = cached.n_encoded
    with pytest.warns(UserWarning, match="reencode.*approximate"):
        got = r.invoke(QUERY, view="colour")
    assert [d.id for d in got] == exact_top(heads, cached, "colour", 5)  # text-only store
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per store
        r.invoke(QUERY, view="shape")
    assert cached.n_encoded == before  # candidate texts come from the cache
    with pytest.raises(Exception, match="reencode"):
        GSTVectorStoreRetriever(
            metric="cosine", vectorstore=opaque, heads=heads, encoder=cached, vector_lookup="x"
        )


def test_supported_store_needs_no_option_and_matches_exact(store, heads, cached) -> None:
    r = GSTVectorStoreRetriever(
        metric="cosine", vectorstore=store, heads=heads, encoder=cached, k=5
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for view in ("colour", "shape"):
            assert [d.id for d in r.invoke(QUERY, view=view)] == exact_top(heads, cached, view, 5)
