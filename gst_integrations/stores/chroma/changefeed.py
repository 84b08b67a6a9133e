"""Embedded Chroma's own write log, read as an O(changes) change feed (read-only, guarded).

A ``PersistentClient`` keeps everything in ``<path>/chroma.sqlite3`` (measured on chromadb
1.5.9; the schema is versioned in its ``migrations`` table):

* ``embeddings_queue`` is its write log: one row per record written, with a global
  ``seq_id``, the ``operation`` (0 add, 1 update, 2 upsert, 3 delete), the record ``id``
  and a ``topic`` naming the collection (``persistent://<tenant>/<namespace>/<id>``).
  After each write Chroma purges that collection's entries below the position both of its
  segments have applied; the vector (HNSW) segment's position moves when its index is
  persisted (every ``hnsw:sync_threshold`` records, 1000 by default), so the log keeps
  roughly the last thousand writes of a collection, and often fewer.
* ``max_seq_id`` holds, per segment, the last ``seq_id`` applied. The metadata segment's
  value is what ``collection.get`` reflects: it is the feed's cursor.
* ``embeddings`` holds one row per record of a metadata segment, with the ``seq_id`` of
  the record's last add, update or upsert.

``changes_since(cursor)``: when the log entry at the cursor is still there, no entry after
it was purged (purges remove a prefix), so the entries after it name every upsert and
delete exactly. When it was purged, the upserts are the rows whose ``seq_id`` is past the
cursor (one SQLite scan of the collection's rows: no vectors, no documents) and deletes are
known by the row count (``ChangeSet.deletes_known`` False). Anything unexpected (an
unknown schema version, missing columns, non-integer sequence numbers, an unknown
operation, a locked or unreadable file) makes the feed answer None: the caller reconciles.

The file is opened read-only (``mode=ro``), one short read transaction per call, so the
cursor and the rows come from one snapshot; nothing here ever writes to it.
"""

from __future__ import annotations

import os
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import quote

from gst_integrations.core.errors import StoreError
from gst_integrations.core.feedback import logger
from gst_integrations.core.views.source import ChangeSet

#: Schema versions (``migrations`` per directory) whose tables and semantics this feed reads:
#: metadb 5 made ``max_seq_id.seq_id`` an integer, sysdb 5 dropped topics from segments.
#: The upper bounds are the versions of chromadb 1.5.9, the newest release tested.
SUPPORTED_SCHEMA = {"embeddings_queue": (1, 2), "metadb": (5, 6), "sysdb": (5, 10)}
REQUIRED_COLUMNS = {
    "embeddings_queue": ("seq_id", "operation", "topic", "id"),
    "max_seq_id": ("segment_id", "seq_id"),
    "embeddings": ("segment_id", "embedding_id", "seq_id"),
    "segments": ("id", "scope", "collection"),
    "collections": ("id", "name"),
}
UPSERT_OPS = (0, 1, 2)  # add, update, upsert
DELETE_OP = 3
DB_FILE = "chroma.sqlite3"
#: Seconds a read waits for a writer's lock before the feed gives up (then: reconcile).
BUSY_TIMEOUT_S = 5.0


class Unsupported(Exception):
    """The file is not a schema this feed reads (the caller reconciles instead)."""


def _busy(exc: sqlite3.Error) -> StoreError | None:
    """A StoreError for a file locked by a writer past ``BUSY_TIMEOUT_S``: a transient
    failure (the last snapshot keeps serving, the next refresh tries again), not a reason
    to reconcile the whole collection."""
    text = str(exc).lower()
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in text or "busy" in text):
        return StoreError(f"Chroma's database is locked by a writer: {exc}")
    return None


def feed_for(collection: Any) -> ChromaChangeFeed | None:
    """The change feed of a chromadb collection of a ``PersistentClient``; None for an
    ``HttpClient`` server, an in-memory client, or a file this feed does not support
    (StoreError while a writer holds the file locked: ask again later)."""
    try:
        settings = collection._client.get_settings()
        local = settings.is_persistent and "fastapi" not in str(settings.chroma_api_impl)
        path = Path(settings.persist_directory) / DB_FILE
        cid = str(collection.id)
    except Exception as exc:  # not a chromadb collection we know how to look inside
        logger.debug("no Chroma change feed: %s", exc)
        return None
    if not local or not path.is_file():
        return None
    feed = ChromaChangeFeed(path, cid, str(getattr(collection, "name", cid)))
    why = feed.unsupported()
    if why is not None:
        logger.info("Chroma change feed unavailable (%s): refreshes reconcile instead", why)
        return None
    return feed


