"""``GSTRetriever``: a LlamaIndex retriever that searches stored vectors in a chosen view.

It only translates: core's retrieval paths (``gst_integrations.core.search.ViewSearch``) do
the searching, and this class turns their hits into nodes and LlamaIndex's options
(``similarity_top_k``, ``MetadataFilters``) into theirs. Two paths reach the vectors a
``VectorStoreIndex`` already wrote with the base encoder:

* **materialised** (``from_chroma``, or ``from_index`` over a ``ChromaVectorStore``): core's
  ``ViewEngine`` holds the base vectors and searches any head exactly;
* **query side** (``from_vector_store``, or ``from_index`` over any other store): for linear
  heads the query is rewritten and the store's own index searched; nothing is materialised.

Per-call options are keyword arguments of ``retrieve``/``aretrieve`` (``view=``,
``similarity_top_k=``, ``filters=``), or a derived retriever from ``with_view`` /
``with_options`` (what you hand to a query engine, a tool or a fusion retriever).
Returned nodes are the stored nodes, unchanged, so a node has the same identity (hash)
whichever view found it and fusion counts it once; the view that scored it is
``ViewNodeWithScore.view``.

LlamaIndex embeds a node's metadata together with its text unless the keys are in
``excluded_embed_metadata_keys``: fit heads on the vectors the index stored, and query with
the same kind of text.
"""

from __future__ import annotations

import asyncio
from typing import Any

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import BaseNode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import MetadataFilters
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from gst_integrations.core.encoders.cache import CachedEncoder, cached_encoder
from gst_integrations.core.errors import StoreError
from gst_integrations.core.heads.blend import ViewSpec
from gst_integrations.core.heads.head import Head
from gst_integrations.core.hits import VIEW_KEY, SearchHit
from gst_integrations.core.search.backend import QuerySideBackend
from gst_integrations.core.search.protocol import ViewSearch
from gst_integrations.core.search.query_side import DEFAULT_METRIC, DEFAULT_OVERFETCH
from gst_integrations.core.validation import check_k
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.options import split_engine_options
from gst_integrations.llama_index.embedding import GSTEmbedding
from gst_integrations.llama_index.filters import to_chroma_where
from gst_integrations.llama_index.vector_lookup import (
    LlamaIndexStoreIndex,
    chroma_collection,
    is_chroma_store,
)
from gst_integrations.stores.chroma import ChromaSource, adopt_fingerprint

__all__ = ["VIEW_KEY", "GSTRetriever", "ViewNodeWithScore", "hit_to_node"]

_UNSET: Any = object()

Filters = MetadataFilters | dict[str, Any] | None


class ViewNodeWithScore(NodeWithScore):
    """A node, its score, and the view that scored it (None: the generic vectors)."""

    view: str | None = None

    @classmethod
    def class_name(cls) -> str:
        return "ViewNodeWithScore"


def hit_to_node(hit: SearchHit) -> BaseNode:
    """The node a hit stands for: the store's own node (query side), or the node LlamaIndex
    wrote (``_node_content``) rebuilt from the row; rows written by other tools become
    plain ``TextNode``s."""
    if isinstance(hit.payload, BaseNode):
        return hit.payload
    metadata = dict(hit.metadata or {})
    try:
        return metadata_dict_to_node(metadata, text=hit.document)
    except Exception:  # not written by LlamaIndex: keep what the row has
        return TextNode(id_=hit.id, text=hit.document or "", metadata=metadata)


def _embedding_view(embed_model: Any) -> str | None:
    """The view name of a headed ``GSTEmbedding`` (None for base vectors or another model)."""
    if isinstance(embed_model, GSTEmbedding) and embed_model.head is not None:
        return embed_model.view or "<head>"
    return None


