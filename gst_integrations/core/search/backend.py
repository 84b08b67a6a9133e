"""``QuerySideBackend``: views over any store's own index, with nothing materialised.

For linear heads a view's score is an inner product in the base space with a rewritten
query (``core.search.query_side``), so a store's existing index (Chroma's HNSW, Milvus, any
LangChain or LlamaIndex vector store) is searched with that query, the over-fetched
candidates get their stored base vectors (``core.search.lookup``) and are re-ranked
exactly. The generic view is the same path with the identity head: its scores are exact
cosines, as in the materialised engine.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.errors import ApproximateSearchWarning, GSTError, StoreError
from gst_integrations.core.feedback import warn_once
from gst_integrations.core.heads.blend import METRICS, Blend, ViewSpec, blend_weights
from gst_integrations.core.heads.compat import check_query_encoder, check_query_side
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.registry import HeadRegistry
from gst_integrations.core.hits import SearchHit
from gst_integrations.core.search.lookup import BaseIndex, VectorLookupRule
from gst_integrations.core.search.query_side import (
    COSINE_AT_SCALE,
    DEFAULT_METRIC,
    DEFAULT_OVERFETCH,
    QuerySideSearcher,
)
from gst_integrations.core.validation import check_k, check_query_vector

__all__ = ["QuerySideBackend"]


class QuerySideBackend:
    """A ``ViewSearch`` over a ``BaseIndex`` (a framework store, adapted) and linear heads."""

    def __init__(
        self,
        index: BaseIndex,
        heads: Any,
        encoder: CachedEncoder,
        *,
        metric: str = DEFAULT_METRIC,
        overfetch: int = DEFAULT_OVERFETCH,
        vector_lookup: Any = None,
    ) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
        if isinstance(overfetch, bool) or not isinstance(overfetch, int) or overfetch < 1:
            raise ValueError(f"overfetch must be an integer >= 1, got {overfetch!r}")
        if metric == "cosine":
            warn_once("query-side-cosine", COSINE_AT_SCALE, ApproximateSearchWarning)
        self.index = index
        self.registry = HeadRegistry.of(heads)
        self._encoder = encoder
        self.metric = metric
        self.overfetch = overfetch
        self.lookup = VectorLookupRule(vector_lookup, index, encoder)

    @property
    def encoder(self) -> CachedEncoder:
        return self._encoder

    # -- views ----------------------------------------------------------------------------
    def views(self) -> list[str]:
        return self.registry.names()

    def head(self, name: str) -> Head:
        return self.registry.get(name)

    def register(self, name: str, head: Head) -> None:
        self.registry.register(name, head)

    def _checked(self, name: str) -> Head:
        def fits(head: Head) -> None:
            check_query_side(head, name, f"a {self.index.name}")
            check_query_encoder(head, name, self._encoder.base_encoder)

        return self.registry.checked(name, "query-side", fits)

    def check(self, view: ViewSpec) -> None:
        for name in blend_weights(view):
            if name is not None:
                self._checked(name)

    # -- search ---------------------------------------------------------------------------
    def _query_row(self, query: str | np.ndarray) -> np.ndarray:
        if isinstance(query, str):
            return check_query_vector(self._encoder.encode_query([query])[0])
        return check_query_vector(query)

    def query_vector(self, query: str | np.ndarray, view: ViewSpec = None) -> np.ndarray:
        base = self._query_row(query)
        if view is None:
            return base
        if isinstance(view, str):
            return self._checked(view).transform(base[None, :])[0]
        blend = Blend.resolve(view, self._checked)
        return blend.vectors(base[None, :], self.metric)[0].astype(np.float32)

    def search(
        self,
        query: str | np.ndarray,
        view: ViewSpec = None,
        k: int = 4,
        where: Any = None,
        where_document: Any = None,
        with_vectors: bool = False,
    ) -> list[SearchHit]:
        """Top-k in ``view`` through the store's index; ``where`` is the store's own filter."""
        check_k(k)
        if where_document:
            raise GSTError(
                "where_document filters need materialised views over Chroma (from_chroma); "
                "on the query-side path pass the store's own filter"
            )
        q = self._query_row(query)
        blend = Blend.resolve(view, self._checked)
        dim = len(q)
        searcher = QuerySideSearcher(
            blend,
            lambda vec, n: self.lookup.fill(self.index.query(vec, n, where), dim),
            metric=self.metric,
            overfetch=self.overfetch,
        )
        hits, candidates = searcher.search_candidates(q, k, with_vectors)
        if not hits and where is None:
            raise StoreError(
                f"the {self.index.name} is empty: fill it with the base encoder's vectors "
                "before searching views"
            )
        for hit, cand in zip(hits, candidates, strict=True):
            hit.payload = cand.payload
        return hits

    def __repr__(self) -> str:
        return (
            f"QuerySideBackend(store={self.index.name}, views={self.views()}, "
            f"metric={self.metric}, overfetch={self.overfetch})"
        )