class ChromaChangeFeed:
    """The change feed of one collection in an embedded Chroma's ``chroma.sqlite3``."""

    def __init__(self, path: str | os.PathLike[str], collection_id: str, name: str = "") -> None:
        self.path = Path(path)
        self.collection_id = collection_id
        self.name = name or collection_id
        self._uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
        self._integer_seq: bool | None = None

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self._uri, uri=True, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        conn.execute("BEGIN")  # one snapshot for every read of this call
        return conn

    # -- guards ---------------------------------------------------------------------------
    def unsupported(self) -> str | None:
        """Why this file cannot serve as a feed, or None when it can (StoreError while a
        writer holds it locked)."""
        try:
            with closing(self._connect()) as conn:
                versions = dict(
                    conn.execute("SELECT dir, MAX(version) FROM migrations GROUP BY dir")
                )
                for folder, (low, high) in SUPPORTED_SCHEMA.items():
                    v = versions.get(folder)
                    if v is None or not low <= v <= high:
                        return f"schema {folder} version {v}, supported {low}-{high}"
                for table, columns in REQUIRED_COLUMNS.items():
                    have = {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}
                    if not set(columns) <= have:
                        return f"table {table} lacks {sorted(set(columns) - have)}"
        except sqlite3.Error as exc:
            busy = _busy(exc)
            if busy is not None:  # ask again later rather than give up on the feed
                raise busy from exc
            return f"cannot read {self.path}: {exc}"
        return None

    def _segment(self, conn: sqlite3.Connection) -> str:
        row = conn.execute(
            "SELECT s.id FROM segments s JOIN collections c ON c.id = s.collection "
            "WHERE c.id = ? AND s.scope = 'METADATA'",
            (self.collection_id,),
        ).fetchone()
        if row is None:
            raise StoreError(
                f"Chroma collection {self.name!r} ({self.collection_id}) no longer exists: "
                "it was deleted"
            )
        return str(row[0])

    @staticmethod
    def _applied(conn: sqlite3.Connection, segment: str) -> int:
        row = conn.execute("SELECT seq_id FROM max_seq_id WHERE segment_id = ?", (segment,))
        value = (row.fetchone() or (0,))[0]
        if not isinstance(value, int):
            raise Unsupported(f"max_seq_id of segment {segment} is not an integer")
        return value

    # -- the feed -------------------------------------------------------------------------
    def cursor(self) -> int | None:
        """The last write applied to the collection (None when the file cannot be read)."""
        try:
            with closing(self._connect()) as conn:
                return self._applied(conn, self._segment(conn))
        except sqlite3.Error as exc:
            busy = _busy(exc)
            if busy is not None:
                raise busy from exc
            logger.info("Chroma change feed unreadable, reconciling instead: %s", exc)
            return None
        except Unsupported as exc:
            logger.info("Chroma change feed unreadable, reconciling instead: %s", exc)
            return None

    def changes_since(self, cursor: Any) -> ChangeSet | None:
        """Ids written after ``cursor`` (see the module docstring), or None."""
        if not isinstance(cursor, int) or cursor <= 0:
            return None
        try:
            with closing(self._connect()) as conn:
                return self._changes(conn, cursor)
        except sqlite3.Error as exc:
            busy = _busy(exc)
            if busy is not None:
                raise busy from exc
            logger.info("Chroma change feed cannot answer, reconciling instead: %s", exc)
            return None
        except Unsupported as exc:
            logger.info("Chroma change feed cannot answer, reconciling instead: %s", exc)
            return None

    def _changes(self, conn: sqlite3.Connection, cursor: int) -> ChangeSet | None:
        segment = self._segment(conn)
        now = self._applied(conn, segment)
        if now == cursor:
            return ChangeSet(cursor=now)
        if now < cursor:  # the segment was rebuilt: positions do not compare
            return None
        anchor = conn.execute(
            "SELECT topic FROM embeddings_queue WHERE seq_id = ?", (cursor,)
        ).fetchone()
        if anchor is not None and str(anchor[0]).endswith("/" + self.collection_id):
            return self._from_log(conn, str(anchor[0]), cursor, now)
        return self._from_rows(conn, segment, cursor, now)

    def _from_log(self, conn: sqlite3.Connection, topic: str, cursor: int, now: int) -> ChangeSet:
        upserted, deleted = set(), set()
        rows = conn.execute(
            "SELECT operation, id FROM embeddings_queue "
            "WHERE seq_id > ? AND seq_id <= ? AND topic = ?",
            (cursor, now, topic),
        )
        for op, id_ in rows:
            if op in UPSERT_OPS:
                upserted.add(str(id_))
            elif op == DELETE_OP:
                deleted.add(str(id_))
            else:
                raise Unsupported(f"unknown operation code {op!r} in the write log")
        return ChangeSet(cursor=now, upserted=frozenset(upserted), deleted=frozenset(deleted))

    def _from_rows(
        self, conn: sqlite3.Connection, segment: str, cursor: int, now: int
    ) -> ChangeSet:
        """The log was purged past the cursor: upserts from the rows' own seq_ids."""
        if self._integer_seq is None:  # rows written by old versions hold byte strings
            odd = conn.execute(
                "SELECT COUNT(*) FROM embeddings WHERE segment_id = ? "
                "AND typeof(seq_id) != 'integer'",
                (segment,),
            ).fetchone()[0]
            self._integer_seq = odd == 0
        if not self._integer_seq:
            raise Unsupported("rows carry non-integer sequence numbers")
        upserted = frozenset(
            str(r[0])
            for r in conn.execute(
                "SELECT embedding_id FROM embeddings WHERE segment_id = ? AND seq_id > ?",
                (segment, cursor),
            )
        )
        count = conn.execute(
            "SELECT COUNT(*) FROM embeddings WHERE segment_id = ?", (segment,)
        ).fetchone()[0]
        return ChangeSet(cursor=now, upserted=upserted, deletes_known=False, count=int(count))

    def ids(self) -> list[str] | None:
        """Every id of the collection, read from the file (None when it cannot be read)."""
        try:
            with closing(self._connect()) as conn:
                segment = self._segment(conn)
                return [
                    str(r[0])
                    for r in conn.execute(
                        "SELECT embedding_id FROM embeddings WHERE segment_id = ?", (segment,)
                    )
                ]
        except sqlite3.Error as exc:
            busy = _busy(exc)
            if busy is not None:
                raise busy from exc
            logger.info("Chroma change feed cannot list ids: %s", exc)
            return None


__all__ = ["ChromaChangeFeed", "feed_for"]
