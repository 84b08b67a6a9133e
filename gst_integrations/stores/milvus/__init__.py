"""Milvus (Lite, standalone or a cluster) as a home for written views.

``write_view_to_milvus`` writes one view of a ``ViewEngine`` into its own Milvus collection
and keeps it in sync, like ``stores.chroma.write_view_collection`` does for Chroma. Milvus
as a *base* store for the query-side path is reached through LangChain's
``langchain_milvus.Milvus`` and LlamaIndex's ``MilvusVectorStore`` (see their
``vector_lookup`` modules).

Nothing here imports pymilvus at import time: install the ``milvus`` extra
(``pip install 'gst-integrations[milvus]'``) to call it.
"""

from gst_integrations.stores.milvus.writeback import (
    WriteBackStats,
    sync_view_to_milvus,
    write_view_to_milvus,
)

__all__ = ["WriteBackStats", "sync_view_to_milvus", "write_view_to_milvus"]
