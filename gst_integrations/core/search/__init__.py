"""The retrieval core's query side, and the protocol both retrieval paths share.

``ViewSearch`` is what the framework adapters hold: the materialised ``ViewEngine`` or the
``QuerySideBackend``, which searches a store's own index with a rewritten query.
"""

from gst_integrations.core.search.backend import QuerySideBackend
from gst_integrations.core.search.lookup import REENCODE, BaseIndex, VectorLookupRule
from gst_integrations.core.search.protocol import ViewSearch
from gst_integrations.core.search.query_side import (
    DEFAULT_METRIC,
    DEFAULT_OVERFETCH,
    QuerySideSearcher,
    rewrite_query,
)

__all__ = [
    "DEFAULT_METRIC",
    "DEFAULT_OVERFETCH",
    "REENCODE",
    "BaseIndex",
    "QuerySideBackend",
    "QuerySideSearcher",
    "VectorLookupRule",
    "ViewSearch",
    "rewrite_query",
]
