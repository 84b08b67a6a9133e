"""Chroma's own HNSW index as the base index of the query-side path."""

from __future__ import annotations

from typing import Any

import numpy as np

from gst_integrations.core.errors import StoreError
from gst_integrations.core.hits import Candidate


def chroma_search_base(collection: Any, where: dict[str, Any] | None = None):
    """A base-index search function for ``QuerySideSearcher`` over Chroma's HNSW index.

    Returns candidates with their base vectors, so cosine views can be re-ranked exactly.
    """

    def search(vector: np.ndarray, n: int) -> list[Candidate]:
        # No count() first: chromadb >= 1.0 answers an n above the collection's size with
        # what it has, so a query costs one store round trip, not two.
        n = max(int(n), 1)
        try:
            got = collection.query(
                query_embeddings=[np.asarray(vector, np.float32)],
                n_results=n,
                where=where,
                include=["embeddings", "metadatas", "documents", "distances"],
            )
        except Exception as exc:
            raise StoreError(f"Chroma query on {collection.name!r} failed: {exc}") from exc
        ids = got["ids"][0]
        emb = got["embeddings"][0] if got.get("embeddings") is not None else [None] * len(ids)
        docs = got["documents"][0] if got.get("documents") is not None else [None] * len(ids)
        metas = got["metadatas"][0] if got.get("metadatas") is not None else [None] * len(ids)
        dists = got["distances"][0] if got.get("distances") is not None else [None] * len(ids)
        return [
            Candidate(
                id=i,
                document=d,
                metadata=dict(m) if m else {},
                vector=np.asarray(e, np.float32) if e is not None else None,
                score=-float(s) if s is not None else None,
            )
            for i, d, m, e, s in zip(ids, docs, metas, emb, dists, strict=True)
        ]

    return search
