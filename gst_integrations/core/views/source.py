"""Where base vectors come from: a small protocol, read in pages, and an in-memory source.

Stores (Chroma, ...) implement ``VectorSource`` in ``gst_integrations.stores``; core only
sees pages of ids, documents, metadata and float32 vectors, never the whole corpus at once.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.validation import as_float32_matrix


@dataclass
class Page:
    """A batch of rows from a vector source; ``vectors`` is (n, d) float32."""

    ids: list[str]
    documents: list[str | None]
    metadatas: list[dict[str, Any]]
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def __len__(self) -> int:
        return len(self.ids)


@runtime_checkable
class VectorSource(Protocol):
    """Read access to stored base vectors."""

    def fingerprint_info(self) -> dict[str, Any] | None:
        """The base-encoder fingerprint recorded with the vectors (as a dict), or None."""
        ...

    def dim(self) -> int | None:
        """Dimension of the stored vectors, or None while the source is empty."""
        ...

    def count(self) -> int: ...

    def list_ids(self, page_size: int = 1000) -> Iterator[list[str]]:
        """Every id, in pages."""
        ...

    def get(self, ids: Sequence[str], include_documents: bool = True) -> Page:
        """Rows for ``ids`` that exist (missing ids are skipped; order not guaranteed)."""
        ...

    def iter_pages(self, page_size: int = 1000) -> Iterator[Page]:
        """Every row, in pages."""
        ...


class ArraySource:
    """An in-memory, mutable ``VectorSource`` (tests, benchmarks, small corpora)."""

    def __init__(
        self,
        ids: Sequence[str],
        vectors: Any,
        documents: Sequence[str | None] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        fingerprint: EncoderFingerprint | dict[str, Any] | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._fp = (
            fingerprint.to_dict()
            if isinstance(fingerprint, EncoderFingerprint)
            else (dict(fingerprint) if fingerprint else None)
        )
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._docs: list[str | None] = []
        self._metas: list[dict[str, Any]] = []
        self._vecs = np.zeros((0, 0), np.float32)
        self._alive = np.zeros(0, bool)
        if len(ids):
            self.add(ids, vectors, documents, metadatas)

    # -- mutation -------------------------------------------------------------------------
    def add(
        self,
        ids: Sequence[str],
        vectors: Any,
        documents: Sequence[str | None] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
    ) -> None:
        """Append rows (ids must be new)."""
        X = as_float32_matrix(vectors, dim=self._vecs.shape[1] if len(self._ids) else None)
        ids = [str(i) for i in ids]
        if len(ids) != X.shape[0] or len(set(ids)) != len(ids):
            raise ValueError("ids must be unique and match the number of vectors")
        with self._lock:
            dup = [i for i in ids if i in self._row]
            if dup:
                raise ValueError(f"ids already present: {dup[:5]}")
            start = len(self._ids)
            self._ids.extend(ids)
            self._row.update({i: start + k for k, i in enumerate(ids)})
            self._docs.extend(documents if documents is not None else [None] * len(ids))
            self._metas.extend([dict(m or {}) for m in (metadatas or [None] * len(ids))])
            self._vecs = X.copy() if start == 0 else np.concatenate([self._vecs, X])
            self._alive = np.concatenate([self._alive, np.ones(len(ids), bool)])

    def delete(self, ids: Sequence[str]) -> None:
        with self._lock:
            for i in ids:
                row = self._row.pop(str(i), None)
                if row is not None:
                    self._alive[row] = False

    # -- VectorSource ---------------------------------------------------------------------
    def fingerprint_info(self) -> dict[str, Any] | None:
        return self._fp

    def dim(self) -> int | None:
        return int(self._vecs.shape[1]) if len(self._ids) else None

    def count(self) -> int:
        return len(self._row)

    def _live_rows(self) -> np.ndarray:
        with self._lock:
            return np.flatnonzero(self._alive)

    def list_ids(self, page_size: int = 1000) -> Iterator[list[str]]:
        rows = self._live_rows()
        for s in range(0, len(rows), page_size):
            yield [self._ids[r] for r in rows[s : s + page_size]]

    def _page(self, rows: np.ndarray, include_documents: bool = True) -> Page:
        return Page(
            ids=[self._ids[r] for r in rows],
            documents=[self._docs[r] for r in rows] if include_documents else [None] * len(rows),
            metadatas=[dict(self._metas[r]) for r in rows],
            vectors=self._vecs[rows],
        )

    def get(self, ids: Sequence[str], include_documents: bool = True) -> Page:
        with self._lock:
            rows = np.array([self._row[i] for i in ids if i in self._row], dtype=np.int64)
        return self._page(rows, include_documents)

    def iter_pages(self, page_size: int = 1000) -> Iterator[Page]:
        rows = self._live_rows()
        for s in range(0, len(rows), page_size):
            yield self._page(rows[s : s + page_size])
