"""``GSTEmbedding``: a LlamaIndex ``BaseEmbedding`` that returns instruction-view vectors.

Without a head it returns the base encoder's vectors: that is what a ``VectorStoreIndex``
should store, so that every view can later be computed from the stored vectors without
re-embedding. With a head it maps those base vectors into the head's view (queries and
documents go through the same head). Base vectors sit behind core's ``CachedEncoder``, so
a text is encoded at most once per process (or once ever, with a ``cache`` path).
"""

from __future__ import annotations

import asyncio
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.callbacks import CallbackManager
from pydantic import ConfigDict, Field, PrivateAttr

from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.lookup import resolve_head
from gst_integrations.core.views.vectors import view_vectors


def cached_encoder(encoder: Any = None, cache: Any = None) -> CachedEncoder:
    """``encoder`` behind a vector cache (reused as is when it already is a CachedEncoder).

    A ``GSTEmbedding`` (or LangChain ``GSTEmbeddings``) gives its own cached encoder, so
    the index, the retriever and the query embeddings share one cache.
    """
    if isinstance(encoder, CachedEncoder):
        return encoder
    inner = getattr(encoder, "base_encoder", None)
    if isinstance(inner, CachedEncoder):
        return inner
    if cache is None or not isinstance(cache, VectorCache):
        cache = VectorCache(cache)
    return CachedEncoder(encoder, cache=cache)


class GSTEmbedding(BaseEmbedding):
    """Base-encoder embeddings, optionally mapped into one instruction view by a head.

    Args:
        head: a ``Head``, a view name looked up in ``head_store``, a head file path, or
            None for the base vectors (use this to build the index).
        encoder: anything core's ``as_encoder`` accepts (sentence-transformers model,
            LlamaIndex ``BaseEmbedding``, LangChain ``Embeddings``, callable); None means
            the offline all-MiniLM-L6-v2.
        head_store: a ``HeadStore`` or dict of heads, for views given by name.
        cache: None (in memory), a SQLite path, or a ``VectorCache`` shared with others.
        normalize: make view vectors unit length, so L2 and inner product rank like the
            cosine the views are trained for. Base vectors are returned unchanged.
    """

    model_config = ConfigDict(extra="forbid")

    view: str | None = Field(default=None, description="Name of the instruction view, if any.")
    normalize: bool = Field(default=True, description="Unit-length view vectors.")

    _cached: CachedEncoder = PrivateAttr()
    _head: Head | None = PrivateAttr(default=None)
    _head_store: Any = PrivateAttr(default=None)

    def __init__(
        self,
        head: Head | str | None = None,
        *,
        encoder: Any = None,
        head_store: Any = None,
        cache: Any = None,
        normalize: bool = True,
        embed_batch_size: int = 64,
        callback_manager: CallbackManager | None = None,
        **kwargs: Any,
    ) -> None:
        cached = cached_encoder(encoder, cache)
        resolved = resolve_head(head, head_store)
        if resolved is not None:
            # Refuse a head fitted on another base encoder now, not on the first query.
            resolved.check_encoder(cached.base_encoder)
        view = None
        if resolved is not None:
            view = resolved.name or (str(head) if isinstance(head, str) else None) or "view"
        kwargs.setdefault("model_name", cached.name if view is None else f"{cached.name}@{view}")
        super().__init__(
            view=view,
            normalize=normalize,
            embed_batch_size=embed_batch_size,
            callback_manager=callback_manager,
            **kwargs,
        )
        self._cached = cached
        self._head = resolved
        self._head_store = head_store

    @classmethod
    def class_name(cls) -> str:
        return "GSTEmbedding"

    # -- identity ------------------------------------------------------------------------
    @property
    def base_encoder(self) -> CachedEncoder:
        """The cached base encoder (core's ``as_encoder`` unwraps a GSTEmbedding to it)."""
        return self._cached

    @property
    def head(self) -> Head | None:
        """The head applied to base vectors, or None for base vectors."""
        return self._head

    @property
    def head_store(self) -> Any:
        return self._head_store

    @property
    def n_encoded(self) -> int:
        """How many texts the base encoder actually encoded (cache misses)."""
        return self._cached.n_encoded

    def fingerprint(self) -> EncoderFingerprint:
        """The base encoder's fingerprint."""
        return self._cached.fingerprint()

    def with_view(self, head: Head | str | None, head_store: Any = None) -> GSTEmbedding:
        """A new embedding for another view (None: base vectors), sharing the vector cache."""
        return GSTEmbedding(
            head,
            encoder=self._cached,
            head_store=head_store if head_store is not None else self._head_store,
            normalize=self.normalize,
            embed_batch_size=self.embed_batch_size,
            callback_manager=self.callback_manager,
        )

    # -- embedding -----------------------------------------------------------------------
    def embed_array(self, texts: list[str], query: bool = False) -> np.ndarray:
        """(n, d) float32 view vectors (base vectors without a head) of ``texts``; ``query``
        takes the base encoder's query path."""
        return view_vectors(self._cached, self._head, texts, self.normalize, query=query)

    def _get_query_embedding(self, query: str) -> Embedding:
        return self.embed_array([query], query=True)[0].tolist()

    def _get_text_embedding(self, text: str) -> Embedding:
        return self.embed_array([text])[0].tolist()

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self.embed_array(texts).tolist()

    async def _aget_query_embedding(self, query: str) -> Embedding:
        # Encoding is CPU/GPU bound: run it in a thread so the event loop stays free.
        return await asyncio.to_thread(self._get_query_embedding, query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await asyncio.to_thread(self._get_text_embedding, text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)

    def __repr__(self) -> str:
        return f"GSTEmbedding(encoder={self._cached.name!r}, view={self.view!r})"

    __str__ = __repr__


__all__ = ["GSTEmbedding", "cached_encoder"]
