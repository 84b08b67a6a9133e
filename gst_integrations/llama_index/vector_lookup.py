"""A LlamaIndex vector store as the query side's base index, and its stored vectors by type.

The query-side path (``GSTRetriever.from_vector_store`` / ``from_index(query_side=True)``)
re-ranks over-fetched candidates exactly on their stored *base* vectors (the rule is core's:
``gst_integrations.core.search.lookup``). Nodes that already
carry ``.embedding`` need nothing more; for the others each supported store type has one
adapter, chosen by ``isinstance`` (never by probing attributes: a pymongo ``Collection``,
for one, answers every attribute name):

==============================================  ==============================================
store                                           how its vectors are read
==============================================  ==============================================
``ChromaVectorStore``                           public ``client`` (its chromadb collection):
                                                ``client.get(ids, include=["embeddings"])``
``SimpleVectorStore``                           public ``get(node_id)``
``MilvusVectorStore``                           public ``client.get(collection_name, ids,
                                                output_fields=[embedding_field])``
any other ``BasePydanticVectorStore``           public ``get_nodes(node_ids=...)``, when the
                                                store implements it and fills ``.embedding``
==============================================  ==============================================

Anything else needs ``vector_lookup=``: a callable ``nodes -> (len(nodes), d)`` array of
the nodes' stored base vectors, in order, or ``"reencode"`` to re-encode each node's
embedding text (``get_content(MetadataMode.EMBED)``, what ``VectorStoreIndex`` embeds)
through the cached base encoder (approximate; it warns once). Without either, a search
raises a ``StoreError`` naming the option: a view is never ranked in another order.

Framework classes are imported lazily, and only when their package is already loaded (a
store of that class cannot exist otherwise), so a missing optional package costs nothing.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from llama_index.core.schema import BaseNode, MetadataMode
from llama_index.core.vector_stores.simple import SimpleVectorStore
from llama_index.core.vector_stores.types import (
    BasePydanticVectorStore,
    MetadataFilters,
    VectorStoreQuery,
)

from gst_integrations.core.errors import GSTError, StoreError
from gst_integrations.core.hits import Candidate
from gst_integrations.core.search.lookup import REENCODE

#: A user vector lookup: nodes -> (len(nodes), d) stored base vectors, in order.
VectorLookup = Callable[[Sequence[BaseNode]], Any]

#: What a store adapter returns: id -> stored vector for the ids it holds, or None when the
#: store cannot give vectors at all.
Found = dict[str, np.ndarray] | None


def _loaded_class(module: str, name: str) -> type | None:
    """``module.name`` if its package is already imported (else no store can be one)."""
    if module not in sys.modules:
        return None
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return cls if isinstance(cls, type) else None


def chroma_store_class() -> type | None:
    """``ChromaVectorStore`` if llama-index-vector-stores-chroma is loaded."""
    return _loaded_class("llama_index.vector_stores.chroma", "ChromaVectorStore")


def is_chroma_store(store: Any) -> bool:
    """Whether ``store`` is a LlamaIndex ``ChromaVectorStore`` (by type)."""
    cls = chroma_store_class()
    return cls is not None and isinstance(store, cls)


def chroma_collection(store: Any) -> Any:
    """The chromadb collection of a ``ChromaVectorStore`` (its public ``client``)."""
    return store.client


# -- one adapter per store type -----------------------------------------------------------
def _as_vector(vec: Any) -> np.ndarray | None:
    return None if vec is None else np.asarray(vec, np.float32)


def chroma_vectors(store: Any, ids: Sequence[str]) -> Found:
    """``ChromaVectorStore``: one batched ``get`` on its public ``client`` (the collection)."""
    got = chroma_collection(store).get(ids=list(ids), include=["embeddings"])
    found = {i: _as_vector(v) for i, v in zip(got["ids"], got["embeddings"], strict=True)}
    return {i: v for i, v in found.items() if v is not None}


def simple_vectors(store: Any, ids: Sequence[str]) -> Found:
    """``SimpleVectorStore``: its public ``get(node_id)`` (KeyError for an id it lacks)."""
    out: dict[str, np.ndarray] = {}
    for i in ids:
        try:
            vec = store.get(i)
        except KeyError:  # deleted since the query
            continue
        if vec is not None:
            out[i] = np.asarray(vec, np.float32)
    return out


def milvus_vectors(store: Any, ids: Sequence[str]) -> Found:
    """``MilvusVectorStore``: one public ``client.get`` of the embedding field by id.

    Its primary key is the node id (field ``id`` in llama-index-vector-stores-milvus).
    """
    from llama_index.vector_stores.milvus.base import MILVUS_ID_FIELD

    field = store.embedding_field
    rows = store.client.get(store.collection_name, ids=list(ids), output_fields=[field])
    found = {str(r[MILVUS_ID_FIELD]): _as_vector(r.get(field)) for r in rows}
    return {i: v for i, v in found.items() if v is not None}


def get_nodes_vectors(store: Any, ids: Sequence[str]) -> Found:
    """Any ``BasePydanticVectorStore``: its public ``get_nodes(node_ids=...)``.

    None (no vectors to be had) when the store does not implement ``get_nodes`` or returns
    nodes without ``.embedding``.
    """
    try:
        nodes = store.get_nodes(node_ids=list(ids))
    except NotImplementedError:
        return None
    out: dict[str, np.ndarray] = {}
    for node in nodes or []:
        if node.embedding is None:
            return None  # this store does not return vectors
        out[node.node_id] = np.asarray(node.embedding, np.float32)
    return out


def _adapters() -> list[tuple[type, Callable[[Any, Sequence[str]], Found]]]:
    """(store class, adapter) of every supported store, most specific first."""
    out: list[tuple[type, Callable[[Any, Sequence[str]], Found]]] = []
    chroma = chroma_store_class()
    if chroma is not None:
        out.append((chroma, chroma_vectors))
    out.append((SimpleVectorStore, simple_vectors))
    milvus = _loaded_class("llama_index.vector_stores.milvus", "MilvusVectorStore")
    if milvus is not None:
        out.append((milvus, milvus_vectors))
    out.append((BasePydanticVectorStore, get_nodes_vectors))
    return out


def adapter_for(store: Any) -> Callable[[Any, Sequence[str]], Found] | None:
    """The adapter of a supported store type (by ``isinstance``), or None."""
    for cls, adapter in _adapters():
        if isinstance(store, cls):
            return adapter
    return None


def store_vectors(store: Any, ids: Sequence[str]) -> Found:
    """Stored vectors of ``ids`` read by the store's type: {id: vector} for the ids it
    holds, or None when this store type gives no vectors."""
    adapter = adapter_for(store)
    if adapter is None or not ids:
        return None if adapter is None else {}
    return adapter(store, ids)


class LlamaIndexStoreIndex:
    """A LlamaIndex vector store as core's ``BaseIndex`` (``core.search.lookup``).

    Stores that keep no text (``SimpleVectorStore``) read their nodes from ``docstore``.
    """

    def __init__(self, vector_store: Any, docstore: Any = None) -> None:
        self.store = vector_store
        self.docstore = docstore
        self.adapter = adapter_for(vector_store)
        self.name = type(vector_store).__name__
        self.reads_vectors = self.adapter is not None

    def query(self, vector: np.ndarray, n: int, where: Any) -> list[Candidate]:
        kwargs: dict[str, Any] = {}
        filters = where
        if isinstance(where, dict):  # a Chroma where dict, passed as the store's own kwarg
            if not is_chroma_store(self.store):
                raise GSTError(
                    "a Chroma where dict only works on a ChromaVectorStore; pass LlamaIndex "
                    "MetadataFilters for other vector stores"
                )
            kwargs["where"], filters = where, None
        elif where is not None and not isinstance(where, MetadataFilters):
            raise GSTError(f"filters must be MetadataFilters or a Chroma where dict, got {where!r}")
        result = self.store.query(
            VectorStoreQuery(
                query_embedding=np.asarray(vector, np.float32).ravel().tolist(),
                similarity_top_k=int(n),
                filters=filters,
            ),
            **kwargs,
        )
        nodes = list(result.nodes or [])
        ids = list(result.ids or [node.node_id for node in nodes])
        if len(nodes) != len(ids):
            nodes = self._nodes_from_docstore(ids)
        return [
            Candidate(
                id=str(i),
                document=node.get_content(metadata_mode=MetadataMode.NONE),
                metadata=dict(node.metadata),
                vector=None if node.embedding is None else np.asarray(node.embedding, np.float32),
                payload=node,
            )
            for i, node in zip(ids, nodes, strict=True)
        ]

    def _nodes_from_docstore(self, ids: Sequence[str]) -> list[BaseNode]:
        if self.docstore is None:
            raise StoreError(
                f"{self.name} keeps no text; pass docstore= (index.docstore), or build the "
                "retriever with GSTRetriever.from_index(index)"
            )
        return [self.docstore.get_node(i) for i in ids]

    def stored_vectors(self, candidates: Sequence[Candidate]) -> list[np.ndarray | None] | None:
        found = store_vectors(self.store, [c.id for c in candidates])
        return None if found is None else [found.get(c.id) for c in candidates]

    def embed_texts(self, candidates: Sequence[Candidate]) -> list[str]:
        return [c.payload.get_content(metadata_mode=MetadataMode.EMBED) for c in candidates]


__all__ = [
    "REENCODE",
    "LlamaIndexStoreIndex",
    "VectorLookup",
    "adapter_for",
    "chroma_collection",
    "chroma_vectors",
    "get_nodes_vectors",
    "is_chroma_store",
    "milvus_vectors",
    "simple_vectors",
    "store_vectors",
]
