"""Materialised views over a vector store: the engine, its rows, view matrices and filters."""

from gst_integrations.core.views.engine import EngineOptions, RefreshStats, ViewEngine
from gst_integrations.core.views.source import ArraySource, Page, VectorSource

__all__ = ["ArraySource", "EngineOptions", "Page", "RefreshStats", "VectorSource", "ViewEngine"]
