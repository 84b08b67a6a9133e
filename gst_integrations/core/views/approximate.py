"""When and how an engine answers from its approximate index instead of a full scan.

The index (``core.views.ann.IVFIndex``) is built from the held base matrix the first time
a search can use it, under the refresh lock (so no refresh scatters meanwhile), and then
follows every refresh with the rows (``RowTable.write``, ``remove``, ``compact``). A
search uses it when every part of the view spec is linear (``ViewMatrix.score_term``),
there is no filter, and the engine's options allow it; otherwise the search is exact. Its
scores are the exact scores of the rows it scans, so hits carry the same scores as an
exact search would give them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import torch

from gst_integrations.core.feedback import logger
from gst_integrations.core.heads.blend import Blend
from gst_integrations.core.views.ann import ANNConfig, IVFIndex
from gst_integrations.core.views.matrices import ViewMatrix
from gst_integrations.core.views.options import EngineOptions
from gst_integrations.core.views.rows import RowTable

__all__ = ["ApproximateSearch"]


class ApproximateSearch:
    """The approximate path of one engine: its policy, the index's build, its searches."""

    def __init__(self, options: EngineOptions, device: torch.device) -> None:
        self.options = options
        self.device = device
        #: False answers every search exactly (benchmarks compare both on one engine).
        self.enabled = True

    def wanted(self, table: RowTable) -> bool:
        """Whether this engine should hold an index over ``table`` now."""
        mode = self.options.ann
        if mode == "off" or table.base is None or not self.enabled:
            return False
        if mode == "on":
            return True
        return self.device.type == "cpu" and table.alive_count() >= self.options.ann_min_rows

    def ensure(self, table: RowTable, refresh_lock: threading.Lock, lock: threading.RLock) -> None:
        """Build the index over ``table`` (or rebuild a stale one) when it is wanted."""
        if not self.wanted(table) or (table.ann is not None and not table.ann.stale):
            return
        with refresh_lock:  # no refresh scatters while the index is built
            if table.ann is not None and not table.ann.stale:
                return
            assert table.base is not None
            rows = table.live_rows()
            idx = torch.from_numpy(rows).to(table.base.device)
            X = table.base[idx].float().cpu()
            config = ANNConfig(probe_share=self.options.ann_probe_share)
            index = IVFIndex.build(X, rows, config)
            logger.info("approximate index built: %d rows in %d clusters", len(rows), index.nlist)
            with lock:
                table.ann = index

    def top(
        self,
        table: RowTable,
        blend: Blend,
        matrices: Mapping[str | None, ViewMatrix],
        q: torch.Tensor,
        k: int,
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(scores, rows) of the best ``k`` rows from the index, or None for an exact search."""
        if table.ann is None or not self.wanted(table):
            return None
        terms = []
        for name, (_, weight) in blend.parts.items():
            term = matrices[name].score_term(table, q.cpu(), float(weight))
            if term is None:
                return None
            if term.row_norm is not None:
                term.row_norm = term.row_norm.cpu()
            terms.append(term)
        scores, rows = table.ann.search(terms, k)
        if len(rows) < min(k, table.alive_count()):
            return None  # the probed clusters held fewer than k rows
        return scores.to(self.device), rows.to(self.device)

    @staticmethod
    def exact_only(where: object, where_document: object, store_ids: object) -> bool:
        return bool(where or where_document or store_ids is not None)
