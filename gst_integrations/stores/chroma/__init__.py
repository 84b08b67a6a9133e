"""Chroma, the default home of base vectors: collections that record their encoder, embedding
once, paged reads, the HNSW index as a query-side base index, and views written back.

Chroma's default embedding function downloads a model, so every collection here is opened
with ``embedding_function=None``: vectors always come from our own encoder.
"""

from gst_integrations.stores.chroma.collection import (
    adopt_fingerprint,
    chroma_client,
    open_chroma_collection,
    read_fingerprint,
    record_fingerprint,
    settable_metadata,
)
from gst_integrations.stores.chroma.embed import embed_into_chroma
from gst_integrations.stores.chroma.search import chroma_search_base
from gst_integrations.stores.chroma.source import ChromaSource
from gst_integrations.stores.chroma.writeback import (
    WriteBackStats,
    sync_view_collection,
    write_view_collection,
)

__all__ = [
    "adopt_fingerprint",
    "ChromaSource",
    "WriteBackStats",
    "chroma_client",
    "chroma_search_base",
    "embed_into_chroma",
    "open_chroma_collection",
    "read_fingerprint",
    "record_fingerprint",
    "settable_metadata",
    "sync_view_collection",
    "write_view_collection",
]
