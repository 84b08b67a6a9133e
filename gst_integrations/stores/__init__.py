"""Vector stores that hold base vectors (Chroma), and writing views back into them."""

from .chroma import (
    ChromaSource,
    chroma_client,
    chroma_search_base,
    embed_into_chroma,
    open_chroma_collection,
    read_fingerprint,
    record_fingerprint,
)
from .writeback import WriteBackStats, sync_view_collection, write_view_collection

__all__ = [
    "ChromaSource",
    "WriteBackStats",
    "chroma_client",
    "chroma_search_base",
    "embed_into_chroma",
    "open_chroma_collection",
    "read_fingerprint",
    "record_fingerprint",
    "sync_view_collection",
    "write_view_collection",
]
