"""Where base vectors come from: a small protocol, read in pages, and an in-memory source.

Stores (Chroma, ...) implement ``VectorSource`` in ``gst_integrations.stores``; core only
sees pages of ids, documents, metadata and float32 vectors, never the whole corpus at once.

Freshness, from best to fallback:

* a **change feed** (``ChangeFeed``: ``cursor()`` and ``changes_since(cursor)``) lists the
  ids every writer upserted or deleted since a cursor, O(changes). Embedded Chroma keeps
  one (its write log, ``stores.chroma.changefeed``), and so does ``ArraySource``. A feed
  that cannot answer (its log was purged past the cursor, an unsupported store version)
  returns None and the caller reconciles.
* a writer that records a revision (``REV_KEY`` in a row's metadata, increasing with every
  write, as ``embed_into_chroma`` does) lets a refresh read only what changed
  (``changed_since``).
* a full reconciliation compares a signature of each row's document and metadata
  (``row_signature``) without reading vectors: it finds what other writers did, at a cost
  that grows with the store.
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


@dataclass(frozen=True)
class ChangeSet:
    """What a change feed saw between two cursors.

    ``upserted`` and ``deleted`` are ids (an id can be in both: read it again to know which
    holds now). ``deletes_known`` is False when the feed could list upserts but not deletes
    (its log was trimmed): then ``count`` is the store's row count, and deletes happened
    exactly when it is smaller than the rows held plus the new ids.
    """

    cursor: Any
    upserted: frozenset[str] = frozenset()
    deleted: frozenset[str] = frozenset()
    deletes_known: bool = True
    count: int | None = None

    def __len__(self) -> int:
        return len(self.upserted | self.deleted)


@runtime_checkable
class ChangeFeed(Protocol):
    """A store that can say which ids any writer changed since a cursor (O(changes))."""

    def cursor(self) -> Any:
        """The feed's position now (opaque), or None when the store keeps no feed."""
        ...

    def changes_since(self, cursor: Any) -> ChangeSet | None:
        """Changes after ``cursor`` up to now, or None when the feed cannot tell (the
        caller then reconciles). Raises StoreError when the store is gone."""
        ...


def change_feed_of(source: Any) -> ChangeFeed | None:
    """``source`` as a change feed when it keeps one now, else None."""
    if not isinstance(source, ChangeFeed):
        return None
    return source if source.cursor() is not None else None


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
    ``upsert(..., record_revision=False)`` behaves like a writer that records none. Every
    write is also logged for its change feed (``cursor`` / ``changes_since``), which keeps
    the last ``feed_limit`` writes; ``change_feed=False`` makes a source without a feed.
    """

    def __init__(
        self,
        ids: Sequence[str],
        vectors: Any,
        documents: Sequence[str | None] | None = None,
        metadatas: Sequence[dict[str, Any] | None] | None = None,
        fingerprint: EncoderFingerprint | dict[str, Any] | None = None,
        change_feed: bool = True,
        feed_limit: int = 100_000,
    ) -> None:
        self._lock = threading.Lock()
        self._feed = change_feed
        self._feed_limit = feed_limit
        self._log: list[tuple[int, bool, str]] = []  # (seq, deleted, id), oldest first
        self._seq = 0
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
            self._record(ids, deleted=False)
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
            self._record([str(i) for i in ids if str(i) in self._row], deleted=True)
            for i in ids:
                row = self._row.pop(str(i), None)
                if row is not None:
                    self._alive[row] = False

    def _record(self, ids: Sequence[str], deleted: bool) -> None:
        for i in ids:
            self._seq += 1
            self._log.append((self._seq, deleted, i))
        if len(self._log) > self._feed_limit:
            del self._log[: len(self._log) - self._feed_limit]

    # -- ChangeFeed -----------------------------------------------------------------------
    def cursor(self) -> int | None:
        """The sequence number of the last write (None: ``change_feed=False``)."""
        return self._seq if self._feed else None

    def changes_since(self, cursor: Any) -> ChangeSet | None:
        """Ids written after ``cursor``; None when the log no longer reaches back to it."""
        if not self._feed or cursor is None:
            return None
        with self._lock:
            if cursor > self._seq:
                return None
            if cursor < self._seq and (not self._log or self._log[0][0] > cursor + 1):
                return None  # trimmed past the cursor
            # Sequence numbers are consecutive: the entry after the cursor is at this index.
            tail = self._log[max(0, cursor - self._log[0][0] + 1) :] if self._log else []
            return ChangeSet(
                cursor=self._seq,
                upserted=frozenset(i for _, d, i in tail if not d),
                deleted=frozenset(i for _, d, i in tail if d),
            )

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
