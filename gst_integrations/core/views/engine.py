"""Instruction views over the base vectors of a vector store, materialised lazily on device.

The store keeps the corpus' base vectors (embedded once). For each registered head the
engine builds a ``ViewIndex`` on first use by reading the store in pages and transforming
them; later searches refresh it incrementally: only ids not yet in the view are fetched and
transformed, and ids gone from the store leave it. Documents and metadata are kept once,
host-side, in a catalogue shared by all views, so metadata filters are numpy masks.

Refresh protocol (why adds during a refresh lose no id): a refresh snapshots the store's
ids, then fetches the missing ones. An id added after the snapshot is not in the view, so
the next refresh sees it as missing and adds it. An id that seems gone is checked again
with ``source.get`` before it is removed, so paging that shifts under a concurrent delete
cannot drop a live id.
"""

from __future__ import annotations

import threading
import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from gst_integrations.core.device import resolve_device
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import (
    DimensionMismatchError,
    EncoderMismatchError,
    GSTError,
    StoreError,
    UnknownViewError,
)
from gst_integrations.core.heads.compat import check_query_encoder, check_store
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.store import HeadStore, check_view_name
from gst_integrations.core.hits import SearchHit
from gst_integrations.core.validation import as_float32_matrix, check_k
from gst_integrations.core.views.catalogue import Catalogue
from gst_integrations.core.views.index import METRICS, ViewIndex
from gst_integrations.core.views.source import VectorSource

_BASE = None  # key of the generic (base-vector) view


@dataclass
class RefreshStats:
    """What one refresh did: ids added to / removed from the view(s), size, duration."""

    added: int
    removed: int
    total: int
    seconds: float


