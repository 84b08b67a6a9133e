"""``GSTRetriever``: a LangChain retriever that searches stored vectors in a view chosen per call.

It only translates: core's retrieval paths (``gst_integrations.core.search.ViewSearch``) do
the searching, and this class turns their hits into ``Document``s and LangChain's options
(``search_kwargs``, ``search_type``, configurable fields, tracing metadata) into theirs.
"""

from __future__ import annotations

import warnings
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever, LangSmithRetrieverParams
from langchain_core.runnables import ConfigurableField, RunnableSerializable
from langchain_core.runnables.config import run_in_executor
from pydantic import ConfigDict, Field, field_validator

from gst_integrations.core.encoders.cache import CachedEncoder, cached_encoder
from gst_integrations.core.errors import StoreError
from gst_integrations.core.heads.blend import ViewSpec, blend_weights, view_label
from gst_integrations.core.heads.head import Head
from gst_integrations.core.hits import SCORE_KEY, VIEW_KEY, SearchHit
from gst_integrations.core.search.backend import QuerySideBackend
from gst_integrations.core.search.mmr import mmr
from gst_integrations.core.search.protocol import ViewSearch
from gst_integrations.core.search.query_side import DEFAULT_METRIC, DEFAULT_OVERFETCH
from gst_integrations.core.validation import check_k
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.options import split_engine_options
from gst_integrations.langchain.embeddings import GSTEmbeddings
from gst_integrations.langchain.vector_lookup import LangChainStoreIndex, chroma_collection
from gst_integrations.stores.chroma import ChromaSource, adopt_fingerprint

__all__ = ["SCORE_KEY", "VIEW_KEY", "GSTRetriever", "hit_to_document"]

#: What ``search_kwargs`` and per-call keyword arguments may set.
SEARCH_KWARGS = ("view", "k", "filter", "where_document", "fetch_k", "lambda_mult")
_IGNORED_KWARGS = ("verbose",)  # BaseRetriever.invoke reads it but still passes it on


def hit_to_document(hit: SearchHit) -> Document:
    """A core ``SearchHit`` as a LangChain ``Document`` (id, metadata, score and view)."""
    metadata = dict(hit.metadata or {})
    metadata[SCORE_KEY] = float(hit.score)
    metadata[VIEW_KEY] = hit.view
    return Document(
        id=str(hit.id) if hit.id else None, page_content=hit.document or "", metadata=metadata
    )


def store_provider(engine: Any) -> str:
    """The kind of store behind a retrieval path, for tracing (``Chroma``, ``Milvus``)."""
    if isinstance(engine, ViewEngine):
        return type(engine.source).__name__.removesuffix("Source")
    if isinstance(engine, QuerySideBackend):
        return engine.index.name.rsplit(".", 1)[-1]
    return type(engine).__name__


