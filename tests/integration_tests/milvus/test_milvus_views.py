"""A second real engine: views over Milvus Lite, with the real encoder and real reviews.

1. LangChain: reviews in a ``langchain_milvus.Milvus`` store (COSINE, FLAT), a linear head
   fitted on the stored vectors; ``GSTVectorStoreRetriever`` (query-side) returns exactly
   the materialised view's top-k.
2. LlamaIndex: a ``MilvusVectorStore`` behind a ``VectorStoreIndex``;
   ``GSTRetriever.from_vector_store`` returns exactly the materialised view's top-k.
3. ``write_view_to_milvus``: a view of a ViewEngine over Chroma written to Milvus answers
   like the engine, and a re-sync after an update rewrites only the updated row.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np
import pytest
from milvus_helpers import QUERIES, exact_view_top, lite_milvus_class

from gst_integrations import fit_head

pytestmark = pytest.mark.integration

K = 5
DIM = 384


def _fit(X: np.ndarray, labels: list[str], cached: Any) -> Any:
    return fit_head(
        "Which condition is the patient treating?",
        X,
        labels,
        encoder=cached,
        name="condition",
        device="cpu",
        family="linear",
        max_epochs=40,
    )


def _recall(got: list[str], want: list[str]) -> float:
    return len(set(got) & set(want)) / len(want)


# -- 1. LangChain ---------------------------------------------------------------------------
def test_langchain_milvus_query_side_equals_the_materialised_view(lite_db, sample, cached):
    from gst_integrations.langchain import GSTEmbeddings, GSTVectorStoreRetriever

    LiteMilvus = lite_milvus_class()
    store = LiteMilvus(
        embedding_function=GSTEmbeddings(encoder=cached),
        collection_name="reviews",
        connection_args={"uri": lite_db},
        index_params={"index_type": "FLAT", "metric_type": "COSINE", "params": {}},
        search_params={"metric_type": "COSINE", "params": {}},
        drop_old=True,
        auto_id=False,
    )
    try:
        store.add_texts(sample.texts, metadatas=sample.metadata, ids=sample.ids)
        store.client.flush(store.collection_name)
        rows = store.client.get(store.collection_name, ids=sample.ids, output_fields=["vector"])
        by_id = {r["pk"]: r["vector"] for r in rows}
        X = np.asarray([by_id[i] for i in sample.ids], np.float32)  # the STORED vectors
        head = _fit(X, sample.facets["condition"], cached)

        retriever = GSTVectorStoreRetriever(
            vectorstore=store, heads={"condition": head}, k=K, metric="cosine"
        )
        ip = GSTVectorStoreRetriever(vectorstore=store, heads={"condition": head}, k=K, metric="ip")
        recalls = []
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)  # read, never re-encoded
            warnings.filterwarnings("ignore", message="a cosine view on the query-side")
            for query in QUERIES:
                q = cached.encode_query([query])[0]
                want = exact_view_top(head, X, sample.ids, q, K)
                got = retriever.invoke(query, view="condition")
                assert all(d.id for d in got)  # the Milvus primary key, not None
                recalls.append(_recall([d.id for d in got], want))
                assert [d.id for d in got] == want, query
                # the scores are the view's cosine similarities
                Z = head.transform(X[[sample.ids.index(d.id) for d in got]])
                qz = head.transform(q[None, :])[0]
                cos = Z @ qz / (np.linalg.norm(Z, axis=1) * np.linalg.norm(qz))
                np.testing.assert_allclose(
                    [d.metadata["gst_score"] for d in got], cos, rtol=1e-4, atol=1e-5
                )
                # "ip" views: the exact inner-product top-k
                Zi, qi = head.transform(X), head.transform(q[None, :])[0]
                want_ip = [sample.ids[i] for i in np.argsort(-(Zi @ qi), kind="stable")[:K]]
                assert [d.id for d in ip.invoke(query, view="condition")] == want_ip
        per_query = (time.perf_counter() - t0) / len(QUERIES)
        print(
            f"\nlangchain-milvus FLAT, {len(sample.ids)} reviews, overfetch "
            f"{retriever.engine.overfetch}: recall@{K} = {np.mean(recalls):.3f} "
            f"over {len(QUERIES)} "
            f"queries ({per_query * 1000:.0f} ms per query, cosine + ip)"
        )
        assert np.mean(recalls) == 1.0
        # for the record: how much over-fetching the cosine re-rank needs on this corpus
        for overfetch in (1, 2, 4):
            low = GSTVectorStoreRetriever(
                vectorstore=store,
                heads={"condition": head},
                k=K,
                overfetch=overfetch,
                metric="cosine",
            )
            r = np.mean(
                [
                    _recall(
                        [d.id for d in low.invoke(query, view="condition")],
                        exact_view_top(head, X, sample.ids, cached.encode_query([query])[0], K),
                    )
                    for query in QUERIES
                ]
            )
            print(f"  overfetch {overfetch}: recall@{K} = {r:.3f}")
        # the store's own filter (a Milvus expression) reaches the store
        acne = [j for j, c in enumerate(sample.facets["condition"]) if c == "Acne"]
        q = cached.encode_query([QUERIES[3]])[0]
        want = exact_view_top(head, X[acne], [sample.ids[j] for j in acne], q, K)
        got = retriever.invoke(QUERIES[3], view="condition", filter='condition == "Acne"')
        assert [d.id for d in got] == want
        assert {d.metadata["condition"] for d in got} == {"Acne"}
        base = retriever.invoke(QUERIES[0], view=None)
        assert len(base) == K and all(d.id in by_id for d in base)
    finally:
        store.client.close()


# -- 2. LlamaIndex ----------------------------------------------------------------------------
def test_llama_index_milvus_query_side_equals_the_materialised_view(lite_db, sample, cached):
    from llama_index.core import StorageContext, VectorStoreIndex
    from llama_index.core.schema import TextNode
    from llama_index.vector_stores.milvus import MilvusVectorStore

    from gst_integrations.llama_index import GSTEmbedding, GSTRetriever

    vs = MilvusVectorStore(
        uri=lite_db,
        collection_name="reviews",
        dim=DIM,
        overwrite=True,
        similarity_metric="COSINE",
        index_config={"index_type": "FLAT"},
        search_config={"params": {}},
        use_async_client=False,
    )
    try:
        embed = GSTEmbedding(encoder=cached)
        # LlamaIndex embeds text AND metadata here: the re-rank reads the stored vectors,
        # so it stays exact whatever was embedded.
        nodes = [
            TextNode(id_=i, text=t, metadata=m)
            for i, t, m in zip(sample.ids, sample.texts, sample.metadata, strict=True)
        ]
        index = VectorStoreIndex(
            nodes, storage_context=StorageContext.from_defaults(vector_store=vs), embed_model=embed
        )
        vs.client.flush(vs.collection_name)
        rows = vs.client.get(vs.collection_name, ids=sample.ids, output_fields=["embedding"])
        by_id = {r["id"]: r["embedding"] for r in rows}
        X = np.asarray([by_id[i] for i in sample.ids], np.float32)
        assert not np.allclose(X[:3], cached.encode(sample.texts[:3]), atol=1e-3)  # text+meta
        head = _fit(X, sample.facets["condition"], cached)

        retriever = GSTRetriever.from_vector_store(
            vs, {"condition": head}, embed, similarity_top_k=K, metric="cosine"
        )
        assert type(retriever.engine).__name__ == "QuerySideBackend"  # nothing materialised
        recalls = []
        with warnings.catch_warnings():
            warnings.simplefilter("error", UserWarning)
            warnings.filterwarnings("ignore", message="a cosine view on the query-side")
            for query in QUERIES:
                want = exact_view_top(head, X, sample.ids, cached.encode_query([query])[0], K)
                got = retriever.retrieve(query, view="condition")
                assert all(n.view == "condition" for n in got)
                recalls.append(_recall([n.node.node_id for n in got], want))
                assert [n.node.node_id for n in got] == want, query
        print(
            f"\nllama-index MilvusVectorStore FLAT, {len(sample.ids)} reviews, default over-fetch: "
            f"recall@{K} = {np.mean(recalls):.3f} over {len(QUERIES)} queries"
        )
        from_index = GSTRetriever.from_index(
            index, {"condition": head}, similarity_top_k=K, metric="cosine"
        )
        got = from_index.retrieve(QUERIES[0], view="condition")
        assert [n.node.node_id for n in got] == exact_view_top(
            head, X, sample.ids, cached.encode_query([QUERIES[0]])[0], K
        )
    finally:
        vs.client.close()


# -- 3. write-back ------------------------------------------------------------------------------
def test_write_view_to_milvus_serves_the_view_and_resyncs_updates(
    lite_db, tmp_path, sample, cached
):
    from pymilvus import MilvusClient

    from gst_integrations.core.errors import StoreError
    from gst_integrations.core.views.engine import ViewEngine
    from gst_integrations.stores import (
        ChromaSource,
        chroma_client,
        embed_into_chroma,
        open_chroma_collection,
    )
    from gst_integrations.stores.milvus import write_view_to_milvus

    n = len(sample.ids)
    col = open_chroma_collection("reviews", client=chroma_client(tmp_path / "chroma"), create=True)
    embed_into_chroma(col, sample.texts, sample.ids, sample.metadata, cached, batch_size=64)
    head = _fit(cached.encode(sample.texts), sample.facets["condition"], cached)
    engine = ViewEngine(ChromaSource(col), {"condition": head}, encoder=cached, device="cpu")

    client = MilvusClient(lite_db)
    name = "reviews_condition"
    try:
        flat = client.prepare_index_params()
        flat.add_index("vector", index_type="FLAT", metric_type="COSINE")  # exact answers

        def stop_after_two_batches(written: int) -> None:
            if written >= 64:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):  # an interrupted write ...
            write_view_to_milvus(
                engine,
                "condition",
                client,
                name,
                batch_size=32,
                show_progress=False,
                index_params=flat,
                on_batch=stop_after_two_batches,
            )
        stats = write_view_to_milvus(engine, "condition", client, name, 32, False)
        assert (stats.written, stats.skipped, stats.total) == (n - 64, 64, n)  # ... resumes

        # the written view answers like the engine
        for query in QUERIES:
            qz = engine.query_vector(query, "condition")
            hits = client.search(name, data=[qz.tolist()], limit=K, output_fields=["document"])
            want = engine.search(query, "condition", k=K)
            assert [h["id"] for h in hits[0]] == [h.id for h in want], query
            np.testing.assert_allclose(
                [h["distance"] for h in hits[0]], [h.score for h in want], atol=1e-4
            )
        row = client.get(name, ids=[sample.ids[3]], output_fields=["document", "metadata"])[0]
        assert row["document"] == sample.texts[3]
        assert row["metadata"]["condition"] == sample.metadata[3]["condition"]

        # a re-sync with nothing changed writes nothing
        stats = write_view_to_milvus(engine, "condition", client, name, show_progress=False)
        assert (stats.written, stats.skipped, stats.deleted) == (0, n, 0)

        # an update in Chroma (same id, new text) is rewritten, and only it
        target = sample.ids[7]
        new_text = "I took this for my migraines and the headaches stopped within a day"
        meta = dict(sample.metadata[7])
        embed_into_chroma(col, [new_text], [target], [meta], cached)
        engine.refresh()
        stats = write_view_to_milvus(engine, "condition", client, name, show_progress=False)
        assert (stats.written, stats.skipped, stats.total) == (1, n - 1, n)
        assert client.get(name, ids=[target], output_fields=["document"])[0]["document"] == (
            new_text
        )
        qz = engine.query_vector(new_text, "condition")
        hits = client.search(name, data=[qz.tolist()], limit=1, output_fields=["document"])
        assert hits[0][0]["id"] == target and hits[0][0]["entity"]["document"] == new_text

        # a deleted document leaves the written view
        col.delete(ids=[sample.ids[0]])
        engine.refresh()
        stats = write_view_to_milvus(engine, "condition", client, name, show_progress=False)
        assert (stats.written, stats.deleted, stats.total) == (0, 1, n - 1)
        assert client.get(name, ids=[sample.ids[0]]) == []

        engine.register("other", head)
        with pytest.raises(StoreError, match="holds view 'condition'"):
            write_view_to_milvus(engine, "other", client, name, show_progress=False)
    finally:
        client.close()
