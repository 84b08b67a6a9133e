"""A LangChain ``VectorStore`` as the query side's base index, and its stored vectors by type.

The query-side path (``GSTRetriever.from_vector_store``) over-fetches candidates from a
store's own index and re-ranks them exactly on their stored *base* vectors (the rule is
core's: ``gst_integrations.core.search.lookup``). LangChain's ``VectorStore``
interface returns documents, not vectors, so each supported store type has one adapter
here, chosen by ``isinstance`` against the store classes (never by probing attributes: a
pymongo ``Collection``, for one, answers every attribute name):

========================================  =================================================
store                                     how its vectors are read
========================================  =================================================
``langchain_core`` ``InMemoryVectorStore``  its public ``store`` dict (``{id: {"vector"}}``)
``langchain_chroma.Chroma``               public ``get(ids=..., include=["embeddings"])``
``langchain_milvus.Milvus``               public ``client.get(collection_name, ids=...,
                                          output_fields=[vector field])``; its documents
                                          carry the id in ``metadata[<primary field>]``
========================================  =================================================

Any other store needs ``vector_lookup=``: a callable ``docs -> (len(docs), d)`` array of
the documents' stored base vectors, in order, or ``"reencode"`` to re-encode
``page_content`` through the (cached) base encoder (approximate; it warns once). Without
either, such a store is refused with a ``StoreError`` when the retriever is built.

Framework classes are imported lazily, and only when their package is already loaded (a
store of that class cannot exist otherwise), so a missing optional package costs nothing.
"""

from __future__ import annotations

import importlib
import sys
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.documents import Document

from gst_integrations.core.errors import StoreError
from gst_integrations.core.hits import Candidate
from gst_integrations.core.search.lookup import LOOKUP_HINT, REENCODE

#: A user vector lookup: documents -> (len(docs), d) stored base vectors, in order.
VectorLookup = Callable[[Sequence[Document]], Any]

Vectors = list[np.ndarray | None]


@dataclass(frozen=True)
class StoreAdapter:
    """How to read one store type: the ids of its documents and their stored vectors."""

    name: str
    ids: Callable[[Any, Sequence[Document]], list[Any]]
    """The store's own ids of documents it returned (None where a document has none)."""
    vectors: Callable[[Any, Sequence[Document]], Vectors]
    """Stored vectors of documents, in order; None for an id the store no longer holds."""
    filter_arg: str = "filter"
    """The keyword its ``similarity_search_by_vector`` takes its own filter by."""


# -- one adapter per store type -----------------------------------------------------------
def _document_ids(store: Any, docs: Sequence[Document]) -> list[Any]:
    return [d.id for d in docs]


def _checked_ids(store: Any, docs: Sequence[Document], adapter: StoreAdapter) -> list[Any]:
    ids = adapter.ids(store, docs)
    if any(i is None for i in ids):
        raise StoreError(
            f"the {adapter.name} returned documents without ids, so their stored vectors "
            f"cannot be read; {LOOKUP_HINT}"
        )
    return ids


def in_memory_vectors(store: Any, docs: Sequence[Document]) -> Vectors:
    """``InMemoryVectorStore``: its public ``store`` dict maps id -> {"vector": ...}."""
    ids = _checked_ids(store, docs, _IN_MEMORY)
    rows = store.store
    out: Vectors = []
    for i in ids:
        rec = rows.get(i)
        out.append(None if rec is None else np.asarray(rec["vector"], np.float32))
    return out


def chroma_vectors(store: Any, docs: Sequence[Document]) -> Vectors:
    """``langchain_chroma.Chroma``: one batched public ``get(ids, include=["embeddings"])``."""
    ids = _checked_ids(store, docs, _CHROMA)
    if not ids:
        return []
    got = store.get(ids=list(ids), include=["embeddings"])
    by_id = dict(zip(got["ids"], got["embeddings"], strict=True))
    return [None if by_id.get(i) is None else np.asarray(by_id[i], np.float32) for i in ids]


#: (primary field, vector field) of each langchain-milvus store, read once from the schema.
_MILVUS_FIELDS: weakref.WeakKeyDictionary[Any, tuple[str, str]] = weakref.WeakKeyDictionary()


def _milvus_fields(store: Any) -> tuple[str, str]:
    """The primary and vector field names of a langchain-milvus store (public APIs only)."""
    try:
        return _MILVUS_FIELDS[store]
    except (KeyError, TypeError):  # not read yet, or a store that cannot be a weak key
        pass
    vector_fields = list(store.vector_fields)
    if len(vector_fields) != 1:
        raise StoreError(
            f"the Milvus store has {len(vector_fields)} vector fields {vector_fields}; the "
            f"view re-rank needs the one base-vector field: {LOOKUP_HINT}"
        )
    schema = store.client.describe_collection(store.collection_name)
    primary = [f["name"] for f in schema.get("fields", []) if f.get("is_primary")]
    if len(primary) != 1:
        raise StoreError(
            f"cannot find the primary key of Milvus collection {store.collection_name!r}"
        )
    fields = (primary[0], vector_fields[0])
    try:
        _MILVUS_FIELDS[store] = fields
    except TypeError:
        pass
    return fields


