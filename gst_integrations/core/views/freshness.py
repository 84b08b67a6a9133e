"""How fresh an engine's rows must be, what it may serve when the store fails, and its health.

The rules, in one place (the engine and its ``Refresher`` only ask):

* **max_staleness**: a search refreshes first when the rows were last brought up to date
  more than this many seconds ago (0: before every search).
* **refresh() means current**: an explicit refresh sees every write made before the call,
  by any writer: through the store's change feed where it keeps one, else by a full
  reconciliation.
* **reconciliation period**: a store without a change feed is reconciled (every row's
  signature compared) every ``reconcile_every`` seconds; by default that period is bounded
  by the reconciliation's own measured cost (``RECONCILE_COST_FACTOR`` times it, and never
  below ``max_staleness``), so keeping a large store fresh cannot take most of the time.
* **max_snapshot_age**: after a failed refresh the last snapshot is served, with a
  ``StaleDataWarning``, only while it is at most this old; past it, searches raise
  ``StaleSnapshotError`` (a deleted collection is not served past it either).
* every failure is logged through ``core.feedback.logger``; ``health()`` reports the last
  success, its age, and the last error.

``UnknownEncoderNotice`` warns once per engine when the store records no base-encoder
fingerprint, so a head can check only the dimension of the vectors it is given.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from gst_integrations.core.errors import StaleDataWarning, StoreError, UnknownEncoderWarning
from gst_integrations.core.feedback import logger, warn

#: A store without a change feed is reconciled at most once per this many reconciliation
#: costs (a reconciliation of 0.5 s runs at most every 5 s: at most 10% of the time).
RECONCILE_COST_FACTOR = 10.0


class StaleSnapshotError(StoreError):
    """The store cannot be read and the last snapshot is older than ``max_snapshot_age``."""


@dataclass(frozen=True)
class Health:
    """The state of an engine's rows (``ViewEngine.health()``)."""

    #: Rows held (0 before the first read).
    rows: int
    #: How changes are found: "change feed", "revisions + reconciliation" or "not read yet".
    mode: str
    #: Wall-clock time (``time.time()``) the rows were last known current, or None.
    last_refresh: float | None
    #: Seconds since then (None before the first successful read).
    age: float | None
    #: The last refresh error (None when the last refresh succeeded), and when it happened.
    last_error: str | None
    last_error_at: float | None
    #: Failed refreshes since the last success.
    failures: int
    #: Seconds between full reconciliations now (None where a change feed makes them moot).
    reconcile_every: float | None
    #: How long the last full reconciliation (or initial load) took, in seconds.
    last_reconcile_seconds: float | None
    max_staleness: float
    max_snapshot_age: float

    @property
    def ok(self) -> bool:
        """True when the last refresh succeeded."""
        return self.last_error is None and self.last_refresh is not None


class FreshnessPolicy:
    """The freshness rules of one engine (see the module docstring) and what happened."""

    def __init__(
        self, max_staleness: float, max_snapshot_age: float, reconcile_every: float | None
    ) -> None:
        self.max_staleness = float(max_staleness)
        self.max_snapshot_age = float(max_snapshot_age)
        self.reconcile_every = reconcile_every
        self.current_at = float("-inf")  # monotonic start of the last successful refresh
        self._current_wall: float | None = None
        self._reconciled_at = float("-inf")
        self._reconcile_cost: float | None = None
        self._error: BaseException | None = None
        self._error_at: float | None = None
        self._failures = 0
        self._warned: set[str] = set()
        self._lock = threading.Lock()

    # -- when to refresh ------------------------------------------------------------------
    def due(self, now: float | None = None) -> bool:
        """Whether the rows are older than ``max_staleness``."""
        now = time.monotonic() if now is None else now
        return now - self.current_at > self.max_staleness

    def reconcile_period(self) -> float:
        """Seconds between full reconciliations of a store without a change feed."""
        if self.reconcile_every is not None:
            return float(self.reconcile_every)
        cost = self._reconcile_cost or 0.0
        return max(self.max_staleness, RECONCILE_COST_FACTOR * cost)

    def reconcile_due(self, now: float, has_feed: bool, explicit: bool) -> bool:
        """Whether this refresh must reconcile every row: never with a working change feed;
        without one, on an explicit refresh (it means current) or once the period passed."""
        if has_feed:
            return False
        return explicit or now - self._reconciled_at >= self.reconcile_period()

    # -- what happened --------------------------------------------------------------------
    def succeeded(self, started: float, full: bool, seconds: float) -> None:
        """A refresh that started reading at monotonic ``started`` applied its changes."""
        with self._lock:
            self.current_at = started
            self._current_wall = time.time() - (time.monotonic() - started)
            if full:
                self._reconciled_at = started
                self._reconcile_cost = seconds
            if self._failures:
                logger.info("refresh succeeded after %d failure(s)", self._failures)
            self._error, self._error_at, self._failures = None, None, 0

    def failed(self, exc: BaseException) -> None:
        """Record (and log) a failed refresh."""
        with self._lock:
            self._error, self._error_at = exc, time.time()
            self._failures += 1
            failures = self._failures
        logger.warning("refresh failed (%d in a row): %s", failures, exc)

    def serve_stale(self, exc: BaseException) -> None:
        """After a failed refresh: allow the last snapshot while it is young enough (with a
        warning, once per engine and error), else raise ``StaleSnapshotError``."""
        age = time.monotonic() - self.current_at
        if age > self.max_snapshot_age:
            raise StaleSnapshotError(
                f"the store cannot be read ({exc}) and the last snapshot is {age:.1f} s old, "
                f"past max_snapshot_age={self.max_snapshot_age:g} s: not serving it"
            ) from exc
        key = f"{type(exc).__name__}: {exc}"
        with self._lock:
            first = key not in self._warned
            self._warned.add(key)
        if first:
            warn(
                f"refresh failed, serving the last snapshot ({age:.1f} s old; served up to "
                f"max_snapshot_age={self.max_snapshot_age:g} s): {exc}",
                StaleDataWarning,
            )

    def health(self, rows: int, mode: str, has_feed: bool) -> Health:
        with self._lock:
            now = time.monotonic()
            known = self._current_wall is not None
            return Health(
                rows=rows,
                mode=mode,
                last_refresh=self._current_wall,
                age=(now - self.current_at) if known else None,
                last_error=None if self._error is None else str(self._error),
                last_error_at=self._error_at,
                failures=self._failures,
                reconcile_every=None if has_feed else self.reconcile_period(),
                last_reconcile_seconds=self._reconcile_cost,
                max_staleness=self.max_staleness,
                max_snapshot_age=self.max_snapshot_age,
            )


class UnknownEncoderNotice:
    """Warns once (per engine) that a searched store records no base-encoder fingerprint."""

    def __init__(self) -> None:
        self._checked = False

    def searched(self, source: Any) -> None:
        if self._checked:
            return
        self._checked = True
        try:
            known = bool(source.fingerprint_info())
        except Exception as exc:  # the search itself reports an unreadable store
            logger.debug("fingerprint check skipped: %s", exc)
            return
        if not known:
            warn(
                "this store records no base-encoder fingerprint (a writer that does not record "
                "it filled it, such as LangChain's or LlamaIndex's own), so views can check only "
                "the vectors' dimension: make sure the store's vectors come from the encoder "
                "the heads were fitted on, and record it with "
                "gst_integrations.stores.record_fingerprint",
                UnknownEncoderWarning,
            )


__all__ = [
    "RECONCILE_COST_FACTOR",
    "FreshnessPolicy",
    "Health",
    "StaleSnapshotError",
    "UnknownEncoderNotice",
]
