"""Where base vectors come from: a small protocol, read in pages, and an in-memory source.

Stores (Chroma, ...) implement ``VectorSource`` in ``gst_integrations.stores``; core only
sees pages of ids, documents, metadata and float32 vectors, never the whole corpus at once.

Freshness: a writer that records a revision (``REV_KEY`` in a row's metadata, increasing
with every write, as ``embed_into_chroma`` does) lets a refresh read only what changed
(``changed_since``). Writes that record none are found by a full reconciliation, which
compares a signature of each row's document and metadata (``row_signature``) without
reading vectors.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.hits import REV_KEY
from gst_integrations.core.validation import as_float32_matrix
from gst_integrations.core.views.filters import matches_where, matches_where_document


def new_revision() -> int:
    """A revision for rows written now (nanoseconds since the epoch: grows across writers)."""
    return time.time_ns()


def row_signature(document: str | None, metadata: dict[str, Any] | None) -> int:
    """A 63-bit signature of a row's document and metadata, to spot updates without vectors."""
    h = hashlib.blake2b(digest_size=8)
    h.update((document or "").encode("utf-8", "surrogatepass"))
    h.update(b"\x00")
    h.update(json.dumps(metadata or {}, sort_keys=True, default=str).encode())
    return int.from_bytes(h.digest(), "little") >> 1


@dataclass
class Page:
    """A batch of rows from a vector source; ``vectors`` is (n, d) float32 (or (n, 0) when
    vectors were not asked for)."""

    ids: list[str]
    documents: list[str | None]
    metadatas: list[dict[str, Any]]
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), np.float32))

    def __len__(self) -> int:
        return len(self.ids)

    def signatures(self) -> np.ndarray:
        """``row_signature`` of every row (int64)."""
        return np.fromiter(
            (row_signature(d, m) for d, m in zip(self.documents, self.metadatas, strict=True)),
            np.int64,
            len(self.ids),
        )


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

    def iter_pages(self, page_size: int = 1000, include_vectors: bool = True) -> Iterator[Page]:
        """Every row, in pages."""
        ...

    def changed_since(self, revision: int, page_size: int = 1000) -> Iterator[Page]:
        """Rows (with vectors) whose ``REV_KEY`` is above ``revision``."""
        ...

    def ids_where(
        self, where: dict[str, Any] | None, where_document: dict[str, Any] | None
    ) -> set[str]:
        """Ids of the rows passing a ``where`` / ``where_document`` filter."""
        ...


class ArraySource:
    """An in-memory, mutable ``VectorSource`` (tests, benchmarks, small corpora).

    ``upsert`` and ``delete`` record revisions like a revision-recording writer;
    ``upsert(..., record_revision=False)`` behaves like a writer that records none.
    """

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
        with self._lock:
            dup = [str(i) for i in ids if str(i) in self._row]
        if dup:
            raise ValueError(f"ids already present: {dup[:5]}")
        self.upsert(ids, vectors, documents, metadatas, record_revision=False)

    def upsert(
        self,
        ids: Sequence[str],
        vectors: Any,
        documents: Sequence[str | None] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        record_revision: bool = True,
    ) -> None:
        """Add new ids and replace existing ones (vector, document and metadata)."""
        X = as_float32_matrix(vectors, dim=self._vecs.shape[1] if len(self._ids) else None)
        ids = [str(i) for i in ids]
        if len(ids) != X.shape[0] or len(set(ids)) != len(ids):
            raise ValueError("ids must be unique and match the number of vectors")
        docs = list(documents) if documents is not None else [None] * len(ids)
        metas = [dict(m or {}) for m in (metadatas or [None] * len(ids))]
        if record_revision:
            rev = new_revision()
            for m in metas:
                m[REV_KEY] = rev
        with self._lock:
            new = [j for j, i in enumerate(ids) if i not in self._row]
            for j, i in enumerate(ids):
                r = self._row.get(i)
                if r is not None:
                    self._vecs[r], self._docs[r], self._metas[r] = X[j], docs[j], metas[j]
            if new:
                start = len(self._ids)
                self._ids.extend(ids[j] for j in new)
                self._row.update({ids[j]: start + k for k, j in enumerate(new)})
                self._docs.extend(docs[j] for j in new)
                self._metas.extend(metas[j] for j in new)
                self._vecs = X[new].copy() if start == 0 else np.concatenate([self._vecs, X[new]])
                self._alive = np.concatenate([self._alive, np.ones(len(new), bool)])

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

    def _page(self, rows: np.ndarray, include_documents: bool = True, vectors: bool = True) -> Page:
        with self._lock:
            return Page(
                ids=[self._ids[r] for r in rows],
                documents=[self._docs[r] for r in rows]
                if include_documents
                else [None] * len(rows),
                metadatas=[dict(self._metas[r]) for r in rows],
                vectors=self._vecs[rows] if vectors else np.zeros((len(rows), 0), np.float32),
            )

    def get(self, ids: Sequence[str], include_documents: bool = True) -> Page:
        with self._lock:
            rows = np.array([self._row[i] for i in ids if i in self._row], dtype=np.int64)
        return self._page(rows, include_documents)

    def iter_pages(self, page_size: int = 1000, include_vectors: bool = True) -> Iterator[Page]:
        rows = self._live_rows()
        for s in range(0, len(rows), page_size):
            yield self._page(rows[s : s + page_size], vectors=include_vectors)

    def changed_since(self, revision: int, page_size: int = 1000) -> Iterator[Page]:
        rows = self._live_rows()
        with self._lock:
            rows = np.array(
                [r for r in rows if int(self._metas[r].get(REV_KEY, -1)) > revision], np.int64
            )
        for s in range(0, len(rows), page_size):
            yield self._page(rows[s : s + page_size])

    def ids_where(
        self, where: dict[str, Any] | None, where_document: dict[str, Any] | None
    ) -> set[str]:
        rows = self._live_rows()
        with self._lock:
            return {
                self._ids[r]
                for r in rows
                if matches_where(self._metas[r], where)
                and matches_where_document(self._docs[r], where_document)
            }
