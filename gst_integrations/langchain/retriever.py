"""Retrievers that pick an instruction view per call.

``GSTRetriever`` searches materialised views through core's ``ViewEngine`` over base vectors
already stored in Chroma (``from_chroma`` / ``from_collection``). ``GSTVectorStoreRetriever``
reaches ANY LangChain ``VectorStore`` with linear heads through the query-side path: the
query is rewritten, the store's own index is searched, and the over-fetched candidates are
re-ranked exactly in the view.

Both take ``view``, ``k`` and ``filter`` per call (``invoke(q, view=..., k=...)``) and, via
``as_configurable()``, from ``config={"configurable": {"view": ...}}`` so one LCEL chain
serves every view. Returned ``Document``s carry ``id``, the stored metadata, and
``metadata["gst_score"]`` / ``metadata["gst_view"]``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import ConfigurableField, RunnableSerializable
from langchain_core.runnables.config import run_in_executor
from langchain_core.vectorstores import VectorStore
from pydantic import ConfigDict, Field, PrivateAttr

from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.errors import GSTError, StoreError
from gst_integrations.core.heads.compat import CheckedHeads
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.lookup import resolve_head, unknown_view, view_names
from gst_integrations.core.hits import SCORE_KEY, VIEW_KEY
from gst_integrations.core.search.query_side import DEFAULT_METRIC, DEFAULT_OVERFETCH
from gst_integrations.core.validation import check_k
from gst_integrations.core.views.engine import ViewSpec, blend_weights, view_label
from gst_integrations.langchain.embeddings import GSTEmbeddings
from gst_integrations.langchain.vector_lookup import (
    REENCODE,
    VectorLookup,
    adapter_for,
    chroma_collection,
    document_ids,
    filter_kwargs,
    lookup_vectors,
    no_vectors_error,
    user_vectors,
    warn_reencode_once,
)

#: Per-call keyword arguments the retrievers accept (besides LangChain's own).
CALL_KWARGS = ("view", "k", "filter", "where_document")
_IGNORED_KWARGS = ("verbose",)  # BaseRetriever.invoke reads it but still passes it on


def hit_to_document(hit: Any) -> Document:
    """A core SearchHit as a LangChain Document (id, metadata, score and view)."""
    metadata = dict(hit.metadata or {})
    metadata[SCORE_KEY] = float(hit.score)
    metadata[VIEW_KEY] = hit.view
    return Document(id=str(hit.id), page_content=hit.document or "", metadata=metadata)


class BaseViewRetriever(BaseRetriever):
    """Shared per-call handling of ``view`` / ``k`` / ``filter`` and configurable fields."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    view: str | dict[str | None, float] | None = None
    """Default view; None searches the base vectors; a dict blends views with weights,
    e.g. ``{"condition": 0.6, "satisfaction": 0.4, None: 0.2}`` (None: generic)."""
    k: int = 4
    """Default number of documents."""
    filter: Any = None
    """Default metadata filter (Chroma ``where`` dict; for other stores, their filter)."""

    # -- to implement --------------------------------------------------------------------
    @abstractmethod
    def views(self) -> list[str]:
        """Registered view names."""

    @abstractmethod
    def head(self, view: str) -> Head:
        """The head of a registered view (UnknownViewError otherwise)."""

    @abstractmethod
    def _search(
        self, query: str, view: ViewSpec, k: int, filter: Any, where_document: Any
    ) -> list[Document]:
        """Documents of one search with every option resolved."""

    # -- LangChain -----------------------------------------------------------------------
    def __init__(self, **data: Any) -> None:
        """Validate fields, then check ``k`` and the view.

        Checked after pydantic validation so errors keep their own type (ValueError,
        UnknownViewError, EncoderMismatchError) rather than becoming a ValidationError.
        """
        super().__init__(**data)
        check_k(self.k)
        self._check_view(self.view)
        self._setup()

    def _setup(self) -> None:
        """Subclass hook run once the fields are set."""

    def _check_view(self, view: Any) -> None:
        names = list(blend_weights(view)) if isinstance(view, dict) else [view]
        for name in names:
            if name is not None and name not in self.views():
                raise unknown_view(name, self.views())

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        unknown = sorted(set(kwargs) - set(CALL_KWARGS) - set(_IGNORED_KWARGS))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected argument(s) {unknown}; "
                f"per-call arguments are {list(CALL_KWARGS)}"
            )
        view = kwargs["view"] if "view" in kwargs else self.view
        k = check_k(kwargs["k"]) if kwargs.get("k") is not None else self.k
        flt = kwargs["filter"] if kwargs.get("filter") is not None else self.filter
        self._check_view(view)
        return self._search(str(query), view, k, flt, kwargs.get("where_document"))

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        # Search is CPU/GPU bound: run it in an executor, with the same per-call arguments.
        return await run_in_executor(
            None,
            self._get_relevant_documents,
            query,
            run_manager=run_manager.get_sync(),
            **kwargs,
        )

    def with_view(self, view: str | None) -> BaseViewRetriever:
        """A copy whose default view is ``view`` (shares the engine, heads and caches)."""
        self._check_view(view)
        return self.model_copy(update={"view": view})

    def as_configurable(
        self, *, view_id: str = "view", k_id: str = "k", filter_id: str = "filter"
    ) -> RunnableSerializable:
        """This retriever with ``view``, ``k`` and ``filter`` set from the run config.

        ``chain.invoke(q, config={"configurable": {"view": "rating", "k": 3}})``.
        """
        return self.configurable_fields(
            view=ConfigurableField(
                id=view_id,
                name="GST view",
                description=f"Instruction view to search in; one of {self.views()}",
            ),
            k=ConfigurableField(id=k_id, name="k", description="Number of documents"),
            filter=ConfigurableField(
                id=filter_id, name="Metadata filter", description="Metadata filter"
            ),
        )


