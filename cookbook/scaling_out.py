"""Scaling out: a Chroma server, a view written back as its own collection, and the
query-side path over a store this package does not manage.

1. Start a real `chroma run` server (a subprocess on a free port) and embed the corpus into it
   once, through `HttpClient`.
2. Materialise a view from the server's base vectors and **write it back** as its own
   collection (`<collection>.<view>`): any Chroma deployment can then index and serve the view
   with its own HNSW, like any other collection.
3. **Query-side path**: a linear head needs nothing materialised. For an inner-product view
   (Wq)·(Wx) = (WᵀWq)·x, so a rewritten query searches the *base* index of any store. Here the
   store is a LangChain `InMemoryVectorStore` filled with the base vectors (it could be any
   LangChain / LlamaIndex vector store, or a plain chromadb collection); we compare its top-10
   with the materialised view's.

Run: python cookbook/scaling_out.py
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import chromadb  # noqa: E402
import numpy as np  # noqa: E402
from langchain_core.vectorstores import InMemoryVectorStore  # noqa: E402

from gst_integrations import fit_head  # noqa: E402
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.hits import Candidate
from gst_integrations.core.paths import default_cache_dir
from gst_integrations.core.search.query_side import QuerySideSearcher  # noqa: E402
from gst_integrations.core.views.engine import ViewEngine  # noqa: E402
from gst_integrations.evaluation.datasets import load_drug_reviews  # noqa: E402
from gst_integrations.langchain import GSTEmbeddings  # noqa: E402
from gst_integrations.stores import (  # noqa: E402
    ChromaSource,
    embed_into_chroma,
    open_chroma_collection,
    write_view_collection,
)

INSTRUCTION = "Which condition is the patient treating?"
QUERY = "this medicine finally let me sleep through the night"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    """`chroma run` (the executable next to this Python) and wait until it answers."""
    exe = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            chromadb.HttpClient(host="127.0.0.1", port=port).heartbeat()
            return proc
        except Exception:
            if proc.poll() is not None:
                raise RuntimeError("chroma run exited early") from None
            time.sleep(0.3)
    proc.terminate()
    raise RuntimeError("chroma run did not start within 30 s")


def main() -> None:
    corpus = load_drug_reviews().subset(list(range(0, 495, 3)))  # 165 reviews
    encoder = CachedEncoder(None, VectorCache(default_cache_dir() / "vectors.sqlite"))
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        server = start_chroma(Path(tmp) / "server-data", port)
        try:
            print(f"chroma server running on port {port} (pid {server.pid})")
            client = chromadb.HttpClient(host="127.0.0.1", port=port)
            coll = open_chroma_collection(
                "reviews", client=client, create=True, encoder_fingerprint=encoder.fingerprint()
            )
            n = embed_into_chroma(coll, corpus.texts, corpus.ids, corpus.metadata, encoder)
            print(f"embedded {n} reviews once into the server collection 'reviews'")

            X = encoder.encode(corpus.texts)  # from the cache: nothing is encoded twice
            y = corpus.facets["condition"]
            head = fit_head(INSTRUCTION, X, y, encoder=encoder.base_encoder, name="condition")
            engine = ViewEngine(ChromaSource(coll), {"condition": head}, encoder=encoder)
            stats = write_view_collection(engine, "condition", client, show_progress=False)
            view_coll = client.get_collection("reviews.condition", embedding_function=None)
            print(
                f"wrote view 'condition' back: collection 'reviews.condition' holds "
                f"{view_coll.count()} {head.out_dim}-d vectors ({stats.written} written)"
            )
            qz = engine.query_vector(QUERY, "condition")
            got = view_coll.query(query_embeddings=[qz], n_results=3, include=["metadatas"])
            conds = [m["condition"] for m in got["metadatas"][0]]
            print(f"server-side HNSW search of the written view for {QUERY!r}: {conds}")
            materialised = engine.search(QUERY, "condition", k=10)
        finally:
            server.terminate()
            server.wait(timeout=30)
            print("chroma server stopped")

    # Query-side path over a store the package does not own: a LangChain InMemoryVectorStore.
    store = InMemoryVectorStore(GSTEmbeddings(encoder=encoder))
    store.add_texts(corpus.texts, metadatas=corpus.metadata, ids=corpus.ids)
    by_id = dict(zip(corpus.ids, X, strict=True))

    def search_base(vector: np.ndarray, n: int) -> list[Candidate]:
        docs = store.similarity_search_by_vector(vector.tolist(), k=n)
        return [Candidate(d.id, d.page_content, d.metadata, by_id[d.id]) for d in docs]

    searcher = QuerySideSearcher(head, search_base, metric="cosine", overfetch=4)
    query_side = searcher.search(encoder.encode([QUERY])[0], k=10)
    recall = len({h.id for h in query_side} & {h.id for h in materialised}) / 10
    print(
        "query-side top-3 from InMemoryVectorStore (nothing materialised): "
        f"{[h.metadata['condition'] for h in query_side[:3]]}"
    )
    print(f"query-side recall@10 vs the materialised view: {recall:.2f}")


if __name__ == "__main__":
    main()
