"""gst-integrations: instruction views over vectors you already stored (GSTransform).

Core names are importable from here. The framework adapters live in
``gst_integrations.langchain`` and ``gst_integrations.llama_index``, Chroma access in
``gst_integrations.stores``, and label construction in ``gst_integrations.labels``.
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError
from importlib.metadata import version as _version
from typing import TYPE_CHECKING, Any

try:  # the version is written once, in pyproject.toml
    __version__ = _version("gst-integrations")
except PackageNotFoundError:  # a source tree that was never installed
    __version__ = "0+unknown"

#: Public name -> the module that defines it. Imported on first use, so ``import
#: gst_integrations`` (and ``gst --help``) does not load torch until a name is needed.
_EXPORTS = {
    "ArraySource": "gst_integrations.core.views.source",
    "CachedEncoder": "gst_integrations.core.encoders.cache",
    "EncoderFingerprint": "gst_integrations.core.encoders.fingerprint",
    "GSTError": "gst_integrations.core.errors",
    "Head": "gst_integrations.core.heads.head",
    "HeadOptions": "gst_integrations.core.heads.options",
    "HeadStore": "gst_integrations.core.heads.store",
    "QuerySideSearcher": "gst_integrations.core.search.query_side",
    "RefreshStats": "gst_integrations.core.views.refresh",
    "SearchHit": "gst_integrations.core.hits",
    "VectorCache": "gst_integrations.core.encoders.cache",
    "VectorSource": "gst_integrations.core.views.source",
    "ViewEngine": "gst_integrations.core.views.engine",
    "as_encoder": "gst_integrations.core.encoders.coerce",
    "default_encoder": "gst_integrations.core.encoders.default",
    "fit_head": "gst_integrations.core.heads.training",
    "fit_view": "gst_integrations.core.views.fit",
    "load_head": "gst_integrations.core.heads.head",
    "rewrite_query": "gst_integrations.core.search.query_side",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'gst_integrations' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
    from gst_integrations.core.encoders.coerce import as_encoder
    from gst_integrations.core.encoders.default import default_encoder
    from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
    from gst_integrations.core.errors import GSTError
    from gst_integrations.core.heads.head import Head, load_head
    from gst_integrations.core.heads.options import HeadOptions
    from gst_integrations.core.heads.store import HeadStore
    from gst_integrations.core.heads.training import fit_head
    from gst_integrations.core.hits import SearchHit
    from gst_integrations.core.search.query_side import QuerySideSearcher, rewrite_query
    from gst_integrations.core.views.engine import ViewEngine
    from gst_integrations.core.views.fit import fit_view
    from gst_integrations.core.views.refresh import RefreshStats
    from gst_integrations.core.views.source import ArraySource, VectorSource

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
