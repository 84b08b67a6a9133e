"""``as_encoder``: any supported encoder object behind the encoder protocol."""

from __future__ import annotations

import sys
from typing import Any

from gst_integrations.core.encoders.adapters import (
    CallableEncoder,
    LangChainEmbeddingsEncoder,
    LlamaIndexEmbeddingEncoder,
    SentenceTransformerEncoder,
)
from gst_integrations.core.encoders.base import BaseEncoder, EncoderBase
from gst_integrations.core.encoders.default import default_encoder


def _instance_of(obj: Any, module: str, cls: str) -> bool:
    """isinstance against a framework class, by type, without importing the framework.

    An instance of the class means its module is already loaded; core never imports it.
    """
    mod = sys.modules.get(module)
    kind = getattr(mod, cls, None) if mod is not None else None
    return isinstance(kind, type) and isinstance(obj, kind)


def as_encoder(obj: Any = None, name: str | None = None) -> BaseEncoder:
    """Adapt any supported encoder object; None gives the default offline encoder.

    Chosen by type: a sentence-transformers ``SentenceTransformer``, a LangChain
    ``Embeddings``, a LlamaIndex ``BaseEmbedding``, one of our wrappers, or a callable
    texts -> vectors.
    """
    if obj is None:
        return default_encoder()
    if isinstance(obj, EncoderBase):
        return obj
    # Wrappers of ours (GSTEmbeddings, GSTEmbedding) expose the base encoder they hold.
    inner = getattr(obj, "base_encoder", None)
    if isinstance(inner, EncoderBase):
        return inner
    if _instance_of(obj, "sentence_transformers", "SentenceTransformer"):
        return SentenceTransformerEncoder(obj, name=name)
    if _instance_of(obj, "langchain_core.embeddings", "Embeddings"):
        return LangChainEmbeddingsEncoder(obj, name=name)
    if _instance_of(obj, "llama_index.core.base.embeddings.base", "BaseEmbedding"):
        return LlamaIndexEmbeddingEncoder(obj, name=name)
    if callable(obj):
        return CallableEncoder(obj, name=name)
    raise TypeError(
        f"{type(obj).__name__} is not an encoder: pass a sentence-transformers model, a "
        "LangChain Embeddings, a LlamaIndex BaseEmbedding or a callable texts -> vectors"
    )
