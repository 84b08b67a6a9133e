"""Reading what changed in a store since the engine last looked, outside any search lock.

Four kinds of read, from cheap to thorough:

* **change feed** (stores that keep one: embedded Chroma, ``ArraySource``): the ids any
  writer upserted or deleted since the feed cursor, O(changes); only those rows are read.
  When the feed cannot say (its log was trimmed past the cursor, an unsupported store
  version), the read falls back to a full reconciliation and takes a new cursor.
* **incremental** (stores without a feed): rows whose revision (``REV_KEY``) is newer than
  the revision cursor, O(changes); then one ``count()``. When the count disagrees with
  what the engine holds, ids were added or deleted by a writer that records no revision:
  the ids (only the ids) are listed to find them.
* **full reconciliation**: every row's document and metadata, no vectors, compared by
  signature, so updates by writers that record no revision are found too.
* **initial load**: every row with its vector, once per engine.

Nothing here changes the engine: the result is applied afterwards, under the lock, in the
time a scatter of the changed rows takes. An id that seems gone is confirmed with ``get``
before it is removed, so paging that shifts under concurrent deletes cannot drop a live id.
A feed cursor is taken *before* a read, so a write that lands during the read is read
again next time rather than missed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from gst_integrations.core.errors import DimensionMismatchError
from gst_integrations.core.feedback import progress
from gst_integrations.core.views.rows import RowTable
from gst_integrations.core.views.source import (
    ChangeFeed,
    ChangeSet,
    Page,
    VectorSource,
    change_feed_of,
)

#: Revisions are write times (ns); the cursor stays this far behind the refresh's start,
#: so rows committed by writers still in flight while we read are read again next time.
CURSOR_MARGIN_NS = 5_000_000_000
#: Ids-only listings page this many ids at a time (offset paging is cheaper in big pages).
ID_PAGE = 20_000


@dataclass
class RefreshStats:
    """What one refresh did to the engine's rows (every view follows them)."""

    added: int
    removed: int
    total: int
    seconds: float
    updated: int = 0
    full: bool = False
    #: How the changes were found: "load", "feed", "revisions" or "reconcile".
    how: str = ""


@dataclass
class Changes:
    """Rows to write (new or changed, with vectors) and ids gone, read from a store."""

    pages: list[Page] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    revision: int | None = None
    full: bool = False
    #: The change-feed cursor this read brings the rows up to (None: the store has no feed).
    cursor: Any = None
    how: str = ""

    def ids(self) -> list[str]:
        return [i for p in self.pages for i in p.ids]


def _fetch(source: VectorSource, ids: list[str], page_size: int) -> list[Page]:
    return [source.get(ids[s : s + page_size]) for s in range(0, len(ids), page_size)]


def _confirm_gone(source: VectorSource, gone: set[str], page_size: int) -> set[str]:
    ordered = sorted(gone)
    still: set[str] = set()
    for s in range(0, len(ordered), page_size):
        still.update(source.get(ordered[s : s + page_size], False).ids)
    return gone - still


def _cursor(previous: int | None, started_ns: int) -> int:
    """The revision below which every row was read: this read's start, less the margin."""
    return max(previous or 0, started_ns - CURSOR_MARGIN_NS)


def _listed_ids(source: VectorSource, page_size: int) -> set[str]:
    listed: set[str] = set()
    for ids in source.list_ids(max(page_size, ID_PAGE)):
        listed.update(ids)
    return listed


def _settle_ids(
    source: VectorSource, held: set[str], changed: set[str], page_size: int
) -> tuple[list[Page], set[str]]:
    """(pages of ids the store holds and ``held`` lacks, ids of ``held`` the store lost)."""
    listed = _listed_ids(source, page_size)
    gone = _confirm_gone(source, held - listed, page_size)
    return _fetch(source, sorted(listed - held - changed), page_size), gone


def read_changes(
    source: VectorSource,
    table: RowTable | None,
    revision: int | None,
    full: bool,
    page_size: int,
    show_progress: bool | None = None,
    cursor: Any = None,
) -> Changes:
    """What to apply to ``table`` to match ``source`` now (``table`` None: load everything).

    ``cursor`` is the feed cursor of the last read; with a feed and ``full`` False only the
    changes since it are read.
    """
    started = time.time_ns()
    feed = change_feed_of(source)
    if table is None:
        return _load(source, feed, page_size, show_progress, started)
    if feed is not None and cursor is not None and not full:
        changeset = feed.changes_since(cursor)
        if changeset is not None:
            return _from_changeset(source, table, changeset, revision, page_size)
    new_cursor = feed.cursor() if feed is not None else None  # before reading: nothing lost
    if full or feed is not None:  # a feed that could not answer: reconcile everything
        changes = _reconcile(source, table, page_size)
    else:
        changes = _by_revision(source, table, revision, page_size)
    changes.revision = _cursor(revision, started)
    changes.cursor = new_cursor
    return changes


