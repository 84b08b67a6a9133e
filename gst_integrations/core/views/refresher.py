"""Keeping an engine's rows in step with its store.

A refresh reads what changed (``refresh.read_changes``: the store's change feed where it
keeps one) outside the search lock, then scatters only the changed rows into the base
matrix, every materialised view and the catalogue, under the lock. One refresh runs at a
time (single flight). When to refresh, what a failed refresh may serve and the health
report are the ``FreshnessPolicy``'s (``core.views.freshness``).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import torch

from gst_integrations.core.errors import GSTError, StoreError
from gst_integrations.core.feedback import logger
from gst_integrations.core.views.freshness import FreshnessPolicy, Health
from gst_integrations.core.views.options import EngineOptions
from gst_integrations.core.views.refresh import (
    Changes,
    RefreshStats,
    check_dimensions,
    read_changes,
)
from gst_integrations.core.views.rows import RowTable
from gst_integrations.core.views.source import VectorSource

__all__ = ["Refresher"]


class Refresher:
    """The rows of one engine and the locks that guard them."""

    def __init__(self, source: VectorSource, options: EngineOptions, device: torch.device):
        self.source = source
        self.options = options
        self.device = device
        self.policy = FreshnessPolicy(
            options.max_staleness, options.max_snapshot_age, options.reconcile_every
        )
        self.table: RowTable | None = None
        self.revision: int | None = None
        self.cursor: Any = None  # the store's change-feed cursor (None: no feed)
        self.lock = threading.RLock()  # the rows: searches read them, a refresh scatters
        self.refresh_lock = threading.Lock()  # one refresh or view build at a time

    @property
    def max_staleness(self) -> float:
        return self.policy.max_staleness

    @max_staleness.setter
    def max_staleness(self, seconds: float) -> None:
        self.policy.max_staleness = float(seconds)

    def current(self) -> RowTable:
        """The rows, refreshed first when older than ``max_staleness``; after a failed
        refresh, the last snapshot while it is younger than ``max_snapshot_age``."""
        if self.table is None:
            self.refresh()
        elif self.policy.due():
            try:
                self.refresh(asked_at=time.monotonic() - self.policy.max_staleness)
            except GSTError as exc:  # StoreError, a wrong dimension: maybe keep serving
                self.policy.serve_stale(exc)
        assert self.table is not None
        return self.table

    def health(self) -> Health:
        table = self.table
        has_feed = self.cursor is not None
        mode = (
            "not read yet"
            if table is None
            else ("change feed" if has_feed else "revisions + reconciliation")
        )
        return self.policy.health(table.alive_count() if table else 0, mode, has_feed)

    def refresh(
        self, full: bool = False, asked_at: float | None = None, explicit: bool = False
    ) -> RefreshStats:
        """Read changes outside the lock, apply them under it; single flight.

        ``asked_at``: skip when a refresh that started after it already succeeded.
        ``explicit``: a user's refresh, which means current (a store without a change feed
        is then reconciled in full).
        """
        with self.refresh_lock:
            t0 = time.monotonic()
            if asked_at is not None and self.policy.current_at >= asked_at:
                table = self.table  # another thread refreshed while this one waited
                return RefreshStats(0, 0, table.alive_count() if table else 0, 0.0)
            try:
                stats = self._refresh(t0, full, explicit)
            except Exception as exc:  # recorded and logged; raised as it is
                self.policy.failed(exc)
                raise
            self.policy.succeeded(t0, stats.full, stats.seconds)
            logger.debug("refresh: %s", stats)
            return stats

    def _refresh(self, t0: float, full: bool, explicit: bool) -> RefreshStats:
        table = self.table
        has_feed = self.cursor is not None
        full = full or (table is not None and self.policy.reconcile_due(t0, has_feed, explicit))
        changes = read_changes(
            self.source,
            table,
            self.revision,
            full,
            self.options.page_size,
            self.options.show_progress,
            cursor=self.cursor,
        )
        if table is None:
            table = self._new_table(changes)
        check_dimensions(changes, table.dim)
        prepared = self._prepare(changes, table)
        # Counted before the lock: only this (single-flight) refresher changes the table.
        changed = set(changes.ids())
        new_ids = sum(1 for i in changed if i not in table.row)
        with self.lock:
            for page, X, sigs, per_view in prepared:
                rows = table.assign_rows(page.ids)
                table.write(rows, X, sigs, page.documents, page.metadatas, per_view)
            removed = table.remove(sorted(changes.gone))
            if table.needs_compaction():
                table.compact()
            elif self.table is None:
                table.trim()
            self.table = table
            self.revision = changes.revision
            self.cursor = changes.cursor
        return RefreshStats(
            added=new_ids,
            removed=removed,
            total=table.alive_count(),
            seconds=time.monotonic() - t0,
            updated=len(changed) - new_ids,
            full=changes.full,
            how=changes.how,
        )

    def _new_table(self, changes: Changes) -> RowTable:
        dim = next((p.vectors.shape[1] for p in changes.pages if len(p)), None)
        if dim is None:
            raise StoreError("the store is empty: there are no base vectors to search")
        opts = self.options
        return RowTable(dim, self.device, opts.dtype, opts.keep_base, opts.catalogue == "memory")

    def _prepare(
        self, changes: Changes, table: RowTable
    ) -> list[tuple[Any, torch.Tensor, Any, dict]]:
        """Per page: base vectors on the device, signatures and every view's rows."""
        out = []
        views = dict(table.views)
        for page in changes.pages:
            if not len(page):
                continue
            X = torch.from_numpy(np.ascontiguousarray(page.vectors, np.float32)).to(self.device)
            per_view = {key: vm.rows(X) for key, vm in views.items()}
            out.append((page, X, page.signatures(), per_view))
        return out
