"""``GSTEmbeddings``: a LangChain ``Embeddings`` that returns instruction-view vectors.

It wraps a base encoder (the offline all-MiniLM-L6-v2 by default) behind core's
``CachedEncoder``, so a text is encoded at most once per process (or once ever, with a
``cache`` path), and applies an optional head. Without a head it returns the base vectors,
which is what a store must hold for views to be computed from it later.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from langchain_core.runnables.config import run_in_executor
from pydantic import BaseModel, ConfigDict, PrivateAttr

from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.registry import HeadRegistry
from gst_integrations.core.views.vectors import view_vectors


class GSTEmbeddings(BaseModel, Embeddings):
    """Base-encoder embeddings, optionally mapped into one instruction view by a head.

    ``encoder`` is anything core's ``as_encoder`` accepts (a sentence-transformers model, a
    LangChain ``Embeddings``, a callable); None means the offline all-MiniLM-L6-v2.
    ``head`` is a ``Head``, a view name resolved in ``head_store``, or a head file path.
    ``cache`` is None (in-memory), a SQLite path, or a ``VectorCache`` shared with others.
    ``normalize`` makes view vectors unit length, so L2 (Chroma's default) and inner
    product rank like cosine, the metric views are trained for. Base vectors are returned
    exactly as the encoder makes them, since heads are applied to those.
    """

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid")

    encoder: Any = None
    head: Any = None
    head_store: Any = None
    cache: Any = None
    normalize: bool = True

    _cached: CachedEncoder = PrivateAttr()
    _head: Head | None = PrivateAttr(default=None)

    def __init__(self, **data: Any) -> None:
        """Build the cached encoder; resolve and check the head once, up front.

        Done after pydantic validation so that errors keep their own type (UnknownViewError,
        EncoderMismatchError) instead of becoming a ValidationError.
        """
        super().__init__(**data)
        if isinstance(self.encoder, CachedEncoder):
            self._cached = self.encoder
        else:
            cache = self.cache if isinstance(self.cache, VectorCache) else VectorCache(self.cache)
            self._cached = CachedEncoder(self.encoder, cache=cache)
        self._head = HeadRegistry.of(self.head_store).resolve(self.head)
        if self._head is not None:
            # Refuse a head fitted on another base encoder now, not on the first query.
            self._head.check_encoder(self._cached.base_encoder)

    # -- identity ------------------------------------------------------------------------
    @property
    def base_encoder(self) -> CachedEncoder:
        """The cached base encoder (core's ``as_encoder`` unwraps a GSTEmbeddings to it)."""
        return self._cached

    @property
    def view_head(self) -> Head | None:
        """The head applied to base vectors, or None for base vectors."""
        return self._head

    @property
    def view_name(self) -> str | None:
        """The view's name: the head's name, or the name it was looked up by."""
        if self._head is None:
            return None
        return self._head.name or (self.head if isinstance(self.head, str) else None)

    @property
    def n_encoded(self) -> int:
        """How many texts the base encoder actually encoded (cache misses)."""
        return self._cached.n_encoded

    def fingerprint(self) -> EncoderFingerprint:
        """The base encoder's fingerprint."""
        return self._cached.fingerprint()

    def with_view(self, head: Any, head_store: Any = None) -> GSTEmbeddings:
        """A new instance for another view (None: base vectors), sharing the vector cache."""
        store = head_store if head_store is not None else self.head_store
        return GSTEmbeddings(
            encoder=self._cached,
            head=head,
            head_store=store,
            cache=self._cached.cache,
            normalize=self.normalize,
        )

    # -- embedding -----------------------------------------------------------------------
    def _vectors(self, texts: list[str], query: bool = False) -> np.ndarray:
        return view_vectors(self._cached, self._head, texts, self.normalize, query=query)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """View vectors (base vectors without a head) of ``texts``."""
        return self._vectors(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        """The view vector of one query: the base encoder's query path, then the head."""
        return self._vectors([text], query=True)[0].tolist()

    async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
        """Async ``embed_documents`` (runs in an executor: encoding is CPU/GPU bound)."""
        return await run_in_executor(None, self.embed_documents, texts)

    async def aembed_query(self, text: str) -> list[float]:
        """Async ``embed_query``."""
        return await run_in_executor(None, self.embed_query, text)

    def __repr__(self) -> str:
        view = self.view_name or ("<head>" if self._head is not None else None)
        return f"GSTEmbeddings(encoder={self._cached.name!r}, view={view!r})"

    __str__ = __repr__


__all__ = ["GSTEmbeddings"]