class GSTRetriever(BaseViewRetriever):
    """Top-k in an instruction view over base vectors stored once (core ``ViewEngine``).

    Build it with ``from_chroma`` (a ``langchain_chroma.Chroma`` store) or
    ``from_collection`` (a chromadb collection), or pass a ready ``engine``.
    ``filter`` is a Chroma ``where`` dict; ``where_document`` filters on the text.
    """

    engine: Any
    """A ``gst_integrations.core.views.engine.ViewEngine``."""

    def _setup(self) -> None:
        # A head that cannot read this store fails now (each view of a blend).
        for name in blend_weights(self.view):
            if name is not None:
                self.engine.check_compatible(name)

    def views(self) -> list[str]:
        return list(self.engine.views())

    def head(self, view: str) -> Head:
        return self.engine.head(view)

    def _search(
        self, query: str, view: ViewSpec, k: int, filter: Any, where_document: Any
    ) -> list[Document]:
        hits = self.engine.search(  # an empty store raises StoreError
            query, view=view, k=k, where=filter or None, where_document=where_document or None
        )
        return [hit_to_document(h) for h in hits]

    @classmethod
    def from_collection(
        cls,
        collection: Any,
        heads: Any,
        *,
        encoder: Any = None,
        view: str | None = None,
        k: int = 4,
        filter: dict[str, Any] | None = None,
        device: Any = "auto",
        metric: str = "cosine",
        cache: Any = None,
        **engine_kwargs: Any,
    ) -> GSTRetriever:
        """Over a chromadb collection whose vectors come from the base ``encoder``.

        ``heads`` is a ``HeadStore`` or a dict of name -> Head; ``encoder`` (default: the
        offline MiniLM) encodes queries and must be the encoder that filled the collection.
        """
        from gst_integrations.core.views.engine import ViewEngine
        from gst_integrations.stores.chroma import ChromaSource

        if isinstance(encoder, GSTEmbeddings):
            if encoder.view_head is not None:
                raise GSTError(
                    f"encoder is GSTEmbeddings with view {encoder.view_name!r}; the retriever "
                    "needs the base encoder (GSTEmbeddings() without a head): views are "
                    "chosen per call"
                )
            encoder = encoder.base_encoder  # share its vector cache
        engine = ViewEngine(
            ChromaSource(collection),
            heads,
            encoder=encoder,
            device=device,
            metric=metric,
            cache=cache,
            **engine_kwargs,
        )
        return cls(engine=engine, view=view, k=k, filter=filter)

    @classmethod
    def from_chroma(
        cls,
        store: Any,
        heads: Any,
        *,
        encoder: Any = None,
        **kwargs: Any,
    ) -> GSTRetriever:
        """Over a ``langchain_chroma.Chroma`` store filled with base vectors.

        The store's ``embedding_function`` is the default query encoder. A store filled
        through a ``GSTEmbeddings`` *with a head* holds view vectors, not base vectors, and
        is refused.
        """
        emb = getattr(store, "embeddings", None)
        if isinstance(emb, GSTEmbeddings) and emb.view_head is not None:
            raise StoreError(
                f"this Chroma store was filled through GSTEmbeddings with view "
                f"{emb.view_name!r}, so it holds view vectors, not base vectors; fill it with "
                "GSTEmbeddings() (no head) and pick views in the retriever"
            )
        if encoder is None and emb is not None:
            encoder = emb
        try:
            collection = chroma_collection(store)
        except Exception as exc:  # langchain_chroma raises when the collection is gone
            raise StoreError(f"the Chroma store has no collection: {exc}") from exc
        return cls.from_collection(collection, heads, encoder=encoder, **kwargs)


