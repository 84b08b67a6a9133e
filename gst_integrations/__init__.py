"""gst-integrations: instruction views over vectors you already stored (GSTransform).

Core names are importable from here. The framework adapters live in
``gst_integrations.langchain`` and ``gst_integrations.llama_index``, Chroma access in
``gst_integrations.stores``, and label construction in ``gst_integrations.labels``.
"""

from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version

from gst_integrations.core import (
    EncoderFingerprint,
    GSTError,
    Head,
    HeadOptions,
    as_encoder,
    default_encoder,
    fit_head,
    load_head,
)
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.heads.store import HeadStore
from gst_integrations.core.hits import SearchHit
from gst_integrations.core.search.query_side import QuerySideSearcher, rewrite_query
from gst_integrations.core.views.engine import RefreshStats, ViewEngine
from gst_integrations.core.views.fit import fit_view
from gst_integrations.core.views.source import ArraySource, VectorSource

try:  # the version is written once, in pyproject.toml
    __version__ = _version("gst-integrations")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

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
    "fit_view",
    "load_head",
    "rewrite_query",
]
