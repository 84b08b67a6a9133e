"""Keeping an engine's rows in step with its store.

A refresh reads what changed (``refresh.read_changes``) outside the search lock, then
scatters only the changed rows into the base matrix, every materialised view and the
catalogue, under the lock. One refresh runs at a time (single flight); a search that finds
the rows older than ``max_staleness`` refreshes first, and a refresh that fails leaves the
previous rows serving, with a warning.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import torch

from gst_integrations.core.errors import GSTError, StaleDataWarning, StoreError
from gst_integrations.core.feedback import logger, warn
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
        self.max_staleness = options.max_staleness
        self.table: RowTable | None = None
        self.revision: int | None = None
        self.refreshed_at = float("-inf")  # monotonic time the last refresh started reading
        self.reconciled_at = float("-inf")
        self.lock = threading.RLock()  # the rows: searches read them, a refresh scatters
        self.refresh_lock = threading.Lock()  # one refresh or view build at a time

    def current(self) -> RowTable:
        """The rows, refreshed first when older than ``max_staleness``."""
        if self.table is None:
            self.refresh()
        elif time.monotonic() - self.refreshed_at > self.max_staleness:
            try:
                self.refresh(asked_at=time.monotonic() - self.max_staleness)
            except GSTError as exc:  # StoreError, a wrong dimension: keep serving
                logger.warning("refresh failed, serving the last snapshot: %s", exc)
                warn(f"refresh failed, serving the last snapshot: {exc}", StaleDataWarning)
        assert self.table is not None
        return self.table

    def refresh(self, full: bool = False, asked_at: float | None = None) -> RefreshStats:
        """Read changes outside the lock, apply them under it; single flight."""
        with self.refresh_lock:
            t0 = time.monotonic()
            if asked_at is not None and self.refreshed_at >= asked_at:
                table = self.table  # another thread refreshed while this one waited
                return RefreshStats(0, 0, table.alive_count() if table else 0, 0.0)
            table = self.table
            full = full or t0 - self.reconciled_at >= self.options.reconcile_every
            changes = read_changes(
                self.source,
                table,
                self.revision,
                full,
                self.options.page_size,
                self.options.show_progress,
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
                self.refreshed_at = t0
                if changes.full:
                    self.reconciled_at = t0
            stats = RefreshStats(
                added=new_ids,
                removed=removed,
                total=table.alive_count(),
                seconds=time.monotonic() - t0,
                updated=len(changed) - new_ids,
                full=changes.full,
            )
            logger.debug("refresh: %s", stats)
            return stats

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