def _load(
    source: VectorSource,
    feed: ChangeFeed | None,
    page_size: int,
    show_progress: bool | None,
    started: int,
) -> Changes:
    """Every row with its vector; with a feed, writes made during the load are settled."""
    first = feed.cursor() if feed is not None else None
    total = source.count()
    # A bar for reads of about two seconds or more (tens of thousands of rows).
    bar = progress(total=total, desc="read store", unit="row", show=show_progress, min_total=20_000)
    pages = []
    for page in source.iter_pages(page_size):
        pages.append(page)
        bar.update(len(page))
    bar.close()
    changes = Changes(pages, set(), _cursor(None, started), True, first, "load")
    if feed is not None and feed.cursor() != first:
        # Offset paging under concurrent writes can skip rows that did not change: list the
        # ids once and read what the pages missed (the next refresh reads what changed).
        held = set(changes.ids())
        missing, gone = _settle_ids(source, held, set(), page_size)
        changes.pages += missing
        changes.pages = [_without(p, gone) for p in changes.pages]
    return changes


def _without(page: Page, ids: set[str]) -> Page:
    if not ids or not ids.intersection(page.ids):
        return page
    keep = [j for j, i in enumerate(page.ids) if i not in ids]
    return Page(
        [page.ids[j] for j in keep],
        [page.documents[j] for j in keep],
        [page.metadatas[j] for j in keep],
        page.vectors[keep],
    )


def _from_changeset(
    source: VectorSource, table: RowTable, cs: ChangeSet, revision: int | None, page_size: int
) -> Changes:
    """The rows a feed named, read now: what the store holds is written, the rest is gone."""
    named = sorted(cs.upserted | cs.deleted)
    pages = _fetch(source, named, page_size)
    got = {i for p in pages for i in p.ids}
    held = table.row  # O(changes) below: no set of every id
    gone = {i for i in named if i not in got and i in held}
    if not cs.deletes_known and cs.count is not None:
        expected = table.alive_count() - len(gone) + sum(1 for i in got if i not in held)
        if cs.count != expected:  # deletes the trimmed log no longer names
            more, lost = _settle_ids(source, set(table.row) - gone, got, page_size)
            pages += more
            gone |= lost
    return Changes(pages, gone, revision, False, cs.cursor, "feed")


def _reconcile(source: VectorSource, table: RowTable, page_size: int) -> Changes:
    """Every row's signature (no vectors) against the table: updates, adds and deletes."""
    seen: set[str] = set()
    todo: list[str] = []
    for page in source.iter_pages(page_size, include_vectors=False):
        for id_, sig in zip(page.ids, page.signatures().tolist(), strict=True):
            seen.add(id_)
            r = table.row.get(id_)
            if r is None or int(table.signatures[r]) != sig:
                todo.append(id_)
    pages = _fetch(source, todo, page_size)
    gone = _confirm_gone(source, set(table.row) - seen, page_size)
    return Changes(pages, gone, None, True, None, "reconcile")


def _by_revision(
    source: VectorSource, table: RowTable, revision: int | None, page_size: int
) -> Changes:
    """Rows of newer revisions, and (when the count disagrees) ids added or deleted."""
    pages = list(source.changed_since(revision, page_size)) if revision is not None else []
    changed = {i for p in pages for i in p.ids}
    expected = table.alive_count() + sum(1 for i in changed if i not in table.row)
    gone: set[str] = set()
    if source.count() != expected:  # adds or deletes by a writer without revisions
        more, gone = _settle_ids(source, set(table.row), changed, page_size)
        pages += more
    return Changes(pages, gone, None, False, None, "revisions")


def check_dimensions(changes: Changes, dim: int) -> None:
    """Refuse a change whose vectors have another dimension, naming the ids; nothing applies."""
    for page in changes.pages:
        if len(page) and (page.vectors.ndim != 2 or page.vectors.shape[1] != dim):
            got = page.vectors.shape[-1] if page.vectors.ndim == 2 else page.vectors.shape
            raise DimensionMismatchError(
                f"the store holds {got}-d vectors for id(s) {page.ids[:5]}, but this engine's "
                f"rows are {dim}-d (written by another base encoder?); nothing was applied"
            )


__all__ = ["Changes", "RefreshStats", "check_dimensions", "read_changes"]
