"""The shared 60-review sample embedded once into an embedded Chroma in a temp dir.

Module-level caches, because the standard suites read their constructor parameters from
class properties rather than fixtures.
"""

from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from typing import Any

from langchain_chroma import Chroma
from lc_testdata import embeddings, heads, reviews

from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.stores import ChromaSource, embed_into_chroma, open_chroma_collection

COLLECTION = "drug_reviews"


@functools.cache
def chroma_client() -> Any:
    """An embedded PersistentClient in a temp dir (removed at exit), telemetry off."""
    import chromadb
    from chromadb.config import Settings

    path = tempfile.mkdtemp(prefix="gst-lc-chroma-")
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return chromadb.PersistentClient(path=path, settings=Settings(anonymized_telemetry=False))


@functools.cache
def collection() -> Any:
    """The sample's base vectors, embedded once (from the shared cache: no re-encoding)."""
    enc = embeddings().base_encoder
    col = open_chroma_collection(
        COLLECTION, client=chroma_client(), create=True, encoder_fingerprint=enc.fingerprint()
    )
    corpus = reviews()
    embed_into_chroma(col, corpus.texts, corpus.ids, corpus.metadata, encoder=enc)
    return col


@functools.cache
def lc_store() -> Chroma:
    """The same collection seen as a ``langchain_chroma.Chroma`` store."""
    collection()
    return Chroma(
        client=chroma_client(), collection_name=COLLECTION, embedding_function=embeddings()
    )


@functools.cache
def engine() -> ViewEngine:
    return ViewEngine(ChromaSource(collection()), heads(), encoder=embeddings(), device="cpu")