def milvus_ids(store: Any, docs: Sequence[Document]) -> list[Any]:
    """langchain-milvus leaves ``Document.id`` unset: the id is ``metadata[<primary>]``."""
    if not docs:
        return []
    primary, _ = _milvus_fields(store)
    return [d.id if d.id is not None else d.metadata.get(primary) for d in docs]


def milvus_vectors(store: Any, docs: Sequence[Document]) -> Vectors:
    """``langchain_milvus.Milvus``: one public ``client.get`` of the vector field by id."""
    ids = _checked_ids(store, docs, _MILVUS)
    if not ids:
        return []
    primary, field = _milvus_fields(store)
    rows = store.client.get(store.collection_name, ids=list(ids), output_fields=[field])
    by_id = {r[primary]: r[field] for r in rows}
    return [None if by_id.get(i) is None else np.asarray(by_id[i], np.float32) for i in ids]


_IN_MEMORY = StoreAdapter("InMemoryVectorStore", _document_ids, in_memory_vectors)
_CHROMA = StoreAdapter("langchain_chroma.Chroma", _document_ids, chroma_vectors)
# langchain-milvus filters by a boolean expression string, ``expr='condition == "Acne"'``.
_MILVUS = StoreAdapter("langchain_milvus.Milvus", milvus_ids, milvus_vectors, "expr")

#: (module, class name, adapter) of every supported store, most specific first.
_KNOWN: tuple[tuple[str, str, StoreAdapter], ...] = (
    ("langchain_core.vectorstores", "InMemoryVectorStore", _IN_MEMORY),
    ("langchain_chroma", "Chroma", _CHROMA),
    ("langchain_milvus", "Milvus", _MILVUS),
)


def _loaded_class(module: str, name: str) -> type | None:
    """``module.name`` if its package is already imported (else no store can be one)."""
    if module not in sys.modules:
        return None
    try:
        cls = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError):
        return None
    return cls if isinstance(cls, type) else None


def adapter_for(store: Any) -> StoreAdapter | None:
    """The adapter of a supported store type (by ``isinstance``), or None."""
    for module, name, adapter in _KNOWN:
        cls = _loaded_class(module, name)
        if cls is not None and isinstance(store, cls):
            return adapter
    return None


def chroma_collection(store: Any) -> Any:
    """The chromadb ``Collection`` behind a ``langchain_chroma.Chroma`` store.

    langchain-chroma has no public accessor for it; this is the one place that reads its
    ``_collection`` property (which raises when the collection was deleted).
    """
    return store._collection


# -- the store as a base index ------------------------------------------------------------
def store_kind(store: Any) -> str:
    """``module.Class`` of a store, for messages."""
    return f"{type(store).__module__}.{type(store).__qualname__}"


def document_ids(store: Any, docs: Sequence[Document]) -> list[Any]:
    """The store's ids of ``docs`` (``Document.id``, or where the store keeps them)."""
    adapter = adapter_for(store)
    return adapter.ids(store, docs) if adapter is not None else _document_ids(store, docs)


def filter_kwargs(store: Any, filter: Any) -> dict[str, Any]:
    """The store's own filter as keyword arguments of its ``similarity_search_by_vector``
    (``filter=`` for most stores, ``expr=`` for langchain-milvus); {} for no filter."""
    if filter is None:
        return {}
    adapter = adapter_for(store)
    return {adapter.filter_arg if adapter is not None else "filter": filter}


def lookup_vectors(store: Any, docs: Sequence[Document]) -> Vectors:
    """Stored base vectors of ``docs`` (by id), read by the store's type (None where the
    store no longer holds a document)."""
    adapter = adapter_for(store)
    if adapter is None:
        raise StoreError(
            f"cannot read stored base vectors from a {store_kind(store)}; {LOOKUP_HINT}"
        )
    return adapter.vectors(store, docs)


class LangChainStoreIndex:
    """A LangChain ``VectorStore`` as core's ``BaseIndex`` (``core.search.lookup``)."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.adapter = adapter_for(store)
        self.name = store_kind(store)
        self.reads_vectors = self.adapter is not None

    def query(self, vector: np.ndarray, n: int, where: Any) -> list[Candidate]:
        docs = self.store.similarity_search_by_vector(
            np.asarray(vector, np.float32).tolist(), k=int(n), **filter_kwargs(self.store, where)
        )
        ids = document_ids(self.store, docs)
        return [
            Candidate(
                id="" if i is None else str(i),
                document=d.page_content,
                metadata=dict(d.metadata),
                payload=d,
            )
            for d, i in zip(docs, ids, strict=True)
        ]

    def stored_vectors(self, candidates: Sequence[Candidate]) -> Vectors | None:
        if self.adapter is None:
            return None
        return self.adapter.vectors(self.store, [c.payload for c in candidates])

    def embed_texts(self, candidates: Sequence[Candidate]) -> list[str]:
        return [c.document or "" for c in candidates]


__all__ = [
    "REENCODE",
    "LangChainStoreIndex",
    "StoreAdapter",
    "VectorLookup",
    "adapter_for",
    "chroma_collection",
    "chroma_vectors",
    "document_ids",
    "filter_kwargs",
    "in_memory_vectors",
    "lookup_vectors",
    "milvus_ids",
    "milvus_vectors",
    "store_kind",
]
