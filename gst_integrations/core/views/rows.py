"""The rows an engine holds: ids, liveness, signatures, the base matrix, views and catalogue.

Every array is aligned by row and grows by doubling, so an add is amortised O(1) and an
update or delete is O(changes). Deleted rows are marked dead and reclaimed by ``compact``
once they are a quarter of the table. Only the refresher mutates a table, under the
engine's lock, and only for as long as a scatter of the changed rows takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from gst_integrations.core.views.catalogue import Catalogue

if TYPE_CHECKING:
    from gst_integrations.core.views.matrices import ViewMatrix
    from gst_integrations.core.views.sketch import BaseSketch

#: Key of the generic (base-vector) view.
GENERIC = None


def _grow(t: torch.Tensor, capacity: int) -> torch.Tensor:
    out = torch.zeros((capacity, *t.shape[1:]), dtype=t.dtype, device=t.device)
    out[: t.shape[0]] = t
    return out


class RowTable:
    """Row-aligned state of one engine (see the module docstring)."""

    def __init__(
        self, dim: int, device: torch.device, dtype: torch.dtype, keep_base: bool, catalogue: bool
    ) -> None:
        self.dim = dim
        self.device = device
        self.dtype = dtype
        self.n = 0  # rows used (alive or dead)
        self.ids: list[str | None] = []
        self.row: dict[str, int] = {}
        self.alive = np.zeros(0, bool)
        self.signatures = np.zeros(0, np.int64)
        self.base: torch.Tensor | None = (
            torch.zeros((0, dim), dtype=dtype, device=device) if keep_base else None
        )
        self.base_norms = torch.zeros(0, dtype=torch.float32, device=device)
        self.views: dict[str | None, ViewMatrix] = {}
        self.catalogue = Catalogue() if catalogue else None
        #: The int8 sketch of the base rows (``core.views.sketch``), once built.
        self.sketch: BaseSketch | None = None
        self.version = 0

    # -- reading --------------------------------------------------------------------------
    @property
    def capacity(self) -> int:
        return len(self.alive)

    def alive_count(self) -> int:
        return int(self.alive[: self.n].sum())

    def live_rows(self) -> np.ndarray:
        return np.flatnonzero(self.alive[: self.n])

    def rows_of(self, ids: Sequence[str]) -> np.ndarray:
        """Rows of ids held (ids not held are skipped)."""
        return np.array([self.row[i] for i in ids if i in self.row], np.int64)

    def nbytes(self) -> dict[str, int]:
        """Bytes per component: base matrix, each view, row bookkeeping, catalogue."""
        out: dict[str, int] = {}
        if self.base is not None:
            out["base matrix"] = self.base.numel() * self.base.element_size()
        for key, vm in self.views.items():
            if vm.matrix.numel():  # the generic view over the base matrix holds nothing
                out[f"view {key or '(generic)'}"] = vm.matrix.numel() * vm.matrix.element_size()
        out["rows (ids, signatures)"] = (
            self.alive.nbytes + self.signatures.nbytes + sum(len(i or "") + 49 for i in self.ids)
        )
        if self.catalogue is not None:
            out["catalogue"] = self.catalogue.nbytes()
        if self.sketch is not None:
            out["sketch (approximate search)"] = self.sketch.nbytes()
        return out

    # -- writing (under the engine's lock) ------------------------------------------------
    def _reserve(self, need: int) -> None:
        if need <= self.capacity:
            return
        cap = max(need, 2 * self.capacity, 1024)
        grown = np.zeros(cap, bool)
        grown[: self.n] = self.alive[: self.n]
        self.alive = grown
        sig = np.zeros(cap, np.int64)
        sig[: self.n] = self.signatures[: self.n]
        self.signatures = sig
        if self.base is not None:
            self.base = _grow(self.base, cap)
        self.base_norms = _grow(self.base_norms, cap)
        for vm in self.views.values():
            vm.matrix = _grow(vm.matrix, cap)
        if self.sketch is not None:
            self.sketch.reserve(cap)

    def assign_rows(self, ids: Sequence[str]) -> np.ndarray:
        """Rows for ids: their own when held, new ones appended otherwise."""
        new = [i for i in dict.fromkeys(ids) if i not in self.row]
        self._reserve(self.n + len(new))
        for k, i in enumerate(new):
            self.row[i] = self.n + k
        self.ids.extend(new)
        self.n += len(new)
        return np.array([self.row[i] for i in ids], np.int64)

    def write(
        self,
        rows: np.ndarray,
        base: torch.Tensor,
        signatures: np.ndarray,
        documents: list[str | None],
        metadatas: list[dict[str, Any]],
        view_rows: dict[str | None, torch.Tensor],
    ) -> None:
        """Write rows: base vectors (float32, on the device), signatures, catalogue, views."""
        idx = torch.from_numpy(rows).to(self.device)
        if self.base is not None:
            self.base[idx] = base.to(self.dtype)
        self.base_norms[idx] = torch.linalg.vector_norm(base, dim=1).clamp_min(1e-12)
        for key, values in view_rows.items():
            vm = self.views.get(key)
            if vm is not None:
                vm.matrix[idx] = values.to(vm.matrix.dtype)
        self.alive[rows] = True
        self.signatures[rows] = signatures
        if self.sketch is not None:
            self.sketch.write(rows, base)
        if self.catalogue is not None:
            self.catalogue.write(rows, documents, metadatas)
        self.version += 1

    def remove(self, ids: Sequence[str]) -> int:
        """Mark ids dead; returns how many were held."""
        rows = [self.row.pop(i) for i in ids if i in self.row]
        for r in rows:
            self.ids[r] = None
        if rows:
            arr = np.array(rows, np.int64)
            self.alive[arr] = False
            self.signatures[arr] = 0
            if self.catalogue is not None:
                self.catalogue.clear(arr)
            self.version += 1
        return len(rows)

    def trim(self) -> None:
        """Drop spare capacity (after the initial load, which grew by doubling)."""
        if self.capacity <= self.n + self.n // 8 + 1024:
            return
        cap = self.n + self.n // 8 + 1024
        self.alive = self.alive[:cap].copy()
        self.signatures = self.signatures[:cap].copy()
        if self.base is not None:
            self.base = self.base[:cap].clone()
        self.base_norms = self.base_norms[:cap].clone()
        for vm in self.views.values():
            vm.matrix = vm.matrix[:cap].clone()
        if self.sketch is not None:
            self.sketch.trim(cap)

    def needs_compaction(self) -> bool:
        dead = self.n - self.alive_count()
        return dead > 1024 and dead * 4 > self.n

    def compact(self) -> None:
        """Drop dead rows from every array (O(n); done when they are a quarter of it)."""
        keep = self.live_rows()
        idx = torch.from_numpy(keep).to(self.device)
        self.ids = [self.ids[r] for r in keep]
        self.row = {i: r for r, i in enumerate(self.ids) if i is not None}
        self.alive = self.alive[keep].copy()
        self.signatures = self.signatures[keep].copy()
        if self.base is not None:
            self.base = self.base[idx].clone()
        self.base_norms = self.base_norms[idx].clone()
        for vm in self.views.values():
            vm.matrix = vm.matrix[idx].clone()
        if self.catalogue is not None:
            self.catalogue.take(keep)
        if self.sketch is not None:
            self.sketch.take(keep)
        self.n = len(keep)
        self.version += 1
