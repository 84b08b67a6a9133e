"""Instruction views over the base vectors of a vector store, held on the device.

The store keeps the corpus' base vectors (embedded once). The engine reads them once, in
pages, into a ``RowTable`` on its device (``keep_base=True``, the default; fp16/bf16 with
``dtype``), next to the documents and metadata (``catalogue="memory"``) or not
(``catalogue="store"``: documents are fetched from the store for the top k only, and
filters run in the store). Every view is one transform of that base matrix, made on first
use: a view switch or a refit costs a matmul, not a store read. A view whose metric is
c I + AᵀA with a small A (the default ``lda_mix`` head) keeps only A x and its norm per
row and is scored together with the base matrix (``low_rank``): the same scores, r + 1
numbers a row instead of d. ``keep_base=False`` is the memory-light mode: no base matrix,
and a new view reads the store again.

Freshness: a search refreshes first when the last refresh is older than ``max_staleness``
(0: always). A refresh (``refresh.read_changes``) reads what changed outside the search
lock, then scatters only the changed rows into the base matrix, every view and the
catalogue, under the lock. Searches meanwhile serve the previous state; a refresh that
fails (the store went away, a vector of the wrong dimension) leaves it serving, with a
warning. Every ``reconcile_every`` seconds, or on ``refresh(full=True)``, the refresh is a
full reconciliation that also finds updates by writers that record no revision.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from gst_integrations.core.device import resolve_device
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import (
    EncoderMismatchError,
    GSTError,
    StoreError,
    UnknownViewError,
)
from gst_integrations.core.heads.blend import informative_weights
from gst_integrations.core.heads.compat import check_query_encoder, check_store
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.store import HeadStore, check_view_name
from gst_integrations.core.hits import SearchHit
from gst_integrations.core.validation import as_float32_matrix, check_k
from gst_integrations.core.views.index import METRICS, exact_topk
from gst_integrations.core.views.low_rank import low_rank_metric
from gst_integrations.core.views.refresh import (
    RefreshStats,
    check_dimensions,
    read_changes,
)
from gst_integrations.core.views.rows import GENERIC, RowTable, ViewMatrix
from gst_integrations.core.views.source import VectorSource

#: A view to search: a name, None for the generic vectors, or a blend {view: weight}.
ViewSpec = str | None | Mapping[str | None, float]
CATALOGUES = ("memory", "store")
TRANSFORM_CHUNK = 65536


def blend_weights(view: ViewSpec) -> dict[str | None, float]:
    """{view: weight} of a view spec; weights must be finite, non-negative, not all zero."""
    if view is None or isinstance(view, str):
        return {view: 1.0}
    if not isinstance(view, Mapping) or not view:
        raise UnknownViewError(f"a view is a name, None or a non-empty dict of weights: {view!r}")
    out: dict[str | None, float] = {}
    for key, w in view.items():
        if key is not None and not isinstance(key, str):
            raise UnknownViewError(f"view names are strings (None: generic), got {key!r}")
        w = float(w)
        if not np.isfinite(w) or w < 0:
            raise ValueError(f"blend weight of {key!r} must be finite and >= 0, got {w}")
        if w > 0:
            out[key] = w
    if not out:
        raise ValueError(f"a blend needs a positive weight: {dict(view)}")
    return out


def view_label(weights: dict[str | None, float]) -> str | None:
    """How hits name a view: its name, or ``a*0.6+b*0.4`` for a blend."""
    if len(weights) == 1:
        return next(iter(weights))
    return "+".join(f"{k or 'generic'}*{w:g}" for k, w in weights.items())


class ViewEngine:
    """Search a vector store through instruction views, switching views without re-encoding.

    ``heads`` is a ``HeadStore`` (a directory of heads) or a dict name -> Head. Query texts
    are encoded once through a ``CachedEncoder`` (``encoder=None`` uses the default offline
    encoder, loaded on first use). See the module docstring for freshness and memory.
    """

    def __init__(
        self,
        source: VectorSource,
        heads: HeadStore | Mapping[str, Head] | None = None,
        encoder: Any = None,
        device: Any = "auto",
        metric: str = "cosine",
        page_size: int = 1000,
        cache: VectorCache | str | Any | None = None,
        max_staleness: float = 60.0,
        reconcile_every: float = 300.0,
        dtype: torch.dtype = torch.float32,
        keep_base: bool = True,
        catalogue: str = "memory",
        show_progress: bool = False,
    ) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
        if catalogue not in CATALOGUES:
            raise ValueError(f"unknown catalogue {catalogue!r}; choose one of {CATALOGUES}")
        if page_size < 1:
            raise ValueError("page_size must be >= 1")
        self.source = source
        self.heads: HeadStore | dict[str, Head] = (
            heads if isinstance(heads, HeadStore) else dict(heads or {})
        )
        self.device = resolve_device(device)
        self.metric = metric
        self.page_size = page_size
        self.max_staleness = max_staleness
        self.reconcile_every = reconcile_every
        self.dtype = dtype
        self.keep_base = keep_base
        self.catalogue = catalogue
        self.show_progress = show_progress
        self._encoder_arg = encoder
        self._cache_arg = cache
        self._encoder: CachedEncoder | None = None
        self._table: RowTable | None = None
        self._low_rank: dict[int, tuple[Head, tuple[torch.Tensor, float] | None]] = {}
        self._revision: int | None = None
        self._refreshed_at = float("-inf")  # monotonic time the last refresh started reading
        self._reconciled_at = float("-inf")
        self._compatible: set[tuple[str, str]] = set()
        self._lock = threading.RLock()  # the state: searches read it, the refresher scatters
        self._refresh_lock = threading.Lock()  # one refresh or materialisation at a time

    # -- encoder --------------------------------------------------------------------------
    @property
    def encoder(self) -> CachedEncoder:
        """The cached query encoder (built on first use)."""
        if self._encoder is None:
            enc = self._encoder_arg
            if isinstance(enc, CachedEncoder):
                self._encoder = enc
            else:
                if enc is None:
                    from gst_integrations.core.encoders.default import default_encoder

                    enc = default_encoder()
                self._encoder = CachedEncoder(enc, cache=self._cache_arg)
        return self._encoder

    def _query_encoder_known(self) -> bool:
        return self._encoder is not None or self._encoder_arg is not None

    # -- heads ----------------------------------------------------------------------------
    def views(self) -> list[str]:
        """Names of the registered views."""
        if isinstance(self.heads, HeadStore):
            return self.heads.names()
        return sorted(self.heads)

    def register(self, name: str, head: Head) -> None:
        """Add or replace a view (saved to the head store when there is one)."""
        check_view_name(name)
        with self._lock:
            if isinstance(self.heads, HeadStore):
                self.heads.save(name, head)
            else:
                self.heads[name] = head
            self._drop_view(name)

    def head(self, name: str) -> Head:
        """The head of view ``name`` (UnknownViewError listing the known views)."""
        if not isinstance(name, str):
            raise UnknownViewError(f"view names are strings, got {name!r}")
        if isinstance(self.heads, HeadStore):
            return self.heads.get(name)
        try:
            return self.heads[name]
        except KeyError:
            known = ", ".join(sorted(self.heads)) or "(none)"
            raise UnknownViewError(f"unknown view {name!r}; known views: {known}") from None

    def _drop_view(self, name: str) -> None:
        if self._table is not None:
            self._table.views.pop(name, None)
        self._compatible = {c for c in self._compatible if c[0] != name}

    def check_compatible(self, name: str) -> Head:
        """Raise unless view ``name``'s head fits the store's vectors and the query encoder."""
        with self._lock:  # ``_compatible`` is also rebuilt by register() in other threads
            return self._check_compatible(name)

    def _check_compatible(self, name: str) -> Head:
        head = self.head(name)
        if (name, "store") not in self._compatible:
            dim = self.source.dim()
            check_store(head, name, dim, self.source.fingerprint_info())
            if dim is not None:  # an empty store is checked again once it holds vectors
                self._compatible.add((name, "store"))
        if self._query_encoder_known() and (name, "query") not in self._compatible:
            check_query_encoder(head, name, self.encoder)
            self._compatible.add((name, "query"))
        return head

    def _check_query_encoder_vs_store(self) -> None:
        if ("", "query-store") in self._compatible:
            return
        info = self.source.fingerprint_info()
        if info:
            stored = EncoderFingerprint.from_dict(info)
            why = stored.mismatch(self.encoder.fingerprint())
            if why:
                raise EncoderMismatchError(
                    f"the query encoder is not the encoder that made the store's vectors: {why}"
                )
        if info or self.source.dim() is not None:  # empty: check again once filled
            with self._lock:
                self._compatible.add(("", "query-store"))

    # -- refresh --------------------------------------------------------------------------
    def refresh(self, view: str | None = None, full: bool = False) -> RefreshStats:
        """Bring the engine up to date with the store now, and materialise views.

        ``view`` names one view to materialise; None materialises every registered view that
        fits the store (a broken one is skipped with a warning). ``full=True`` reconciles
        every row, finding updates by writers that record no revision. Raises on store errors.
        """
        stats = self._refresh(full=full)
        names = [view] if view is not None else self.views()
        for name in names:
            try:
                self._materialise(name)
            except GSTError as exc:
                if view is not None:
                    raise
                warnings.warn(f"view {name!r} skipped: {exc}", stacklevel=2)
        return stats

    def _refresh(self, full: bool = False, asked_at: float | None = None) -> RefreshStats:
        """Read changes outside the lock, apply them under it; single flight."""
        with self._refresh_lock:
            t0 = time.monotonic()
            if asked_at is not None and self._refreshed_at >= asked_at:
                table = self._table  # another thread refreshed while this one waited
                return RefreshStats(0, 0, table.alive_count() if table else 0, 0.0)
            table = self._table
            full = full or t0 - self._reconciled_at >= self.reconcile_every
            changes = read_changes(
                self.source, table, self._revision, full, self.page_size, self.show_progress
            )
            if table is None:
                dim = next((p.vectors.shape[1] for p in changes.pages if len(p)), None)
                if dim is None:
                    raise StoreError("the store is empty: there are no base vectors to search")
                table = RowTable(
                    dim, self.device, self.dtype, self.keep_base, self.catalogue == "memory"
                )
            check_dimensions(changes, table.dim)
            prepared = self._prepare(changes, table)
            # Counted before the lock: only this (single-flight) refresher changes the table.
            new_ids = sum(1 for i in set(changes.ids()) if i not in table.row)
            with self._lock:
                for page, X, sigs, per_view in prepared:
                    rows = table.assign_rows(page.ids)
                    table.write(rows, X, sigs, page.documents, page.metadatas, per_view)
                removed = table.remove(sorted(changes.gone))
                if table.needs_compaction():
                    table.compact()
                elif self._table is None:
                    table.trim()
                self._table = table
                self._revision = changes.revision
                self._refreshed_at = t0
                if changes.full:
                    self._reconciled_at = t0
            return RefreshStats(
                added=new_ids,
                removed=removed,
                total=table.alive_count(),
                seconds=time.monotonic() - t0,
                updated=len(set(changes.ids())) - new_ids,
                full=changes.full,
            )

    def _prepare(self, changes: Any, table: RowTable) -> list[tuple[Any, torch.Tensor, Any, dict]]:
        """Per page: base vectors on the device, signatures and every view's rows."""
        out = []
        views = dict(table.views)
        for page in changes.pages:
            if not len(page):
                continue
            X = torch.from_numpy(np.ascontiguousarray(page.vectors, np.float32)).to(self.device)
            out.append(
                (page, X, page.signatures(), {k: self._view_rows(vm, X) for k, vm in views.items()})
            )
        return out

    def _view_rows(self, vm: ViewMatrix, X: torch.Tensor) -> torch.Tensor:
        if vm.low_rank is not None:  # A x and |W x|, with |W x|² = c |x|² + |A x|²
            A, c = vm.low_rank
            X = X.float()
            AX = X @ A.T
            norm = torch.sqrt(c * (X * X).sum(1) + (AX * AX).sum(1))
            return torch.cat([AX, norm[:, None]], dim=1)
        Z = X if vm.head is None else vm.head.transform_tensor(X)
        return torch.nn.functional.normalize(Z, dim=1) if vm.metric == "cosine" else Z

    def _low_rank_of(self, head: Head) -> tuple[torch.Tensor, float] | None:
        """The (A, c) form of a linear head's metric on this device, computed once per head."""
        cached = self._low_rank.get(id(head))
        if cached is not None and cached[0] is head:
            return cached[1]
        form = low_rank_metric(head.weight) if head.is_linear else None
        value = None if form is None else (torch.from_numpy(form.A).to(self.device), form.c)
        self._low_rank[id(head)] = (head, value)
        return value

    def _fresh_table(self) -> RowTable:
        """The table, refreshed first when older than ``max_staleness``."""
        if self._table is None:
            self._refresh()
        elif time.monotonic() - self._refreshed_at > self.max_staleness:
            asked = time.monotonic() - self.max_staleness
            try:
                self._refresh(asked_at=asked)
            except GSTError as exc:  # StoreError, a wrong dimension: keep serving
                warnings.warn(
                    f"refresh failed, serving the last snapshot: {exc}",
                    RuntimeWarning,
                    stacklevel=3,
                )
        assert self._table is not None
        return self._table

    def _materialise(self, key: str | None) -> ViewMatrix | None:
        """The view of ``key`` on the current rows, made (one transform) when missing or stale."""
        table = self._fresh_table()
        if key is GENERIC and table.base is not None:
            return None  # the generic view is the base matrix itself
        head = None if key is GENERIC else self.check_compatible(key)
        vm = table.views.get(key)
        if vm is not None and vm.head is head:
            return vm
        with self._refresh_lock:  # no refresh scatters while the view is built
            table = self._table
            assert table is not None
            vm = table.views.get(key)
            if vm is not None and vm.head is head:
                return vm
            if head is not None:
                head.to(self.device)
            metric = "cosine" if head is None else self.metric
            # With the base matrix held, a view of the c I + AᵀA form keeps only A x and |W x|.
            low_rank = (
                self._low_rank_of(head) if head is not None and table.base is not None else None
            )
            width = (
                table.dim
                if head is None
                else (low_rank[0].shape[0] + 1 if low_rank is not None else head.out_dim)
            )
            matrix = torch.zeros((table.capacity, width), dtype=self.dtype, device=self.device)
            vm = ViewMatrix(head, matrix, metric, low_rank)
            if table.base is not None:
                for s in range(0, table.n, TRANSFORM_CHUNK):
                    X = table.base[s : s + TRANSFORM_CHUNK].float()
                    matrix[s : s + len(X)] = self._view_rows(vm, X).to(self.dtype)
            else:  # memory-light: read the store again
                for page in self.source.iter_pages(self.page_size):
                    keep = [j for j, i in enumerate(page.ids) if i in table.row]
                    if not keep:
                        continue
                    rows = torch.from_numpy(table.rows_of([page.ids[j] for j in keep]))
                    X = torch.from_numpy(np.ascontiguousarray(page.vectors[keep], np.float32))
                    matrix[rows.to(self.device)] = self._view_rows(vm, X.to(self.device)).to(
                        self.dtype
                    )
            with self._lock:
                table.views[key] = vm
            return vm

    # -- queries --------------------------------------------------------------------------
    def _base_query(self, query: str | np.ndarray | torch.Tensor) -> np.ndarray:
        if isinstance(query, str):
            self._check_query_encoder_vs_store()
            return self.encoder.encode_query([query])[0]
        return self._as_query_row(query)

    def _as_query_row(self, vector: Any) -> np.ndarray:
        """One base query vector (d,), checked against the store's dimension."""
        arr = np.asarray(vector.detach().cpu() if isinstance(vector, torch.Tensor) else vector)
        if arr.ndim == 1:
            arr = arr[None, :]
        dim = self._table.dim if self._table is not None else self.source.dim()
        arr = as_float32_matrix(arr, name="query vector", dim=dim)
        if arr.shape[0] != 1:
            raise ValueError(f"expected one query vector, got {arr.shape[0]}")
        return arr[0]

    def query_vector(self, query: str | np.ndarray, view: str | None) -> np.ndarray:
        """The view vector (z,) of a query text or base vector (the base vector for None)."""
        base = self._base_query(query)
        if view is None:
            return base
        head = self.check_compatible(view)
        return head.transform(base[None, :])[0]

    def search(
        self,
        query: str | np.ndarray,
        view: ViewSpec = None,
        k: int = 4,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[SearchHit]:
        """Exact top-k documents for a query text (or base vector) in ``view``.

        ``view`` is a view name, None for the generic vectors, or a blend such as
        ``{"condition": 0.6, "satisfaction": 0.4, None: 0.2}``: the weighted sum of each
        view's cosine similarity.
        """
        check_k(k)
        weights = blend_weights(view)
        base = self._base_query(query)  # loads the query encoder first, so it is checked too
        for name in weights:
            if name is not None:
                self.check_compatible(name)
        return self.search_by_vector(base, view, k, where, where_document)

    def search_by_vector(
        self,
        base_vector: np.ndarray,
        view: ViewSpec = None,
        k: int = 4,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[SearchHit]:
        """Exact top-k for a base-encoder query vector (d,) in ``view`` (or a blend)."""
        check_k(k)
        weights = informative_weights(blend_weights(view), lambda n: self.head(n).fell_back)
        q = self._as_query_row(base_vector)
        if self._table is None:
            try:
                self._fresh_table()
            except StoreError as exc:
                if view is None or "empty" not in str(exc):
                    raise
                raise StoreError(f"{exc} in view {view!r}") from None
        views = {name: self._materialise(name) for name in weights}
        store_mask = self._store_filter(where, where_document)
        with self._lock:
            table = self._table
            assert table is not None
            n = table.n
            if table.alive_count() == 0:
                raise StoreError(
                    "the store is empty: there are no base vectors to search"
                    + (f" in view {view!r}" if view else "")
                )
            scores = torch.zeros(n, dtype=torch.float32, device=self.device)
            q_t = torch.from_numpy(q).to(self.device)
            for name, w in weights.items():
                scores += w * self._scores(table, name, views[name], q_t, n)
            mask = table.alive[:n].copy()
            if store_mask is not None:
                mask &= np.isin(np.arange(n), table.rows_of(sorted(store_mask)))
            elif (where or where_document) and table.catalogue is not None:
                mask &= table.catalogue.mask(n, where, where_document)
            top_scores, top_rows = exact_topk(scores, int(k), torch.from_numpy(mask))
            rows = top_rows.cpu().tolist()
            ids = [table.ids[r] for r in rows]
            label = view_label(weights)
            if table.catalogue is not None:
                return [
                    SearchHit(i, table.catalogue.docs[r], dict(table.catalogue.metas[r]), s, label)
                    for i, r, s in zip(ids, rows, top_scores.cpu().tolist(), strict=True)
                ]
        return self._hits_from_store(ids, top_scores.cpu().tolist(), label)

    def _scores(
        self, table: RowTable, name: str | None, vm: ViewMatrix | None, q: torch.Tensor, n: int
    ) -> torch.Tensor:
        """Cosine (or, for "ip" views, inner-product) scores of every row in one view."""
        if vm is None:  # generic view over the base matrix
            assert table.base is not None
            qn = torch.nn.functional.normalize(q[None, :], dim=1)[0].to(table.base.dtype)
            return (table.base[:n] @ qn).float() / table.base_norms[:n]
        if vm.low_rank is not None:  # c (x·q) + (A x)·(A q), over the view norms for cosine
            assert table.base is not None
            A, c = vm.low_rank
            R = vm.matrix[:n].float()
            qf = q.float()
            aq = A @ qf
            s = c * (table.base[:n] @ qf.to(table.base.dtype)).float() + R[:, :-1] @ aq
            if vm.metric == "cosine":
                q_norm = torch.sqrt(c * (qf @ qf) + aq @ aq).clamp_min(1e-12)
                s = s / (R[:, -1].clamp_min(1e-12) * q_norm)
            return s
        qz = q[None, :] if vm.head is None else vm.head.transform_tensor(q[None, :])
        if vm.metric == "cosine":
            qz = torch.nn.functional.normalize(qz, dim=1)
        return (vm.matrix[:n] @ qz[0].to(vm.matrix.dtype)).float()

    def _store_filter(self, where: Any, where_document: Any) -> set[str] | None:
        if self.catalogue == "store" and (where or where_document):
            return self.source.ids_where(where or None, where_document or None)
        return None

    def _hits_from_store(
        self, ids: list[str], scores: list[float], label: str | None
    ) -> list[SearchHit]:
        """Hits whose documents and metadata are read from the store (catalogue="store")."""
        page = self.source.get(ids, include_documents=True)
        by_id = {
            i: (d, m) for i, d, m in zip(page.ids, page.documents, page.metadatas, strict=True)
        }
        out = []
        for i, s in zip(ids, scores, strict=True):
            if i in by_id:  # deleted since the last refresh: leave it out
                doc, meta = by_id[i]
                meta = {k: v for k, v in meta.items() if k != "gst_rev"}
                out.append(SearchHit(i, doc, meta, s, label))
        return out

    def view_matrix(self, view: str | None) -> tuple[list[str], np.ndarray]:
        """(ids, (n, z) float32 vectors) of a view's live rows (unit rows for "cosine")."""
        vm = self._materialise(view)
        with self._lock:
            table = self._table
            assert table is not None
            rows = table.live_rows()
            if vm is None or vm.low_rank is not None:  # made from the base matrix
                assert table.base is not None
                M = table.base[: table.n].float()
                if vm is not None and vm.head is not None:
                    M = vm.head.transform_tensor(M)
                if vm is None or vm.metric == "cosine":
                    M = torch.nn.functional.normalize(M, dim=1)
            else:
                M = vm.matrix[: table.n]
            idx = torch.from_numpy(rows).to(self.device)
            return [table.ids[r] for r in rows], M[idx].float().cpu().numpy()

    def signatures(self, ids: list[str]) -> list[int | None]:
        """The row signature of each id held (None for ids not held)."""
        with self._lock:
            table = self._table
            if table is None:
                return [None] * len(ids)
            return [int(table.signatures[table.row[i]]) if i in table.row else None for i in ids]

    def documents(self, ids: list[str]) -> tuple[list[str | None], list[dict[str, Any]]]:
        """Documents and metadata of ids (None / {} for unknown ids)."""
        with self._lock:
            table = self._table
            if table is not None and table.catalogue is not None:
                rows = [table.row.get(i) for i in ids]
                cat = table.catalogue
                return (
                    [cat.docs[r] if r is not None else None for r in rows],
                    [dict(cat.metas[r]) if r is not None else {} for r in rows],
                )
        hits = {h.id: h for h in self._hits_from_store(list(ids), [0.0] * len(ids), None)}
        return (
            [hits[i].document if i in hits else None for i in ids],
            [hits[i].metadata if i in hits else {} for i in ids],
        )

    def memory(self) -> dict[str, int]:
        """Bytes per component: base matrix, each materialised view, rows, catalogue."""
        with self._lock:
            return self._table.nbytes() if self._table is not None else {}

    def __repr__(self) -> str:
        table = self._table
        materialised = sorted(str(k) for k in table.views) if table is not None else []
        return (
            f"ViewEngine(views={self.views()}, materialised={materialised}, "
            f"metric={self.metric}, device={self.device}, keep_base={self.keep_base}, "
            f"catalogue={self.catalogue!r})"
        )
