"""When and how an engine answers from its sketch instead of a full scan of the base matrix.

The sketch (``core.views.sketch.BaseSketch``) is built from the held base matrix the first
time a search can use it, under the refresh lock (no refresh scatters meanwhile), and then
follows every refresh with the rows (``RowTable.write``, ``compact``, growth). A search uses
it when some part of its view spec needs the base query's dot product with every row (the
generic vectors, the default head's low-rank form; a dense view scores from its own rows
and is exact already) and the options allow it. The best ``ann_candidates`` rows by the
estimated score, among the rows the search may return (live, passing its filter), are
re-scored exactly, so the hits carry the scores an exact search gives them.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping

import numpy as np
import torch

from gst_integrations.core.feedback import logger
from gst_integrations.core.heads.blend import Blend
from gst_integrations.core.views.matrices import ViewMatrix
from gst_integrations.core.views.options import EngineOptions
from gst_integrations.core.views.rows import RowTable
from gst_integrations.core.views.sketch import (
    BaseSketch,
    SketchConfig,
    coarse_scores,
    exact_scores,
    warm_up,
)

__all__ = ["ApproximateSearch"]


class ApproximateSearch:
    """The approximate path of one engine: its policy, the sketch's build, its searches."""

    def __init__(self, options: EngineOptions, device: torch.device) -> None:
        self.options = options
        self.device = device
        self.config = SketchConfig(dims=options.ann_dims, candidates=options.ann_candidates)
        #: False answers every search exactly (benchmarks compare both on one engine).
        self.enabled = True

    def wanted(self, table: RowTable) -> bool:
        """Whether this engine should search ``table`` through a sketch now."""
        mode = self.options.ann
        if mode == "off" or table.base is None or not self.enabled:
            return False
        if mode == "on":
            return True
        return self.device.type == "cpu" and table.alive_count() >= self.options.ann_min_rows

    def ensure(self, table: RowTable, refresh_lock: threading.Lock, lock: threading.RLock) -> None:
        """Build the sketch of ``table`` when it is wanted and missing."""
        if table.sketch is not None or not self.wanted(table):
            return
        with refresh_lock:  # no refresh scatters while the sketch is built
            if table.sketch is not None:
                return
            assert table.base is not None
            live = table.live_rows()
            base = table.base[: table.n]
            sketch = BaseSketch.fit(
                base[torch.from_numpy(live).to(base.device)], table.capacity, self.config
            )
            sketch.write(np.arange(table.n), base)
            warm_up()
            logger.info("sketch built: %d rows, %d dimensions", len(live), sketch.dims)
            with lock:
                table.sketch = sketch

    def top(
        self,
        table: RowTable,
        blend: Blend,
        matrices: Mapping[str | None, ViewMatrix],
        q: torch.Tensor,
        k: int,
        mask: np.ndarray,
    ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """(scores, rows) of the best ``k`` rows, or None for a full exact scan."""
        if table.sketch is None or table.base is None or not self.wanted(table):
            return None
        parts = [
            matrices[name].score_parts(table, q, float(weight))
            for name, (_, weight) in blend.parts.items()
        ]
        if not any(p.alpha for p in parts):
            return None  # no base dot product: the exact scan reads only the views' rows
        n = table.n
        allowed = torch.from_numpy(np.ascontiguousarray(mask[:n]))
        n_allowed = int(allowed.sum())
        coarse = coarse_scores(table.sketch, parts, q, n)
        if n_allowed < n:
            coarse = coarse.masked_fill(~allowed, float("-inf"))
        cand = torch.topk(coarse, min(max(self.config.candidates, k), n_allowed)).indices
        exact = exact_scores(table.base, parts, q, cand)
        best = torch.topk(exact, min(k, len(cand)))
        return best.values.to(self.device), cand[best.indices].to(self.device)
