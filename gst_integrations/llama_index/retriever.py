"""``GSTRetriever``: a LlamaIndex retriever that searches stored vectors in a chosen view.

Two ways to reach the vectors a ``VectorStoreIndex`` already wrote with the base encoder:

* **Materialised view** (``from_index`` / ``from_chroma`` on a ``ChromaVectorStore``): core's
  ``ViewEngine`` reads ids, text, metadata and base vectors from the Chroma collection in
  pages, applies the view's head once (refreshed incrementally) and searches exactly. Any
  head works.
* **Query-side** (``from_vector_store`` / ``from_index`` on any other vector store): for a
  linear head the query is rewritten (WᵀWq) and sent to the store as an ordinary
  ``VectorStoreQuery``; the over-fetched candidates are re-ranked exactly in the view.
  Nothing is materialised, so this reaches stores of any size.

``BaseRetriever.retrieve`` takes only the query, so per-call options are keyword
arguments of ``retrieve``/``aretrieve`` here (``view=``, ``similarity_top_k=``,
``filters=``), or a derived retriever from ``with_view``/``with_options`` (what you hand to
a query engine or a tool). Every returned node carries its view name in
``node.metadata["gst_view"]`` (hidden from the LLM and embedding text).

Note: LlamaIndex embeds a node's metadata together with its text unless the keys are in
``excluded_embed_metadata_keys``. Views work either way, but fit heads on the same vectors
the index stored (text only is simplest: exclude metadata keys from embedding, as the
cookbook does), and query with the same kind of text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.callbacks import CallbackManager
from llama_index.core.schema import BaseNode, MetadataMode, NodeWithScore, QueryBundle, TextNode
from llama_index.core.vector_stores.types import (
    MetadataFilters,
    VectorStoreQuery,
)
from llama_index.core.vector_stores.utils import metadata_dict_to_node

from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.errors import GSTError, StoreError, UnknownViewError
from gst_integrations.core.heads.compat import check_query_encoder, check_query_side
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.lookup import unknown_view, view_names
from gst_integrations.core.hits import VIEW_KEY
from gst_integrations.core.search.query_side import DEFAULT_METRIC, DEFAULT_OVERFETCH
from gst_integrations.core.validation import check_k
from gst_integrations.core.views.engine import ViewSpec, blend_weights, view_label
from gst_integrations.llama_index.embedding import cached_encoder
from gst_integrations.llama_index.filters import to_chroma_where
from gst_integrations.llama_index.vector_lookup import (
    REENCODE,
    VectorLookup,
    chroma_collection,
    is_chroma_store,
    no_vectors_error,
    store_vectors,
    user_vectors,
    warn_reencode_once,
)

if TYPE_CHECKING:
    from gst_integrations.core.views.engine import ViewEngine

_UNSET: Any = object()

Filters = MetadataFilters | dict[str, Any] | None


def hit_to_node(
    node_id: str, text: str | None, metadata: dict[str, Any] | None, view: str | None
) -> BaseNode:
    """Rebuild the node LlamaIndex wrote (``_node_content``), tagged with the view name.

    Rows written by other tools (no ``_node_content``) become plain ``TextNode``s.
    """
    metadata = dict(metadata or {})
    try:
        node = metadata_dict_to_node(metadata, text=text)
    except Exception:  # not written by LlamaIndex: keep what the row has
        node = TextNode(id_=node_id, text=text or "", metadata=metadata)
    return tag_node(node, view)


def tag_node(node: BaseNode, view: str | None) -> BaseNode:
    """Record the view in the node's metadata, excluded from LLM and embedding text."""
    node.metadata[VIEW_KEY] = view
    for keys in (node.excluded_llm_metadata_keys, node.excluded_embed_metadata_keys):
        if VIEW_KEY not in keys:
            keys.append(VIEW_KEY)
    return node