class GSTRetriever(BaseRetriever):
    """Instruction views over vectors a store already holds, for LangChain.

    Setup:
        ``pip install "gst-integrations[langchain]"``. The store must hold *base* vectors:
        fill it through ``GSTEmbeddings()`` (no head) or any encoder, once.

    Instantiate:
        .. code-block:: python

            from gst_integrations.langchain import GSTRetriever

            # materialised views over a langchain_chroma.Chroma store (any head, exact)
            retriever = GSTRetriever.from_chroma(store, heads, k=5)
            # or any LangChain VectorStore, through its own index (linear heads)
            retriever = GSTRetriever.from_vector_store(store, heads, k=5)

    Usage:
        .. code-block:: python

            retriever.invoke("made my skin worse", view="condition")
            retriever.invoke("made my skin worse", view={"condition": 0.7, None: 0.3})
            GSTRetriever.from_chroma(store, heads, search_type="mmr",
                                     search_kwargs={"k": 5, "fetch_k": 20, "view": "condition"})

    Each ``Document`` carries its id, the stored metadata, ``metadata["gst_score"]`` and
    ``metadata["gst_view"]``. ``view``, ``k``, ``filter`` (the store's own filter: a Chroma
    ``where`` dict for Chroma), ``where_document`` (Chroma, materialised only), ``fetch_k``
    and ``lambda_mult`` come from the fields, then ``search_kwargs``, then the call.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    engine: Any = Field(exclude=True)
    """The core retrieval path: a ``ViewEngine`` (materialised) or a ``QuerySideBackend``."""
    view: str | dict[str | None, float] | None = None
    """Default view; None searches the base vectors; a dict blends views with weights,
    e.g. ``{"condition": 0.6, "satisfaction": 0.4, None: 0.2}`` (None: generic)."""
    k: int = 4
    """Default number of documents."""
    filter: Any = None
    """Default filter, in the store's own form (a Chroma ``where`` dict for Chroma)."""
    where_document: dict[str, Any] | None = None
    """Default Chroma ``where_document`` filter (materialised views over Chroma only)."""
    search_type: Literal["similarity", "mmr"] = "similarity"
    """"similarity" (top k in the view) or "mmr" (maximal marginal relevance on view vectors)."""
    search_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Options as langchain-chroma's retriever takes them: ``k``, ``filter``, ``view``,
    ``where_document``, ``fetch_k``, ``lambda_mult``."""

    @field_validator("search_kwargs")
    @classmethod
    def _known_search_kwargs(cls, value: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(value) - set(SEARCH_KWARGS))
        if unknown:
            raise ValueError(f"unknown search_kwargs {unknown}; known: {list(SEARCH_KWARGS)}")
        return value

    def __init__(self, **data: Any) -> None:
        """Validate the fields, then check ``k`` and the default view against the engine.

        Checked after pydantic validation so errors keep their own type (ValueError,
        UnknownViewError, EncoderMismatchError) rather than becoming a ValidationError.
        """
        super().__init__(**data)
        if not isinstance(self.engine, ViewSearch):
            raise TypeError(
                f"engine must be a ViewEngine or QuerySideBackend, got {type(self.engine).__name__}"
            )
        options = self._options({})
        check_k(options["k"])
        self.engine.check(options["view"])

    # -- views ----------------------------------------------------------------------------
    def views(self) -> list[str]:
        """Names of the registered views."""
        return self.engine.views()

    def head(self, view: str) -> Head:
        """The head of a registered view (UnknownViewError otherwise)."""
        return self.engine.head(view)

    @property
    def base_encoder(self) -> CachedEncoder:
        """The cached base encoder queries go through."""
        return self.engine.encoder

    def with_view(self, view: ViewSpec) -> GSTRetriever:
        """A copy whose default view is ``view`` (shares the engine, heads and caches)."""
        self.engine.check(view)
        kwargs = {k: v for k, v in self.search_kwargs.items() if k != "view"}
        return self.model_copy(update={"view": view, "search_kwargs": kwargs})

    def as_configurable(
        self, *, view_id: str = "view", k_id: str = "k", filter_id: str = "filter"
    ) -> RunnableSerializable:
        """This retriever with ``view``, ``k`` and ``filter`` set from the run config:
        ``chain.invoke(q, config={"configurable": {"view": "rating", "k": 3}})``."""
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

    # -- LangChain ------------------------------------------------------------------------
    def _options(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(kwargs) - set(SEARCH_KWARGS) - set(_IGNORED_KWARGS))
        if unknown:
            raise TypeError(
                f"{type(self).__name__} got unexpected argument(s) {unknown}; "
                f"per-call arguments are {list(SEARCH_KWARGS)}"
            )
        options: dict[str, Any] = {
            "view": self.view,
            "k": self.k,
            "filter": self.filter,
            "where_document": self.where_document,
            "fetch_k": 20,
            "lambda_mult": 0.5,
        }
        options.update(self.search_kwargs)
        options.update({k: v for k, v in kwargs.items() if k in SEARCH_KWARGS})
        return options

    def _get_ls_params(self, **kwargs: Any) -> LangSmithRetrieverParams:
        """Tracing metadata: the store, the encoder, and the view, k and filter of the call."""
        params = super()._get_ls_params(**kwargs)
        try:
            options = self._options(kwargs)
        except TypeError:
            options = self._options({})
        params["ls_vector_store_provider"] = store_provider(self.engine)
        encoder = self.engine.encoder
        params["ls_embedding_provider"] = type(encoder.base_encoder).__name__
        params["ls_embedding_model"] = encoder.name
        extra: dict[str, Any] = {
            "gst_view": view_label(blend_weights(options["view"])),
            "gst_k": options["k"],
            "gst_filter": options["filter"],
            "gst_search_type": self.search_type,
        }
        params.update(extra)  # type: ignore[typeddict-item]
        return params

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun, **kwargs: Any
    ) -> list[Document]:
        options = self._options(kwargs)
        k = check_k(options["k"])
        search = dict(
            view=options["view"],
            where=options["filter"] or None,
            where_document=options["where_document"] or None,
        )
        if self.search_type == "similarity":
            hits = self.engine.search(str(query), k=k, **search)
            return [hit_to_document(h) for h in hits]
        fetch_k = max(check_k(options["fetch_k"], "fetch_k"), k)
        hits = self.engine.search(str(query), k=fetch_k, with_vectors=True, **search)
        return [hit_to_document(h) for h in mmr(hits, k, float(options["lambda_mult"]))]

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

    # -- construction ---------------------------------------------------------------------
    @classmethod
    def from_collection(
        cls,
        collection: Any,
        heads: Any,
        *,
        encoder: Any = None,
        cache: Any = None,
        engine_options: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> GSTRetriever:
        """Materialised views over a chromadb collection filled by the base ``encoder``.

        ``heads`` is a ``HeadStore`` or a dict name -> Head; ``encoder`` (default: the
        offline MiniLM) encodes queries and must be the encoder that filled the collection.
        ``engine_options`` are ``EngineOptions`` fields (metric, max_staleness, dtype, ...);
        other keyword arguments are retriever fields (view, k, search_kwargs, tags, ...).
        """
        if isinstance(encoder, GSTEmbeddings) and encoder.view_head is not None:
            raise_view_vectors(encoder)
        encoder = cached_encoder(encoder, cache)
        options, fields = split_engine_options(engine_options, kwargs)
        engine = ViewEngine(ChromaSource(collection), heads, encoder=encoder, **options)
        return cls(engine=engine, **fields)

    @classmethod
    def from_chroma(
        cls, store: Any, heads: Any, *, encoder: Any = None, **kwargs: Any
    ) -> GSTRetriever:
        """Materialised views over a ``langchain_chroma.Chroma`` store of base vectors.

        The store's ``embeddings`` is the default query encoder; a store filled through a
        ``GSTEmbeddings`` *with a head* holds view vectors and is refused. A store filled
        through ``GSTEmbeddings()`` gets its encoder's fingerprint recorded (once checked
        against a few stored vectors), so heads refuse vectors of another encoder.
        """
        emb = getattr(store, "embeddings", None)
        if isinstance(emb, GSTEmbeddings) and emb.view_head is not None:
            raise_view_vectors(emb)
        if encoder is None and emb is not None:
            encoder = emb
        collection = chroma_collection(store)
        if isinstance(encoder, GSTEmbeddings) and encoder.view_head is None:
            adopt_fingerprint(collection, encoder.base_encoder)
        return cls.from_collection(collection, heads, encoder=encoder, **kwargs)

    @classmethod
    def from_vector_store(
        cls,
        vectorstore: Any,
        heads: Any,
        *,
        encoder: Any = None,
        cache: Any = None,
        metric: str = DEFAULT_METRIC,
        overfetch: int = DEFAULT_OVERFETCH,
        vector_lookup: Any = None,
        **kwargs: Any,
    ) -> GSTRetriever:
        """Views over ANY LangChain ``VectorStore`` of base vectors, through its own index.

        For linear heads the query is rewritten, the store's index is searched, and the
        over-fetched candidates are re-ranked exactly on their stored base vectors, read by
        the store's type (``InMemoryVectorStore``, ``langchain_chroma.Chroma``,
        ``langchain_milvus.Milvus``). Other stores need ``vector_lookup``: a callable
        ``docs -> (len(docs), d)`` array of their stored vectors, or ``"reencode"``
        (approximate; warns once); without it they are refused here. ``metric`` "ip"
        (default) lets the index order candidates by the view's own score.
        """
        emb = getattr(vectorstore, "embeddings", None)
        if isinstance(emb, GSTEmbeddings) and emb.view_head is not None:
            raise_view_vectors(emb)
        backend = QuerySideBackend(
            LangChainStoreIndex(vectorstore),
            heads,
            cached_encoder(encoder if encoder is not None else emb, cache),
            metric=metric,
            overfetch=overfetch,
            vector_lookup=vector_lookup,
        )
        return cls(engine=backend, **kwargs)


def raise_view_vectors(emb: GSTEmbeddings) -> None:
    """Refuse a store filled with view vectors: views are computed from base vectors."""
    raise StoreError(
        f"this store embeds through GSTEmbeddings with view {emb.view_name!r}, so it holds view "
        "vectors, not base vectors; fill it with GSTEmbeddings() (no head) and pick views in "
        "the retriever"
    )


class GSTVectorStoreRetriever:
    """Deprecated: use ``GSTRetriever.from_vector_store(vectorstore, heads, ...)``."""

    def __new__(cls, *, vectorstore: Any, heads: Any, **kwargs: Any) -> GSTRetriever:  # type: ignore[misc]
        warnings.warn(
            "GSTVectorStoreRetriever(vectorstore=..., heads=...) is deprecated: use "
            "GSTRetriever.from_vector_store(vectorstore, heads, ...)",
            DeprecationWarning,
            stacklevel=2,
        )
        return GSTRetriever.from_vector_store(vectorstore, heads, **kwargs)


#: Deprecated name of ``GSTRetriever`` (one retriever class serves every path now).
BaseViewRetriever = GSTRetriever

__all__ += ["BaseViewRetriever", "GSTVectorStoreRetriever", "store_provider"]
