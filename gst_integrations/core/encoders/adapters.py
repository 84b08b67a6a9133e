"""Adapters that put a sentence-transformers model, a LangChain ``Embeddings``, a LlamaIndex
``BaseEmbedding`` or a plain callable behind the encoder protocol.

They are duck-typed so that core imports no framework; ``as_encoder`` picks one.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from gst_integrations.core.encoders.base import EncoderBase


class SentenceTransformerEncoder(EncoderBase):
    """A sentence-transformers model."""

    def __init__(self, model: Any, name: str | None = None, batch_size: int = 64) -> None:
        self.model = model
        self.batch_size = batch_size
        self.name = name or _model_name(model)

    def _encode(self, texts: list[str]) -> Any:
        return self._call("encode_document", texts)

    def _encode_query(self, texts: list[str]) -> Any:
        return self._call("encode_query", texts)

    def _call(self, method: str, texts: list[str]) -> Any:
        # sentence-transformers >= 5 applies the model's "query"/"document" prompts here.
        fn = getattr(self.model, method, None) or self.model.encode
        return fn(texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False)

    @property
    def dim(self) -> int:
        if self._dim is None:
            get_dim = getattr(self.model, "get_embedding_dimension", None) or getattr(
                self.model, "get_sentence_embedding_dimension", None
            )
            self._dim = int(get_dim()) if get_dim and get_dim() else super().dim
        return self._dim


class LangChainEmbeddingsEncoder(EncoderBase):
    """A LangChain ``Embeddings`` (anything with ``embed_documents``)."""

    def __init__(self, embeddings: Any, name: str | None = None) -> None:
        self.embeddings = embeddings
        self.name = name or _model_name(embeddings)

    def _encode(self, texts: list[str]) -> Any:
        return self.embeddings.embed_documents(texts)

    def _encode_query(self, texts: list[str]) -> Any:
        return [self.embeddings.embed_query(t) for t in texts]


class LlamaIndexEmbeddingEncoder(EncoderBase):
    """A LlamaIndex ``BaseEmbedding`` (anything with ``get_text_embedding_batch``)."""

    def __init__(self, embedding: Any, name: str | None = None) -> None:
        self.embedding = embedding
        self.name = name or _model_name(embedding)

    def _encode(self, texts: list[str]) -> Any:
        return self.embedding.get_text_embedding_batch(texts)

    def _encode_query(self, texts: list[str]) -> Any:
        return [self.embedding.get_query_embedding(t) for t in texts]


class CallableEncoder(EncoderBase):
    """A plain ``list[str] -> (n, d) array`` callable (``query_fn`` for queries, if any)."""

    def __init__(
        self,
        fn: Callable[[list[str]], Any],
        name: str | None = None,
        query_fn: Callable[[list[str]], Any] | None = None,
    ) -> None:
        self.fn = fn
        self.query_fn = query_fn
        self.name = name or getattr(fn, "__name__", "callable")

    def _encode(self, texts: list[str]) -> Any:
        return self.fn(texts)

    def _encode_query(self, texts: list[str]) -> Any:
        return (self.query_fn or self.fn)(texts)


def _model_name(obj: Any) -> str:
    for attr in ("model_name", "model", "name_or_path"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    card = getattr(obj, "model_card_data", None)
    base = getattr(card, "base_model", None) if card is not None else None
    return base or type(obj).__name__