class GSTVectorStoreRetriever(BaseViewRetriever):
    """Views over ANY LangChain ``VectorStore`` of base vectors, for linear heads.

    The store's own index is searched with the rewritten query (``similarity_search_by_vector``)
    and the over-fetched candidates are re-ranked exactly in the view (core
    ``QuerySideSearcher``). Candidate base vectors are read from the store by its type
    (``InMemoryVectorStore``, ``langchain_chroma.Chroma``, ``langchain_milvus.Milvus``: see
    ``gst_integrations.langchain.vector_lookup``). Any other store needs ``vector_lookup``:
    a callable ``docs -> (len(docs), d)`` stored base vectors, or ``"reencode"`` to
    re-encode candidate texts through the cached base encoder (approximate when the store
    embedded more than the text; it warns once). Without it such a store is refused with a
    ``StoreError``. ``filter`` is passed to the store as its own filter argument
    (``expr=`` for langchain-milvus: a Milvus expression such as ``'condition == "Acne"'``).
    """

    vectorstore: VectorStore
    heads: Any
    """A ``HeadStore`` or a dict of name -> linear Head."""
    encoder: Any = None
    """Base encoder for queries; default: the store's ``embeddings``, else offline MiniLM."""
    metric: str = DEFAULT_METRIC
    """"ip" (default): the store's index orders candidates by the view's own score. "cosine"
    warns: at scale no over-fetch recovers a cosine view through a base index."""
    overfetch: int = DEFAULT_OVERFETCH
    """Candidates fetched per result before the exact re-rank."""
    vector_lookup: VectorLookup | Literal["reencode"] | None = None
    """How candidates' stored base vectors are read. None: by the store's type (supported
    stores only; others raise ``StoreError``). A callable ``docs -> (len(docs), d)`` array
    of their stored base vectors, in order: used for every store. ``"reencode"``: stores of
    an unsupported type get candidate texts re-encoded (approximate; warns once)."""

    head_checks: CheckedHeads = Field(default_factory=CheckedHeads, exclude=True)
    """Heads checked once each, shared by copies (configurable fields rebuild per call)."""

    _encoder: CachedEncoder = PrivateAttr()

    def _setup(self) -> None:
        emb = self.vectorstore.embeddings
        if isinstance(emb, GSTEmbeddings) and emb.view_head is not None:
            raise StoreError(
                f"the vector store embeds through GSTEmbeddings with view {emb.view_name!r}, "
                "so it holds view vectors, not base vectors"
            )
        source = self.encoder if self.encoder is not None else emb
        enc = as_encoder(source)
        self._encoder = enc if isinstance(enc, CachedEncoder) else CachedEncoder(enc)
        # Keep the cached encoder as the field, so copies made per call (configurable
        # fields rebuild the retriever) share its query cache.
        self.encoder = self._encoder
        if self.vector_lookup is None and adapter_for(self.vectorstore) is None:
            raise no_vectors_error(self.vectorstore)  # fail now, not on the first view search
        # Heads are checked when their view is first used: a corrupt or non-linear head
        # breaks only its own view, with an error that names it. The default view: now.
        if isinstance(self.view, str):
            self._checked_head(self.view)

    def views(self) -> list[str]:
        return view_names(self.heads)

    def head(self, view: str) -> Head:
        head = resolve_head(view, self.heads)
        assert head is not None
        return head

    def _checked_head(self, view: str) -> Head:
        return self.head_checks.checked(
            view, self.head(view), self._encoder.base_encoder, "an arbitrary vector store"
        )

    def _stored_vectors(self, docs: Sequence[Document]) -> list[np.ndarray | None]:
        """Candidates' stored base vectors (None: deleted since the search returned them)."""
        if not docs:
            return []
        if callable(self.vector_lookup):
            return list(user_vectors(self.vector_lookup, docs))
        if adapter_for(self.vectorstore) is not None:
            return lookup_vectors(self.vectorstore, docs)
        if self.vector_lookup == REENCODE:
            warn_reencode_once(self.vectorstore)
            return list(self._encoder.encode([d.page_content for d in docs]))  # cached
        raise no_vectors_error(self.vectorstore)

    def _candidates(self, vector: np.ndarray, n: int, filter: Any, dim: int) -> list[Any]:
        """The store's n nearest documents to a base-space vector, with their base vectors."""
        from gst_integrations.core.hits import Candidate

        extra = filter_kwargs(self.vectorstore, filter)
        docs = self.vectorstore.similarity_search_by_vector(vector.tolist(), k=n, **extra)
        ids = document_ids(self.vectorstore, docs)
        vecs = self._stored_vectors(docs)
        for v in vecs:
            if v is not None and v.shape != (dim,):
                raise StoreError(
                    f"a stored candidate vector has shape {v.shape}; the view's head reads "
                    f"{dim}-d base vectors"
                )
        return [
            Candidate(
                id=str(i) if i is not None else "",
                document=d.page_content,
                metadata=dict(d.metadata),
                vector=v,
            )
            for d, i, v in zip(docs, ids, vecs, strict=True)
            if v is not None  # a candidate deleted since the search is left out
        ]

    def _search(
        self, query: str, view: ViewSpec, k: int, filter: Any, where_document: Any
    ) -> list[Document]:
        from gst_integrations.core.search.query_side import QuerySideSearcher

        if where_document:
            raise ValueError(
                "where_document is only supported by GSTRetriever (Chroma); pass the store's "
                "own filter as filter=..."
            )
        q = self._encoder.encode_query([query])[0]
        if view is None:  # base vectors: the store's own ranking
            extra = filter_kwargs(self.vectorstore, filter)
            docs = self.vectorstore.similarity_search_by_vector(q.tolist(), k=k, **extra)
            ids = document_ids(self.vectorstore, docs)
            return [
                Document(
                    id=None if i is None else str(i),
                    page_content=d.page_content,
                    metadata={**d.metadata, SCORE_KEY: None, VIEW_KEY: None},
                )
                for d, i in zip(docs, ids, strict=True)
            ]
        # Built per call (cheap: it keeps W only) so the per-call filter is bound safely.
        weights = blend_weights(view)
        parts = {n: (None if n is None else self._checked_head(n), w) for n, w in weights.items()}
        dim = len(q)
        searcher = QuerySideSearcher(
            parts if isinstance(view, dict) else parts[view][0],
            lambda vec, n: self._candidates(vec, n, filter, dim),
            metric=self.metric,
            overfetch=self.overfetch,
            view=None if isinstance(view, dict) else view_label(weights),
        )
        return [hit_to_document(h) for h in searcher.search(q, k)]


__all__ = [
    "SCORE_KEY",
    "VIEW_KEY",
    "BaseViewRetriever",
    "GSTRetriever",
    "GSTVectorStoreRetriever",
    "check_k",
    "hit_to_document",
]