class _EngineBackend:
    """Materialised views over a Chroma collection (core ``ViewEngine``)."""

    def __init__(self, engine: ViewEngine) -> None:
        self.engine = engine

    @property
    def encoder(self) -> CachedEncoder:
        return self.engine.encoder

    def views(self) -> list[str]:
        return list(self.engine.views())

    def head(self, view: str) -> Head:
        return self.engine.head(view)

    def check(self, view: str) -> None:
        self.engine.check_compatible(view)

    def register(self, name: str, head: Head) -> None:
        self.engine.register(name, head)

    def search(
        self, query: str, view: str | None, k: int, filters: Filters, where_document: Any
    ) -> list[tuple[BaseNode, float]]:
        hits = self.engine.search(  # an empty store raises StoreError
            query, view=view, k=k, where=to_chroma_where(filters), where_document=where_document
        )
        return [(hit_to_node(h.id, h.document, h.metadata, h.view), float(h.score)) for h in hits]


class _QuerySideBackend:
    """Linear views over any LlamaIndex vector store, by rewriting the query vector."""

    def __init__(
        self,
        vector_store: Any,
        heads: Any,
        encoder: CachedEncoder,
        docstore: Any = None,
        overfetch: int = DEFAULT_OVERFETCH,
        metric: str = DEFAULT_METRIC,
        vector_lookup: VectorLookup | str | None = None,
    ) -> None:
        if not (vector_lookup is None or vector_lookup == REENCODE or callable(vector_lookup)):
            raise TypeError(
                "vector_lookup must be None, 'reencode' or a callable nodes -> (len(nodes), d) "
                f"array of stored base vectors, got {vector_lookup!r}"
            )
        self.vector_store = vector_store
        self.vector_lookup = vector_lookup
        self.heads = heads if heads is not None else {}
        self.encoder = encoder
        self.docstore = docstore
        self.overfetch = overfetch
        self.metric = metric

    def views(self) -> list[str]:
        return view_names(self.heads)

    def head(self, view: str) -> Head:
        from gst_integrations.core.heads.lookup import resolve_head

        if view not in self.views():
            raise unknown_view(view, self.heads)
        head = resolve_head(view, self.heads)
        assert head is not None
        return head

    def check(self, view: str) -> None:
        head = self.head(view)
        check_query_side(head, view, f"a {type(self.vector_store).__name__}")
        check_query_encoder(head, view, self.encoder.base_encoder)

    def register(self, name: str, head: Head) -> None:
        if hasattr(self.heads, "save"):
            self.heads.save(name, head)
        else:
            self.heads[name] = head

    def _query(
        self, vector: np.ndarray, n: int, filters: Filters, where_document: Any
    ) -> list[tuple[str, BaseNode, float | None]]:
        """(id, node, similarity) of the store's top ``n`` for a raw query vector."""
        if where_document is not None:
            raise GSTError("where_document filters need a Chroma store (materialised views)")
        query_kwargs: dict[str, Any] = {}
        metadata_filters = filters
        if isinstance(filters, dict):
            if not is_chroma_store(self.vector_store):
                raise GSTError(
                    "a Chroma where dict only works on a ChromaVectorStore; pass LlamaIndex "
                    "MetadataFilters for other vector stores"
                )
            query_kwargs["where"], metadata_filters = filters, None
        query = VectorStoreQuery(
            query_embedding=np.asarray(vector, dtype=np.float32).ravel().tolist(),
            similarity_top_k=int(n),
            filters=metadata_filters,
        )
        result = self.vector_store.query(query, **query_kwargs)
        nodes = list(result.nodes or [])
        ids = list(result.ids or [node.node_id for node in nodes])
        if len(nodes) != len(ids):
            nodes = self._nodes_from_docstore(ids)
        sims = list(result.similarities or [None] * len(ids))
        return list(zip(ids, nodes, sims, strict=True))

    def _nodes_from_docstore(self, ids: Sequence[str]) -> list[BaseNode]:
        if self.docstore is None:
            raise StoreError(
                f"{type(self.vector_store).__name__} keeps no text; pass docstore= "
                "(index.docstore), or build the retriever with GSTRetriever.from_index(index)"
            )
        return [self.docstore.get_node(i) for i in ids]

    def _vectors(self, ids: list[str], nodes: list[BaseNode]) -> list[np.ndarray | None] | None:
        """Stored base vectors of the candidates, for the exact re-rank.

        One entry per candidate, in order: None for a candidate the store no longer holds
        (deleted since the query). None as a whole when the store gives no vectors (see
        ``vector_lookup``): the caller decides (a cosine view raises).
        """
        out: list[np.ndarray | None] = [
            None if n.embedding is None else np.asarray(n.embedding, np.float32) for n in nodes
        ]
        todo = [i for i, v in enumerate(out) if v is None]
        if not todo:
            return out
        if callable(self.vector_lookup):
            got = user_vectors(self.vector_lookup, [nodes[i] for i in todo])
            for i, vec in zip(todo, got, strict=True):
                out[i] = vec
            return out
        found = store_vectors(self.vector_store, [ids[i] for i in todo])
        if found is not None:
            for i in todo:
                out[i] = found.get(ids[i])
            return out
        if self.vector_lookup == REENCODE:
            warn_reencode_once(self.vector_store)
            texts = [nodes[i].get_content(metadata_mode=MetadataMode.EMBED) for i in todo]
            for i, vec in zip(todo, self.encoder.encode(texts), strict=True):  # cached
                out[i] = vec
            return out
        return None

    def search(
        self, query: str, view: str | None, k: int, filters: Filters, where_document: Any
    ) -> list[tuple[BaseNode, float]]:
        for name in blend_weights(view):
            if name is not None:
                self.check(name)
        q = self.encoder.encode_query([query])[0]
        if view is None:
            found = self._query(q, k, filters, where_document)
            out = [(tag_node(node, None), float(s or 0.0)) for _, node, s in found]
        else:
            out = self._view_search(q, view, k, filters, where_document)
        if not out and not filters:  # nothing at all without a filter: no vectors there
            raise StoreError(
                f"the {type(self.vector_store).__name__} is empty: build the index (with the "
                "base encoder) before searching views"
            )
        return out

    def _view_search(
        self, q: np.ndarray, view: str, k: int, filters: Filters, where_document: Any
    ) -> list[tuple[BaseNode, float]]:
        from gst_integrations.core.hits import Candidate
        from gst_integrations.core.search.query_side import QuerySideSearcher

        nodes: dict[str, BaseNode] = {}

        def search_base(vector: np.ndarray, n: int) -> list[Candidate]:
            found = self._query(vector, n, filters, where_document)
            vectors = self._vectors([f[0] for f in found], [f[1] for f in found])
            if vectors is None:
                if self.metric == "cosine":  # never silently keep another order
                    raise no_vectors_error(self.vector_store)
                # "ip": the store's order is the view's order for unit-norm base vectors
                # (core.search.query_side); scores are the store's own.
                vectors = [None] * len(found)
            elif found and all(v is None for v in vectors):
                raise StoreError(
                    f"the {type(self.vector_store).__name__} holds none of the candidates it "
                    "just returned: their stored vectors cannot be read by id; pass "
                    "vector_lookup= to GSTRetriever.from_vector_store"
                )
            else:  # a candidate deleted since the query is left out
                found = [f for f, v in zip(found, vectors, strict=True) if v is not None]
                vectors = [v for v in vectors if v is not None]
            out = []
            for (node_id, node, sim), vec in zip(found, vectors, strict=True):
                nodes[node_id] = node
                out.append(
                    Candidate(
                        id=node_id,
                        document=node.get_content(metadata_mode=MetadataMode.NONE),
                        metadata=dict(node.metadata),
                        vector=vec,
                        score=sim,
                    )
                )
            return out

        weights = blend_weights(view)
        parts = {n: (None if n is None else self.head(n), w) for n, w in weights.items()}
        searcher = QuerySideSearcher(
            parts if isinstance(view, dict) else parts[view][0],
            search_base,
            metric=self.metric,
            overfetch=self.overfetch,
            view=None if isinstance(view, dict) else view_label(weights),
        )
        return [(tag_node(nodes[h.id], view), float(h.score)) for h in searcher.search(q, k)]


