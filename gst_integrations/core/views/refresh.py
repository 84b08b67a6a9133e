"""Reading what changed in a store since the engine last looked, outside any search lock.

Three kinds of read, from cheap to thorough:

* **incremental** (every refresh): rows whose revision (``REV_KEY``) is newer than the
  cursor, O(changes); then one ``count()``. When the count disagrees with what the engine
  holds, ids were added or deleted by a writer that records no revision: the ids (only
  the ids) are listed to find them.
* **full reconciliation** (``refresh(full=True)``, and every ``reconcile_every`` seconds):
  every row's document and metadata, no vectors, compared by signature, so updates by
  writers that record no revision (same id, new text) are found too.
* **initial load**: every row with its vector, once per engine.

Nothing here changes the engine: the result is applied afterwards, under the lock, in the
time a scatter of the changed rows takes. An id that seems gone is confirmed with ``get``
before it is removed, so paging that shifts under concurrent deletes cannot drop a live id.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from gst_integrations.core.errors import DimensionMismatchError
from gst_integrations.core.feedback import progress
from gst_integrations.core.views.rows import RowTable
from gst_integrations.core.views.source import Page, VectorSource

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


@dataclass
class Changes:
    """Rows to write (new or changed, with vectors) and ids gone, read from a store."""

    pages: list[Page] = field(default_factory=list)
    gone: set[str] = field(default_factory=set)
    revision: int | None = None
    full: bool = False

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


def read_changes(
    source: VectorSource,
    table: RowTable | None,
    revision: int | None,
    full: bool,
    page_size: int,
    show_progress: bool | None = None,
) -> Changes:
    """What to apply to ``table`` to match ``source`` now (``table`` None: load everything)."""
    started = time.time_ns()
    if table is None:
        total = source.count()
        # A bar for reads of about two seconds or more (tens of thousands of rows).
        bar = progress(
            total=total, desc="read store", unit="row", show=show_progress, min_total=20_000
        )
        pages = []
        for page in source.iter_pages(page_size):
            pages.append(page)
            bar.update(len(page))
        bar.close()
        cursor = _cursor(None, started)
        return Changes(pages, set(), cursor, full=True)
    if full:
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
        cursor = _cursor(revision, started)
        return Changes(pages, gone, cursor, full=True)
    pages = list(source.changed_since(revision, page_size)) if revision is not None else []
    changed = {i for p in pages for i in p.ids}
    expected = table.alive_count() + sum(1 for i in changed if i not in table.row)
    gone: set[str] = set()
    if source.count() != expected:  # adds or deletes by a writer without revisions
        listed: set[str] = set()
        for ids in source.list_ids(max(page_size, ID_PAGE)):
            listed.update(ids)
        gone = _confirm_gone(source, set(table.row) - listed, page_size)
        missing = sorted(listed - set(table.row) - changed)
        pages += _fetch(source, missing, page_size)
    cursor = _cursor(revision, started)
    return Changes(pages, gone, cursor)


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
