"""``as_encoder``: any supported encoder object behind the encoder protocol."""

from __future__ import annotations

from typing import Any

from gst_integrations.core.encoders.adapters import (
    CallableEncoder,
    LangChainEmbeddingsEncoder,
    LlamaIndexEmbeddingEncoder,
    SentenceTransformerEncoder,
)
from gst_integrations.core.encoders.base import BaseEncoder, EncoderBase
from gst_integrations.core.encoders.default import default_encoder


def as_encoder(obj: Any = None, name: str | None = None) -> BaseEncoder:
    """Adapt any supported encoder object; None gives the default offline encoder."""
    if obj is None:
        return default_encoder()
    if isinstance(obj, EncoderBase):
        return obj
    # Wrappers of ours (GSTEmbeddings, GSTEmbedding) expose the base encoder they hold.
    inner = getattr(obj, "base_encoder", None)
    if isinstance(inner, EncoderBase):
        return inner
    if hasattr(obj, "get_sentence_embedding_dimension") and hasattr(obj, "encode"):
        return SentenceTransformerEncoder(obj, name=name)
    if hasattr(obj, "embed_documents"):
        return LangChainEmbeddingsEncoder(obj, name=name)
    if hasattr(obj, "get_text_embedding_batch"):
        return LlamaIndexEmbeddingEncoder(obj, name=name)
    if callable(obj):
        return CallableEncoder(obj, name=name)
    raise TypeError(
        f"{type(obj).__name__} is not an encoder: pass a sentence-transformers model, a "
        "LangChain Embeddings, a LlamaIndex BaseEmbedding or a callable texts -> vectors"
    )