class GSTRetriever(BaseRetriever):
    """Retrieve nodes of an existing index in an instruction view (or the base space).

    Build it with ``from_index`` (a ``VectorStoreIndex`` built with the base encoder),
    ``from_chroma`` (a ``ChromaVectorStore`` or Chroma collection), ``from_vector_store``
    (query-side path, linear heads) or directly from a core ``ViewEngine``.

    Args:
        engine: a core ``ViewEngine`` over the stored base vectors.
        view: default view name (None: base vectors).
        similarity_top_k: default number of nodes.
        filters: default filters: LlamaIndex ``MetadataFilters`` or a Chroma where dict.
        where_document: default Chroma ``where_document`` filter.
    """

    def __init__(
        self,
        engine: ViewEngine | None = None,
        *,
        view: str | None = None,
        similarity_top_k: int = 4,
        filters: Filters = None,
        where_document: dict[str, Any] | None = None,
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
        _backend: Any = None,
    ) -> None:
        if _backend is None:
            if engine is None:
                raise TypeError("GSTRetriever needs a ViewEngine; or use GSTRetriever.from_index")
            _backend = _EngineBackend(engine)
        self._backend = _backend
        self._similarity_top_k = check_k(similarity_top_k, "similarity_top_k")
        self._filters = filters
        self._where_document = where_document
        self._view = self._checked_view(view)
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_chroma(
        cls,
        vector_store: Any,
        heads: Any,
        encoder: Any = None,
        *,
        cache: Any = None,
        device: str = "auto",
        engine_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> GSTRetriever:
        """Views over a ``ChromaVectorStore`` (or a chromadb ``Collection``).

        ``heads`` is a ``HeadStore`` or a dict of name -> Head; ``encoder`` is the base
        encoder the index was built with (a ``GSTEmbedding`` shares its vector cache).
        ``engine_options`` go to the ``ViewEngine`` (``max_staleness``, ``reconcile_every``,
        ``keep_base``, ``catalogue``, ``dtype``, ...).
        """
        import chromadb

        from gst_integrations.core.views.engine import ViewEngine
        from gst_integrations.stores.chroma import ChromaSource

        if is_chroma_store(vector_store):
            collection = chroma_collection(vector_store)
        elif isinstance(vector_store, chromadb.Collection):
            collection = vector_store
        else:
            raise TypeError(
                f"expected a ChromaVectorStore or a chromadb Collection, "
                f"got {type(vector_store).__name__}"
            )
        engine = ViewEngine(
            ChromaSource(collection),
            heads if heads is not None else {},
            encoder=cached_encoder(encoder, cache),
            device=device,
            **(engine_options or {}),
        )
        return cls(engine, **kwargs)

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
        vector_lookup: VectorLookup | str | None = None,
        **kwargs: Any,
    ) -> GSTRetriever:
        """Query-side views (linear heads) over any LlamaIndex vector store.

        Stores that keep no text (``SimpleVectorStore``) need the index's ``docstore``.
        Candidates are re-ranked on their stored base vectors, read by the store's type
        (``gst_integrations.llama_index.vector_lookup``). For other stores pass
        ``vector_lookup``: a callable ``nodes -> (len(nodes), d)`` array of their stored
        base vectors, or ``"reencode"`` to re-encode the nodes' embedding text through the
        cached base encoder (approximate unless the index embedded exactly that; it warns
        once). Without it, a cosine view over such a store raises ``StoreError``.
        ``metric`` "ip" (default) lets the store's index order candidates by the view's own
        score; "cosine" warns: at scale no over-fetch recovers it through a base index.
        """
        backend = _QuerySideBackend(
            vector_store,
            heads,
            cached_encoder(encoder, cache),
            docstore,
            overfetch,
            metric=metric,
            vector_lookup=vector_lookup,
        )
        return cls(_backend=backend, **kwargs)

    @classmethod
    def from_index(
        cls, index: Any, heads: Any, *, query_side: bool | None = None, **kwargs: Any
    ) -> GSTRetriever:
        """Views over a ``VectorStoreIndex`` built with the base encoder.

        A ``ChromaVectorStore`` gets materialised views unless ``query_side=True``; any
        other vector store gets the query-side path. The index's embed model is taken as
        the base encoder unless ``encoder=`` is given.
        """
        vector_store = index.vector_store
        encoder = kwargs.pop("encoder", None) or getattr(index, "_embed_model", None)
        if query_side is None:
            query_side = not is_chroma_store(vector_store)
        if not query_side:
            kwargs.pop("vector_lookup", None)  # materialised views read the collection itself
            return cls.from_chroma(vector_store, heads, encoder, **kwargs)
        kwargs.setdefault("docstore", index.docstore)
        return cls.from_vector_store(vector_store, heads, encoder, **kwargs)

    # -- views ----------------------------------------------------------------------------
    @property
    def view(self) -> str | None:
        """The default view of this retriever (None: base vectors)."""
        return self._view

    @property
    def similarity_top_k(self) -> int:
        return self._similarity_top_k

    @property
    def base_encoder(self) -> CachedEncoder:
        """The cached base encoder queries go through (shared with the index's embedding)."""
        return self._backend.encoder

    @property
    def engine(self) -> ViewEngine | None:
        """The core ``ViewEngine`` (None on the query-side path)."""
        return getattr(self._backend, "engine", None)

    def views(self) -> list[str]:
        """Names of the registered views."""
        return self._backend.views()

    def head(self, view: str) -> Head:
        """The head of a registered view (UnknownViewError otherwise)."""
        return self._backend.head(self._checked_view(view) or "")

    def register(self, name: str, head: Head) -> None:
        """Register a head as a new view (checked against the base encoder on use)."""
        self._backend.register(name, head)

    def _checked_view(self, view: ViewSpec) -> ViewSpec:
        """A view name, None (generic) or a blend {name or None: weight}, checked."""
        if view is not None and not isinstance(view, (str, dict)):
            raise TypeError(f"view must be a view name, None or a dict of weights, got {view!r}")
        for name in blend_weights(view):
            if name is None:
                continue
            if name not in self._backend.views():
                raise UnknownViewError(
                    f"unknown view {name!r}; registered views: {sorted(self._backend.views())}"
                )
            self._backend.check(name)  # a head from another base encoder fails here
        return view

    def with_options(
        self,
        *,
        view: ViewSpec = _UNSET,
        similarity_top_k: int | None = None,
        filters: Filters = _UNSET,
        where_document: dict[str, Any] | None = _UNSET,
    ) -> GSTRetriever:
        """A retriever sharing this one's store and views, with other defaults."""
        return GSTRetriever(
            view=self._view if view is _UNSET else view,
            similarity_top_k=(
                self._similarity_top_k if similarity_top_k is None else similarity_top_k
            ),
            filters=self._filters if filters is _UNSET else filters,
            where_document=self._where_document if where_document is _UNSET else where_document,
            callback_manager=self.callback_manager,
            verbose=self._verbose,
            _backend=self._backend,
        )

    def with_view(self, view: str | None) -> GSTRetriever:
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
        found = self._backend.search(
            query, self._view, self._similarity_top_k, self._filters, self._where_document
        )
        return [NodeWithScore(node=node, score=score) for node, score in found]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        import asyncio

        return await asyncio.to_thread(self._retrieve, query_bundle)

    def __repr__(self) -> str:
        return (
            f"GSTRetriever(view={self._view!r}, similarity_top_k={self._similarity_top_k}, "
            f"views={self.views()})"
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


__all__ = ["VIEW_KEY", "GSTRetriever", "hit_to_node", "tag_node"]