class ViewEngine:
    """Search a vector store through instruction views, switching views without re-encoding.

    ``heads`` is a ``HeadStore`` (a directory of heads) or a dict name -> Head. Query texts
    are encoded once through a ``CachedEncoder`` (``encoder=None`` uses the default offline
    encoder, loaded on first use). Views refresh lazily before a search when the store's
    count changed or ``max_staleness`` seconds passed since the last full id check; call
    ``refresh()`` to force one.
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
        dtype: torch.dtype = torch.float32,
        show_progress: bool = False,
    ) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
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
        self.dtype = dtype
        self.show_progress = show_progress
        self._encoder_arg = encoder
        self._cache_arg = cache
        self._encoder: CachedEncoder | None = None
        self._catalog = Catalogue()
        self._views: dict[str | None, Any] = {}
        self._view_heads: dict[str, Head] = {}
        self._checked_at: dict[str | None, float] = {}
        self._compatible: set[tuple[str, str]] = set()
        self._lock = threading.RLock()

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
        self._views.pop(name, None)
        self._view_heads.pop(name, None)
        self._checked_at.pop(name, None)
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

    # -- materialise and refresh ----------------------------------------------------------
    def _index_for(self, key: str | None):
        """The view index of ``key``, created empty (and checked) when missing or stale."""
        if key is _BASE:
            index = self._views.get(_BASE)
            if index is None:
                dim = self.source.dim()
                if dim is None:
                    raise StoreError("the store is empty: there are no base vectors to search")
                index = ViewIndex(dim, "cosine", self.device, self.dtype)
                self._views[_BASE] = index
            return index
        head = self.check_compatible(key)
        if self._view_heads.get(key) is not head:  # new view, or its head file changed
            self._drop_view(key)
            self.check_compatible(key)
            self._views[key] = ViewIndex(head.out_dim, self.metric, self.device, self.dtype)
            self._view_heads[key] = head.to(self.device)
        return self._views[key]

    def _transform(self, key: str | None, X: torch.Tensor) -> torch.Tensor:
        if key is _BASE:
            return X
        return self._view_heads[key].transform_tensor(X)

    def refresh(self, view: str | None = None) -> RefreshStats:
        """Bring views up to date with the store: fetch and transform only missing ids.

        ``view`` names one view; None refreshes every registered view (materialising
        them) plus the generic view when it was materialised.
        """
        keys: list[str | None]
        with self._lock:
            if view is not None:
                keys = [view]
            else:
                keys = [_BASE] if _BASE in self._views else []
                for name in self.views():
                    try:  # one unreadable or incompatible head must not block the others
                        self.check_compatible(name)
                    except GSTError as exc:
                        warnings.warn(f"view {name!r} skipped: {exc}", stacklevel=2)
                        continue
                    keys.append(name)
                if not keys:
                    return RefreshStats(0, 0, 0, 0.0)
            return self._refresh(keys)

    def _refresh(self, keys: list[str | None]) -> RefreshStats:
        t0 = time.perf_counter()
        indexes = {key: self._index_for(key) for key in keys}
        current: set[str] = set()
        for ids in self.source.list_ids(self.page_size):
            current.update(ids)
        missing = {key: current.difference(ix._row) for key, ix in indexes.items()}
        gone = {key: {i for i in ix._row if i not in current} for key, ix in indexes.items()}
        all_gone = set().union(*gone.values()) if gone else set()
        if all_gone:  # confirm: paging under concurrent deletes must not drop live ids
            still = set()
            ordered = sorted(all_gone)
            for s in range(0, len(ordered), self.page_size):
                still.update(self.source.get(ordered[s : s + self.page_size], False).ids)
            all_gone -= still
            gone = {key: g - still for key, g in gone.items()}
        removed = 0
        for key, ids in gone.items():
            removed += indexes[key].remove(list(ids))
        self._catalog.remove(all_gone)

        todo = sorted(set().union(*missing.values())) if missing else []
        added = 0
        bar = tqdm(
            total=len(todo),
            desc="refresh views",
            unit="doc",
            disable=not self.show_progress or len(todo) < 10 * self.page_size,
        )
        for s in range(0, len(todo), self.page_size):
            page = self.source.get(todo[s : s + self.page_size], include_documents=True)
            bar.update(min(self.page_size, len(todo) - s))
            if not len(page):
                continue
            X = page.vectors
            for key, ix in indexes.items():
                need = ix.dim if key is _BASE else self._view_heads[key].in_dim
                if X.ndim != 2 or X.shape[1] != need:
                    raise DimensionMismatchError(
                        f"the store returned {X.shape[-1]}-d vectors; view "
                        f"{key or '(generic)'!r} expects {need}-d vectors"
                    )
            rows = self._catalog.upsert(page)
            X_t = torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32)).to(self.device)
            for key, ix in indexes.items():
                want = missing[key]
                sel = [j for j, id_ in enumerate(page.ids) if id_ in want]
                if not sel:
                    continue
                if len(sel) == len(page):
                    ids_sel, X_sel, rows_sel = page.ids, X_t, rows
                else:
                    ids_sel = [page.ids[j] for j in sel]
                    X_sel = X_t[torch.tensor(sel, device=self.device)]
                    rows_sel = rows[sel]
                added += ix.add(ids_sel, self._transform(key, X_sel), payload=rows_sel)
        bar.close()
        now = time.time()
        for key in keys:
            self._checked_at[key] = now
        total = len(indexes[keys[0]]) if len(keys) == 1 else int(self._catalog.alive.sum())
        return RefreshStats(added, removed, total, time.perf_counter() - t0)

    def _maybe_refresh(self, key: str | None) -> Any:
        index = self._views.get(key)
        stale = (
            index is None
            or (key is not _BASE and self._view_heads.get(key) is not self.head(key))
            or time.time() - self._checked_at.get(key, 0.0) > self.max_staleness
            or self.source.count() != len(index)
        )
        if stale:
            self._refresh([key])
        return self._views[key]

    # -- queries --------------------------------------------------------------------------
    def _base_query(self, query: str | np.ndarray | torch.Tensor) -> np.ndarray:
        if isinstance(query, str):
            self._check_query_encoder_vs_store()
            return self.encoder.encode([query])[0]
        return self._as_query_row(query)

    def _as_query_row(self, vector: Any) -> np.ndarray:
        """One base query vector (d,), checked against the store's dimension."""
        arr = np.asarray(vector.detach().cpu() if isinstance(vector, torch.Tensor) else vector)
        if arr.ndim == 1:
            arr = arr[None, :]
        arr = as_float32_matrix(arr, name="query vector", dim=self.source.dim())
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
        view: str | None = None,
        k: int = 4,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[SearchHit]:
        """Exact top-k documents for a query text (or base vector) in ``view``."""
        check_k(k)
        base = self._base_query(query)  # loads the query encoder first, so it is checked too
        if view is not None:
            self.check_compatible(view)
        return self.search_by_vector(base, view, k, where, where_document)

    def search_by_vector(
        self,
        base_vector: np.ndarray,
        view: str | None = None,
        k: int = 4,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
    ) -> list[SearchHit]:
        """Exact top-k for a base-encoder query vector (d,) in ``view``."""
        check_k(k)
        q = self._as_query_row(base_vector)[None, :]
        with self._lock:
            index = self._maybe_refresh(view)
            if len(index.ids) == 0:
                raise StoreError(
                    "the store is empty: there are no base vectors to search"
                    + (f" in view {view!r}" if view else "")
                )
            q_t = torch.from_numpy(q).to(self.device)
            qz = self._transform(view, q_t)
            mask = None
            if where or where_document:
                cat_mask = self._catalog.mask(where, where_document)
                mask = torch.from_numpy(cat_mask[index.payload]).to(self.device)
            scores, rows = index.search(qz, int(k), mask)
            scores_l = scores[0].float().cpu().tolist()
            rows_l = rows[0].cpu().tolist()
            payload = index.payload
            cat = self._catalog
            return [
                SearchHit(
                    id=index.ids[r],
                    document=cat.docs[payload[r]],
                    metadata=dict(cat.metas[payload[r]]),
                    score=float(s),
                    view=view,
                )
                for s, r in zip(scores_l, rows_l, strict=True)
            ]

    def view_matrix(self, view: str | None) -> tuple[list[str], np.ndarray]:
        """(ids, (n, z) float32 vectors) of a view, refreshed (unit rows for "cosine")."""
        with self._lock:
            index = self._maybe_refresh(view)
            return list(index.ids), index.matrix.float().cpu().numpy()

    def documents(self, ids: list[str]) -> tuple[list[str | None], list[dict[str, Any]]]:
        """Documents and metadata of ids known to the engine (None / {} for unknown ids)."""
        rows = [self._catalog.row.get(i) for i in ids]
        docs = [self._catalog.docs[r] if r is not None else None for r in rows]
        metas = [dict(self._catalog.metas[r]) if r is not None else {} for r in rows]
        return docs, metas

    def memory(self) -> dict[str | None, int]:
        """Device bytes per materialised view."""
        with self._lock:
            return {key: ix.nbytes for key, ix in self._views.items()}

    def __repr__(self) -> str:
        return (
            f"ViewEngine(views={self.views()}, materialised={sorted(map(str, self._views))}, "
            f"metric={self.metric}, device={self.device})"
        )
