"""The query-side path: a linear view searched through the store's own base index."""

from gst_integrations.core.search.query_side import (
    DEFAULT_OVERFETCH,
    QuerySideSearcher,
    rewrite_query,
)

__all__ = ["DEFAULT_OVERFETCH", "QuerySideSearcher", "rewrite_query"]
