"""What a retrieval path offers, whichever it is: the ``ViewSearch`` protocol.

Two implementations live in core: the materialised ``ViewEngine`` (``core.views``), exact
over rows held on the device, and the ``QuerySideBackend`` (``core.search.backend``), which
searches a store's own index with a rewritten query. The LangChain and LlamaIndex adapters
hold one of them and only translate: documents or nodes to and from ``SearchHit``,
filters, configuration. So the same scenario gives the same ids and scores through either
framework.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.heads.blend import ViewSpec
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.registry import HeadRegistry
from gst_integrations.core.hits import SearchHit

__all__ = ["ViewSearch"]


@runtime_checkable
class ViewSearch(Protocol):
    """Search stored base vectors in a view chosen per call."""

    registry: HeadRegistry
    metric: str

    @property
    def encoder(self) -> CachedEncoder:
        """The cached base encoder queries go through."""
        ...

    def views(self) -> list[str]:
        """Names of the registered views."""
        ...

    def head(self, name: str) -> Head:
        """The head of a registered view (``UnknownViewError`` otherwise)."""
        ...

    def register(self, name: str, head: Head) -> None:
        """Add or replace a view."""
        ...

    def check(self, view: ViewSpec) -> None:
        """Raise a typed error unless every view of ``view`` can be searched here."""
        ...

    def query_vector(self, query: str | np.ndarray, view: ViewSpec = None) -> np.ndarray:
        """The query's vector in the view's scoring space (MMR)."""
        ...

    def search(
        self,
        query: str | np.ndarray,
        view: ViewSpec = None,
        k: int = 4,
        where: Any = None,
        where_document: Any = None,
        with_vectors: bool = False,
    ) -> list[SearchHit]:
        """The top ``k`` hits for a query text (or base vector), best first."""
        ...
