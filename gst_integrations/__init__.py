"""gst-integrations: instruction views over vectors you already stored (GSTransform).

Core names are importable from here. The framework adapters live in
``gst_integrations.langchain`` and ``gst_integrations.llama_index``, Chroma access in
``gst_integrations.stores``, and label construction in ``gst_integrations.labels``.
"""

from .core import (
    EncoderFingerprint,
    GSTError,
    Head,
    HeadOptions,
    as_encoder,
    default_encoder,
    fit_head,
    load_head,
)
from .core.head_store import HeadStore
from .core.query_side import QuerySideSearcher, rewrite_query
from .core.source import ArraySource, VectorSource
from .core.vector_cache import CachedEncoder, VectorCache
from .core.view_engine import RefreshStats, SearchHit, ViewEngine

__version__ = "0.1.0"

__all__ = [
    "ArraySource",
    "CachedEncoder",
    "EncoderFingerprint",
    "GSTError",
    "Head",
    "HeadOptions",
    "HeadStore",
    "QuerySideSearcher",
    "RefreshStats",
    "SearchHit",
    "VectorCache",
    "VectorSource",
    "ViewEngine",
    "__version__",
    "as_encoder",
    "default_encoder",
    "fit_head",
    "load_head",
    "rewrite_query",
]
