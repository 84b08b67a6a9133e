"""``GSTEmbedding``: a LlamaIndex ``BaseEmbedding`` that returns instruction-view vectors.

Without a head it returns the base encoder's vectors: that is what a ``VectorStoreIndex``
should store, so that every view can later be computed from the stored vectors without
re-embedding. With a head it maps those base vectors into the head's view (queries and
documents go through the same head). Base vectors sit behind core's ``CachedEncoder``, so
a text is encoded at most once per process (or once ever, with a ``cache`` path).
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import numpy as np
from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.callbacks import CallbackManager
from pydantic import ConfigDict, Field, PrivateAttr

from gst_integrations.core.encoders.cache import CachedEncoder, cached_encoder
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import EncoderMismatchError
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.registry import HeadRegistry
from gst_integrations.core.heads.store import HeadStore
from gst_integrations.core.views.vectors import view_vectors


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
    head_path: str | None = Field(
        default=None, description="The head's file, so the embedding can be rebuilt from a dict."
    )
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
        view: str | None = None,
        head_path: str | None = None,
        **kwargs: Any,
    ) -> None:
        """``view`` and ``head_path`` are what ``to_dict`` records: with no ``head``, the
        head is read from ``head_path`` (else looked up as ``view`` in ``head_store``)."""
        recorded_model = kwargs.pop("model_name", None)
        cached = cached_encoder(encoder, cache)
        if recorded_model is not None and str(recorded_model).split("@")[0] != cached.name:
            raise EncoderMismatchError(
                f"this embedding was made with base encoder {recorded_model!r}, not "
                f"{cached.name!r}: pass encoder=<that encoder> to rebuild it"
            )
        if head is None:
            head = head_path or view
        registry = HeadRegistry.of(head_store)
        resolved = registry.resolve(head)
        if resolved is not None:
            # Refuse a head fitted on another base encoder now, not on the first query.
            resolved.check_encoder(cached.base_encoder)
            view = resolved.name or (head if isinstance(head, str) else None) or "view"
            head_path = _head_file(head, head_store)
        super().__init__(
            view=view if resolved is not None else None,
            head_path=head_path if resolved is not None else None,
            normalize=normalize,
            embed_batch_size=embed_batch_size,
            callback_manager=callback_manager,
            model_name=cached.name if resolved is None else f"{cached.name}@{view}",
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


def _head_file(head: Any, head_store: Any) -> str | None:
    """Where a head given by name or path lives on disk (None for a head object)."""
    if isinstance(head, str) and isinstance(head_store, HeadStore) and head in head_store:
        return str(head_store.path(head))
    if isinstance(head, (str, os.PathLike)):
        path = Path(head)
        for candidate in (path, path.with_name(path.name + ".safetensors")):
            if candidate.is_file():
                return str(candidate.resolve())
    return None


__all__ = ["GSTEmbedding", "cached_encoder"]
