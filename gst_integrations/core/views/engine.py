"""Instruction views over the base vectors of a vector store, held on the device.

The store keeps the corpus' base vectors (embedded once). The engine reads them once, in
pages, into a ``RowTable`` on its device (``keep_base=True``, the default; fp16/bf16 with
``dtype``), next to the documents and metadata (``catalogue="memory"``) or not
(``catalogue="store"``: documents are fetched for the top k only, and filters run in the
store). Every view is one transform of that base matrix, made on first use
(``core.views.matrices``): a view switch or a refit costs a matmul, not a store read.
``keep_base=False`` is the memory-light mode: no base matrix, and a new view reads the
store again.

Freshness (``core.views.refresher``; the rules in ``core.views.freshness``): a search
refreshes first when the rows are older than ``max_staleness``; ``refresh()`` makes them
current. A refresh reads what changed outside the search lock and scatters it into every view.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from gst_integrations.core.device import resolve_device
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.errors import GSTError, StoreError
from gst_integrations.core.feedback import warn
from gst_integrations.core.heads.blend import Blend, ViewSpec, blend_weights
from gst_integrations.core.heads.compat import check_query_encoder, check_store
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.registry import HeadRegistry
from gst_integrations.core.hits import SearchHit
from gst_integrations.core.validation import check_k
from gst_integrations.core.views.approximate import ApproximateSearch
from gst_integrations.core.views.catalogue import StoreCatalogue, make_hits
from gst_integrations.core.views.freshness import Health, UnknownEncoderNotice
from gst_integrations.core.views.matrices import ViewMatrix, exact_topk, make_view
from gst_integrations.core.views.options import EngineOptions
from gst_integrations.core.views.queries import QueryEncoding
from gst_integrations.core.views.refresh import RefreshStats
from gst_integrations.core.views.refresher import Refresher
from gst_integrations.core.views.rows import RowTable
from gst_integrations.core.views.source import VectorSource

__all__ = ["EngineOptions", "Health", "RefreshStats", "ViewEngine", "ViewSpec"]


class ViewEngine:
    """Search a vector store through instruction views, switching views without re-encoding.

    ``heads`` is a ``HeadStore`` (a folder of heads), a dict name -> Head, or a
    ``HeadRegistry``. Query texts are encoded once through a ``CachedEncoder``
    (``encoder=None``: the default offline encoder, loaded on first use). The other keyword
    arguments are ``EngineOptions`` fields (metric, max_staleness, dtype, keep_base, ...).
    """

    def __init__(
        self,
        source: VectorSource,
        heads: Any = None,
        encoder: Any = None,
        cache: VectorCache | str | Any | None = None,
        **options: Any,
    ) -> None:
        self.options = EngineOptions(**options)
        self.source = source
        self.registry = HeadRegistry.of(heads)
        self.device = resolve_device(self.options.device)
        self.metric = self.options.metric
        self.queries = QueryEncoding(source, encoder, cache)
        self.stored = StoreCatalogue(source)
        self._rows = Refresher(source, self.options, self.device)
        self._approx = ApproximateSearch(self.options, self.device)
        self._unknown_encoder = UnknownEncoderNotice()

    @property
    def encoder(self) -> CachedEncoder:
        """The cached query encoder (built on first use)."""
        return self.queries.encoder

    # -- views ----------------------------------------------------------------------------
    @property
    def heads(self) -> Any:
        """What the views come from: the ``HeadStore`` or the dict of heads."""
        return self.registry.backing

    def views(self) -> list[str]:
        """Names of the registered views."""
        return self.registry.names()

    def head(self, name: str) -> Head:
        """The head of view ``name`` (UnknownViewError naming the nearest known view)."""
        return self.registry.get(name)

    def register(self, name: str, head: Head) -> None:
        """Add or replace a view (saved to the head store when there is one)."""
        self.registry.register(name, head)

    def check(self, view: ViewSpec) -> None:
        """Raise unless every view of ``view`` fits the store's vectors and the query encoder."""
        for name in blend_weights(view):
            if name is not None:
                self.check_compatible(name)

    def check_compatible(self, name: str) -> Head:
        """The head of ``name``, checked against the store and (once known) the query encoder."""
        dim = self.source.dim()
        info = self.source.fingerprint_info()

        def fits_store(head: Head) -> bool:
            check_store(head, name, dim, info)
            return dim is not None  # an empty store is checked again once it holds vectors

        head = self.registry.checked(name, f"store:{dim}", fits_store)
        if self.queries.known:
            self.registry.checked(
                name, "query", lambda h: check_query_encoder(h, name, self.encoder)
            )
        return head

    # -- freshness ------------------------------------------------------------------------
    @property
    def max_staleness(self) -> float:
        """Seconds a search may serve rows older than the store."""
        return self._rows.max_staleness

    @max_staleness.setter
    def max_staleness(self, seconds: float) -> None:
        self._rows.max_staleness = float(seconds)

    def refresh(self, view: str | None = None, full: bool = False) -> RefreshStats:
        """Bring the engine up to date with the store now, and materialise views.

        ``view`` names one view to materialise; None materialises every registered view that
        fits the store (a broken one is skipped with a warning). The rows then reflect every
        write made before the call, by any writer. ``full=True`` reconciles every row.
        """
        stats = self._rows.refresh(full=full, explicit=True)
        for name in [view] if view is not None else self.views():
            try:
                self._view(name)
            except GSTError as exc:
                if view is not None:
                    raise
                warn(f"view {name!r} skipped: {exc}")
        return stats

    def health(self) -> Health:
        """How fresh the rows are: last successful refresh, its age, the last error."""
        return self._rows.health()

    def _view(self, name: str | None) -> ViewMatrix:
        """View ``name`` on the current rows, built (one transform) when missing or stale."""
        table = self._rows.current()
        head = None if name is None else self.check_compatible(name)
        vm = table.views.get(name)
        if vm is not None and vm.head is head:
            return vm
        with self._rows.refresh_lock:  # no refresh scatters while the view is built
            table = self._rows.table
            assert table is not None
            vm = table.views.get(name)
            if vm is not None and vm.head is head:
                return vm
            vm = make_view(head, self.metric, table)
            if table.base is not None:
                vm.fill(table)
            else:
                self._fill_from_store(vm, table)
            with self._rows.lock:
                table.views[name] = vm  # replaces (and releases) a refitted head's view
            return vm

    def _fill_from_store(self, vm: ViewMatrix, table: RowTable) -> None:
        """Memory-light mode: read the store again to compute a new view's rows."""
        for page in self.source.iter_pages(self.options.page_size):
            keep = [j for j, i in enumerate(page.ids) if i in table.row]
            if keep:
                rows = torch.from_numpy(table.rows_of([page.ids[j] for j in keep]))
                X = torch.from_numpy(np.ascontiguousarray(page.vectors[keep], np.float32))
                vm.matrix[rows.to(self.device)] = vm.rows(X.to(self.device)).to(vm.matrix.dtype)

    # -- queries --------------------------------------------------------------------------
    def _base_query(self, query: str | np.ndarray | torch.Tensor) -> np.ndarray:
        table = self._rows.table
        return self.queries.row(query, table.dim if table is not None else self.source.dim())

    def query_vector(self, query: str | np.ndarray, view: ViewSpec = None) -> np.ndarray:
        """A query's vector in ``view``: the base vector for None, the view vector for a
        name, and for a blend the vector whose dot products are the blend's scores."""
        base = self._base_query(query)
        if view is None:
            return base
        if isinstance(view, str):
            return self.check_compatible(view).transform(base[None, :])[0]
        return self._blend(view).vectors(base[None, :], self.metric)[0].astype(np.float32)

    def _blend(self, view: ViewSpec) -> Blend:
        return Blend.resolve(view, self.check_compatible)

    def search(
        self,
        query: str | np.ndarray,
        view: ViewSpec = None,
        k: int = 4,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        with_vectors: bool = False,
    ) -> list[SearchHit]:
        """Exact top-k documents for a query text (or base vector) in ``view``.

        ``view`` is a view name, None for the generic vectors, or a blend such as
        ``{"condition": 0.6, "satisfaction": 0.4, None: 0.2}``: the weighted sum of each
        view's similarity. ``with_vectors`` fills each hit's ``vector`` (its vector in the
        view's scoring space, as ``query_vector`` gives for the query).
        """
        check_k(k)
        base = self._base_query(query)  # loads the query encoder first, so it is checked too
        self.check(view)
        return self.search_by_vector(base, view, k, where, where_document, with_vectors)

    def search_by_vector(
        self,
        base_vector: np.ndarray,
        view: ViewSpec = None,
        k: int = 4,
        where: dict[str, Any] | None = None,
        where_document: dict[str, Any] | None = None,
        with_vectors: bool = False,
    ) -> list[SearchHit]:
        """Exact top-k for a base-encoder query vector (d,) in ``view`` (or a blend)."""
        check_k(k)
        blend = self._blend(view)
        if isinstance(base_vector, str):
            raise TypeError("search_by_vector takes a base query vector; search() takes text")
        q = self._base_query(base_vector)
        self._unknown_encoder.searched(self.source)
        matrices = {name: self._view(name) for name in blend.parts}
        store_ids = (
            self.stored.ids_where(where, where_document)
            if self.options.catalogue == "store"
            else None
        )
        self._approx.ensure(self._rows.current(), self._rows.refresh_lock, self._rows.lock)
        with self._rows.lock:
            table = self._rows.table
            assert table is not None
            n = table.n
            if table.alive_count() == 0:
                suffix = f" in view {view!r}" if view else ""
                raise StoreError(f"the store is empty: there are no base vectors to search{suffix}")
            q_t = torch.from_numpy(q).to(self.device)
            mask = self._mask(table, where, where_document, store_ids)
            approx = self._approx.top(table, blend, matrices, q_t, k, mask)
            if approx is not None:  # the sketch's candidates, re-scored exactly
                top_scores, top_rows = approx
            else:
                scores = torch.zeros(n, dtype=torch.float32, device=self.device)
                for name, (_, weight) in blend.parts.items():
                    scores += weight * matrices[name].scores(table, q_t, n)
                top_scores, top_rows = exact_topk(scores, k, mask)
            rows = top_rows.cpu().tolist()
            ids = [table.ids[r] for r in rows]
            vectors = self._hit_vectors(table, blend, matrices, top_rows) if with_vectors else None
            if table.catalogue is not None:
                docs = [table.catalogue.docs[r] for r in rows]
                metas = [dict(table.catalogue.metas[r]) for r in rows]
                return make_hits(ids, docs, metas, top_scores.cpu().tolist(), blend.label, vectors)
        return self.stored.hits(ids, top_scores.cpu().tolist(), blend.label, vectors)

    def _mask(
        self, table: RowTable, where: Any, where_document: Any, store_ids: set[str] | None
    ) -> np.ndarray:
        mask = table.alive[: table.n].copy()
        if store_ids is not None:
            keep = np.zeros(table.n, bool)
            keep[table.rows_of(sorted(store_ids))] = True
            mask &= keep
        elif (where or where_document) and table.catalogue is not None:
            mask &= table.catalogue.mask(table.n, where, where_document)
        return mask

    def _hit_vectors(
        self,
        table: RowTable,
        blend: Blend,
        matrices: Mapping[str | None, ViewMatrix],
        rows: torch.Tensor,
    ) -> np.ndarray:
        """Each hit's vector in the blend's scoring space (√w-weighted view vectors)."""
        parts = [
            float(np.sqrt(w)) * matrices[name].vectors(table, rows)
            for name, (_, w) in blend.parts.items()
        ]
        return torch.cat(parts, dim=1).cpu().numpy()

    # -- rows -----------------------------------------------------------------------------
    def view_matrix(self, view: str | None) -> tuple[list[str], np.ndarray]:
        """(ids, (n, z) float32 vectors) of a view's live rows (unit rows for "cosine")."""
        vm = self._view(view)
        with self._rows.lock:
            table = self._rows.table
            assert table is not None
            rows = table.live_rows()
            idx = torch.from_numpy(rows).to(self.device)
            return [table.ids[r] for r in rows], vm.vectors(table, idx).cpu().numpy()

    def signatures(self, ids: list[str]) -> list[int | None]:
        """The row signature of each id held (None for ids not held)."""
        with self._rows.lock:
            table = self._rows.table
            if table is None:
                return [None] * len(ids)
            return [int(table.signatures[table.row[i]]) if i in table.row else None for i in ids]

    def documents(self, ids: list[str]) -> tuple[list[str | None], list[dict[str, Any]]]:
        """Documents and metadata of ids (None / {} for unknown ids)."""
        with self._rows.lock:
            table = self._rows.table
            if table is not None and table.catalogue is not None:
                rows = [table.row.get(i) for i in ids]
                cat = table.catalogue
                return (
                    [cat.docs[r] if r is not None else None for r in rows],
                    [dict(cat.metas[r]) if r is not None else {} for r in rows],
                )
        hits = {h.id: h for h in self.stored.hits(list(ids), [0.0] * len(ids), None)}
        return (
            [hits[i].document if i in hits else None for i in ids],
            [hits[i].metadata if i in hits else {} for i in ids],
        )

    def memory(self) -> dict[str, int]:
        """Bytes per component: base matrix, each materialised view, rows, catalogue."""
        with self._rows.lock:
            table = self._rows.table
            return table.nbytes() if table is not None else {}

    def __repr__(self) -> str:
        table = self._rows.table
        built = sorted(str(k) for k in table.views) if table is not None else []
        return (
            f"ViewEngine(views={self.views()}, materialised={built}, metric={self.metric}, "
            f"device={self.device}, keep_base={self.options.keep_base}, "
            f"catalogue={self.options.catalogue!r})"
        )
