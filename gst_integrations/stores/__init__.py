"""Vector stores that hold base vectors. Chroma is the default (``stores.chroma``); other
stores are reached through LangChain's and LlamaIndex's vector-store interfaces."""

from gst_integrations.stores.chroma import (
    ChromaSource,
    WriteBackStats,
    chroma_client,
    chroma_search_base,
    embed_into_chroma,
    open_chroma_collection,
    read_fingerprint,
    record_fingerprint,
    sync_view_collection,
    write_view_collection,
)

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