class GSTRetriever(BaseRetriever):
    """Retrieve nodes of an existing index in an instruction view (or the base space).

    Build it with ``from_index`` (a ``VectorStoreIndex`` built with the base encoder),
    ``from_chroma`` (a ``ChromaVectorStore`` or Chroma collection), ``from_vector_store``
    (query side, any store, linear heads), or from a core ``ViewEngine`` /
    ``QuerySideBackend``.

    Args:
        engine: the core retrieval path.
        view: default view name (None: base vectors), or a blend ``{view: weight}``.
        similarity_top_k: default number of nodes.
        filters: default filters: LlamaIndex ``MetadataFilters`` or a Chroma where dict.
        where_document: default Chroma ``where_document`` filter (materialised only).
    """

    def __init__(
        self,
        engine: ViewSearch | None = None,
        *,
        view: ViewSpec = None,
        similarity_top_k: int = 4,
        filters: Filters = None,
        where_document: dict[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
        object_map: dict | None = None,
        verbose: bool = False,
    ) -> None:
        if not isinstance(engine, ViewSearch):
            raise TypeError(
                "GSTRetriever needs a ViewEngine or QuerySideBackend; or use "
                "GSTRetriever.from_index / from_chroma / from_vector_store"
            )
        self._engine = engine
        self.similarity_top_k = similarity_top_k
        self._filters = filters
        self._where_document = where_document
        engine.check(view)
        self._view = view
        super().__init__(callback_manager=callback_manager, object_map=object_map, verbose=verbose)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_chroma(
        cls,
        vector_store: Any,
        heads: Any,
        encoder: Any = None,
        *,
        cache: Any = None,
        engine_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> GSTRetriever:
        """Materialised views over a ``ChromaVectorStore`` (or a chromadb ``Collection``).

        ``heads`` is a ``HeadStore`` or a dict of name -> Head; ``encoder`` is the base
        encoder the index was built with (a ``GSTEmbedding`` shares its vector cache).
        ``engine_options`` are ``EngineOptions`` fields (metric, max_staleness, dtype, ...);
        other keyword arguments are retriever options (view, similarity_top_k, filters, ...).
        """
        import chromadb

        if is_chroma_store(vector_store):
            collection = chroma_collection(vector_store)
        elif isinstance(vector_store, chromadb.Collection):
            collection = vector_store
        else:
            raise TypeError(
                f"expected a ChromaVectorStore or a chromadb Collection, "
                f"got {type(vector_store).__name__}"
            )
        if _embedding_view(encoder) is not None:
            raise _view_vectors_error(encoder)
        cached = cached_encoder(encoder, cache)
        if isinstance(encoder, GSTEmbedding):  # filled through our base embedding
            adopt_fingerprint(collection, cached, _node_embed_text)
        options, fields = split_engine_options(engine_options, kwargs)
        engine = ViewEngine(ChromaSource(collection), heads, encoder=cached, **options)
        return cls(engine, **fields)

    @classmethod
    def from_vector_store(
        cls,
        vector_store: Any,
        heads: Any,
        encoder: Any = None,
        *,
        docstore: Any = None,
        cache: Any = None,
        overfetch: int = DEFAULT_OVERFETCH,
        metric: str = DEFAULT_METRIC,
        vector_lookup: Any = None,
        **kwargs: Any,
    ) -> GSTRetriever:
        """Query-side views (linear heads) over any LlamaIndex vector store.

        Stores that keep no text (``SimpleVectorStore``) need the index's ``docstore``.
        Candidates are re-ranked exactly on their stored base vectors, read by the store's
        type (``gst_integrations.llama_index.vector_lookup``); for other stores pass
        ``vector_lookup``: a callable ``nodes -> (len(nodes), d)`` array of their stored
        vectors, or ``"reencode"`` (approximate; warns once). ``metric`` "ip" (default)
        lets the store's index order candidates by the view's own score.
        """
        if _embedding_view(encoder) is not None:
            raise _view_vectors_error(encoder)
        backend = QuerySideBackend(
            LlamaIndexStoreIndex(vector_store, docstore),
            heads,
            cached_encoder(encoder, cache),
            metric=metric,
            overfetch=overfetch,
            vector_lookup=vector_lookup,
        )
        return cls(backend, **kwargs)

    @classmethod
    def from_index(
        cls, index: Any, heads: Any, *, query_side: bool | None = None, **kwargs: Any
    ) -> GSTRetriever:
        """Views over a ``VectorStoreIndex`` built with the base encoder.

        A ``ChromaVectorStore`` gets materialised views unless ``query_side=True``; any
        other vector store gets the query side. The index's embed model is the base
        encoder unless ``encoder=`` is given; an index built with a headed ``GSTEmbedding``
        holds view vectors and is refused.
        """
        vector_store = index.vector_store
        encoder = kwargs.pop("encoder", None) or getattr(index, "_embed_model", None)
        if _embedding_view(encoder) is not None:
            raise _view_vectors_error(encoder)
        if query_side is None:
            query_side = not is_chroma_store(vector_store)
        if not query_side:
            # Materialised views read the collection's vectors themselves, exactly.
            for option in ("vector_lookup", "overfetch", "docstore"):
                kwargs.pop(option, None)
            if "metric" in kwargs:
                kwargs["engine_options"] = {
                    **(kwargs.get("engine_options") or {}),
                    "metric": kwargs.pop("metric"),
                }
            return cls.from_chroma(vector_store, heads, encoder, **kwargs)
        kwargs.setdefault("docstore", index.docstore)
        return cls.from_vector_store(vector_store, heads, encoder, **kwargs)

    # -- options --------------------------------------------------------------------------
    @property
    def engine(self) -> ViewSearch:
        """The core retrieval path (``ViewEngine`` or ``QuerySideBackend``)."""
        return self._engine

    @property
    def view(self) -> ViewSpec:
        """The default view of this retriever (None: base vectors)."""
        return self._view

    @property
    def similarity_top_k(self) -> int:
        """How many nodes a retrieval returns."""
        return self._similarity_top_k

    @similarity_top_k.setter
    def similarity_top_k(self, value: int) -> None:
        self._similarity_top_k = check_k(value, "similarity_top_k")

    @property
    def base_encoder(self) -> CachedEncoder:
        """The cached base encoder queries go through (shared with the index's embedding)."""
        return self._engine.encoder

    def views(self) -> list[str]:
        """Names of the registered views."""
        return self._engine.views()

    def head(self, view: str) -> Head:
        """The head of a registered view (UnknownViewError otherwise)."""
        return self._engine.head(view)

    def register(self, name: str, head: Head) -> None:
        """Register a head as a new view (checked against the store and encoder on use)."""
        self._engine.register(name, head)

    def with_options(
        self,
        *,
        view: ViewSpec = _UNSET,
        similarity_top_k: int | None = None,
        filters: Filters = _UNSET,
        where_document: dict[str, Any] | None = _UNSET,
    ) -> GSTRetriever:
        """A retriever sharing this one's engine and views, with other defaults."""
        return GSTRetriever(
            self._engine,
            view=self._view if view is _UNSET else view,
            similarity_top_k=self._similarity_top_k
            if similarity_top_k is None
            else similarity_top_k,
            filters=self._filters if filters is _UNSET else filters,
            where_document=self._where_document if where_document is _UNSET else where_document,
            callback_manager=self.callback_manager,
            object_map=self.object_map,
            verbose=self._verbose,
        )

    def with_view(self, view: ViewSpec) -> GSTRetriever:
        """The same retriever in another view (None: base vectors)."""
        return self.with_options(view=view)

    # -- retrieval ------------------------------------------------------------------------
    def retrieve(
        self,
        str_or_query_bundle: str | QueryBundle,
        *,
        view: ViewSpec = _UNSET,
        similarity_top_k: int | None = None,
        filters: Filters = _UNSET,
        where_document: dict[str, Any] | None = _UNSET,
    ) -> list[NodeWithScore]:
        """Nodes for a query; keyword arguments override this retriever's defaults."""
        overrides = _overrides(view, similarity_top_k, filters, where_document)
        if overrides:
            return self.with_options(**overrides).retrieve(str_or_query_bundle)
        return super().retrieve(str_or_query_bundle)

    async def aretrieve(
        self,
        str_or_query_bundle: str | QueryBundle,
        *,
        view: ViewSpec = _UNSET,
        similarity_top_k: int | None = None,
        filters: Filters = _UNSET,
        where_document: dict[str, Any] | None = _UNSET,
    ) -> list[NodeWithScore]:
        """Async ``retrieve`` (the search runs in a worker thread)."""
        overrides = _overrides(view, similarity_top_k, filters, where_document)
        if overrides:
            return await self.with_options(**overrides).aretrieve(str_or_query_bundle)
        return await super().aretrieve(str_or_query_bundle)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        query = query_bundle.query_str
        if not query or not query.strip():
            raise ValueError("the query is empty")
        where = self._filters
        if isinstance(self._engine, ViewEngine):  # core filters are Chroma where dicts
            where = to_chroma_where(where)
        hits = self._engine.search(
            query,
            view=self._view,
            k=self._similarity_top_k,
            where=where or None,
            where_document=self._where_document or None,
        )
        return [
            ViewNodeWithScore(node=hit_to_node(h), score=float(h.score), view=h.view) for h in hits
        ]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        return await asyncio.to_thread(self._retrieve, query_bundle)

    def __repr__(self) -> str:
        return (
            f"GSTRetriever(view={self._view!r}, similarity_top_k={self._similarity_top_k}, "
            f"views={self.views()})"
        )


def _node_embed_text(document: str | None, metadata: dict[str, Any]) -> str | None:
    """The text LlamaIndex embedded for a stored row (its node's EMBED content)."""
    from llama_index.core.schema import MetadataMode

    try:
        return metadata_dict_to_node(dict(metadata), text=document).get_content(
            metadata_mode=MetadataMode.EMBED
        )
    except Exception:  # not written by LlamaIndex
        return document


def _view_vectors_error(embed_model: Any) -> StoreError:
    return StoreError(
        f"the index embeds through a GSTEmbedding with view {_embedding_view(embed_model)!r}, "
        "so it holds view vectors, not base vectors: build the index with GSTEmbedding() (no "
        "head) and pick views in the retriever"
    )


def _overrides(view: Any, k: int | None, filters: Any, where_document: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if view is not _UNSET:
        out["view"] = view
    if k is not None:
        out["similarity_top_k"] = k
    if filters is not _UNSET:
        out["filters"] = filters
    if where_document is not _UNSET:
        out["where_document"] = where_document
    return out
