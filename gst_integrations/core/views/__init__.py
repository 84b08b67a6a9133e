"""Views over a vector store: the engine, its catalogue, the on-device index and filters."""

from gst_integrations.core.views.engine import RefreshStats, ViewEngine
from gst_integrations.core.views.index import ViewIndex
from gst_integrations.core.views.source import ArraySource, Page, VectorSource

__all__ = ["ArraySource", "Page", "RefreshStats", "VectorSource", "ViewEngine", "ViewIndex"]
