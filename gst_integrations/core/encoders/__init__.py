"""Base encoders: the protocol, adapters for every framework, the default, fingerprint, cache."""

from gst_integrations.core.encoders.adapters import (
    CallableEncoder,
    LangChainEmbeddingsEncoder,
    LlamaIndexEmbeddingEncoder,
    SentenceTransformerEncoder,
)
from gst_integrations.core.encoders.base import BaseEncoder, EncoderBase
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.encoders.default import default_encoder
from gst_integrations.core.encoders.fingerprint import PROBE_SENTENCES, EncoderFingerprint

__all__ = [
    "PROBE_SENTENCES",
    "BaseEncoder",
    "CachedEncoder",
    "CallableEncoder",
    "EncoderBase",
    "EncoderFingerprint",
    "LangChainEmbeddingsEncoder",
    "LlamaIndexEmbeddingEncoder",
    "SentenceTransformerEncoder",
    "VectorCache",
    "as_encoder",
    "default_encoder",
]
