"""A materialised view's rows, in one of three forms, each scoring itself.

* ``GenericView``: the base matrix itself (cosine); nothing is stored per row.
* ``DenseView``: the head's output per row, unit length for cosine views (also the generic
  view of an engine that holds no base matrix).
* ``LowRankView``: for a linear head whose metric is ``c I + AᵀA`` with a small ``A``
  (``core.views.low_rank``), only ``A x`` and the view norm per row; scored together with
  the base matrix, with the same scores as the dense view.

Each form says what it stores for base rows (``rows``), how it scores every row against a
base query (``scores``), what the view vectors of some rows are (``vectors``) and how its
score splits into the base query's dot product with each row and what the view holds
itself (``score_parts``, for the approximate path of ``core.views.sketch``), so the engine
never asks which form it holds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from gst_integrations.core.heads.head import Head
from gst_integrations.core.views.low_rank import low_rank_metric
from gst_integrations.core.views.sketch import ScoreParts

if TYPE_CHECKING:
    from gst_integrations.core.views.rows import RowTable

__all__ = ["DenseView", "GenericView", "LowRankView", "ViewMatrix", "exact_topk", "make_view"]


class ViewMatrix(ABC):
    """One materialised view: its head (None: generic), metric and row-aligned matrix."""

    def __init__(self, head: Head | None, metric: str, matrix: torch.Tensor) -> None:
        self.head = head
        self.metric = metric
        #: (capacity, width), grown, trimmed and compacted with the engine's rows.
        self.matrix = matrix

    @abstractmethod
    def rows(self, X: torch.Tensor) -> torch.Tensor:
        """What this view stores for base rows ``X`` (float32, on the device)."""

    @abstractmethod
    def scores(self, table: RowTable, q: torch.Tensor, n: int) -> torch.Tensor:
        """(n,) float32 similarity of the first ``n`` rows to base query ``q`` (d,)."""

    @abstractmethod
    def vectors(self, table: RowTable, rows: torch.Tensor) -> torch.Tensor:
        """View vectors of ``rows`` as they are scored (unit length for cosine), float32."""

    @abstractmethod
    def score_parts(self, table: RowTable, q: torch.Tensor, weight: float) -> ScoreParts:
        """``weight`` times this view's score as ``(alpha (q·x) + M(x)·v) / nu(x)`` per row."""

    def fill(self, table: RowTable, chunk: int = 65536) -> None:
        """Compute every held row from the base matrix, in chunks."""
        assert table.base is not None
        for s in range(0, table.n, chunk):
            X = table.base[s : s + chunk].float()
            self.matrix[s : s + len(X)] = self.rows(X).to(self.matrix.dtype)


class GenericView(ViewMatrix):
    """The base vectors themselves, scored by cosine over the held base matrix."""

    def rows(self, X: torch.Tensor) -> torch.Tensor:
        return X[:, :0]

    def scores(self, table: RowTable, q: torch.Tensor, n: int) -> torch.Tensor:
        assert table.base is not None
        qn = F.normalize(q[None, :].float(), dim=1)[0].to(table.base.dtype)
        return (table.base[:n] @ qn).float() / table.base_norms[:n]

    def vectors(self, table: RowTable, rows: torch.Tensor) -> torch.Tensor:
        assert table.base is not None
        return F.normalize(table.base[rows].float(), dim=1)

    def score_parts(self, table: RowTable, q: torch.Tensor, weight: float) -> ScoreParts:
        alpha = 1.0 / float(torch.linalg.vector_norm(q.float()).clamp_min(1e-12))
        return ScoreParts(weight, alpha, nu=table.base_norms)


class DenseView(ViewMatrix):
    """The head's output for every row (the base vectors when ``head`` is None)."""

    def _transform(self, X: torch.Tensor) -> torch.Tensor:
        Z = X.float() if self.head is None else self.head.transform_tensor(X.float())
        return F.normalize(Z, dim=1) if self.metric == "cosine" else Z

    def rows(self, X: torch.Tensor) -> torch.Tensor:
        return self._transform(X)

    def scores(self, table: RowTable, q: torch.Tensor, n: int) -> torch.Tensor:
        qz = self._transform(q[None, :])[0]
        return (self.matrix[:n] @ qz.to(self.matrix.dtype)).float()

    def vectors(self, table: RowTable, rows: torch.Tensor) -> torch.Tensor:
        return self.matrix[rows].float()

    def score_parts(self, table: RowTable, q: torch.Tensor, weight: float) -> ScoreParts:
        return ScoreParts(weight, 0.0, M=self.matrix, v=self._transform(q[None, :])[0])


class LowRankView(ViewMatrix):
    """``A x`` and ``|W x|`` per row, where ``WᵀW = c I + AᵀA``; needs the base matrix."""

    def __init__(
        self, head: Head, metric: str, matrix: torch.Tensor, A: torch.Tensor, c: float
    ) -> None:
        super().__init__(head, metric, matrix)
        self.A = A
        self.c = c

    def rows(self, X: torch.Tensor) -> torch.Tensor:
        X = X.float()
        AX = X @ self.A.T
        norm = torch.sqrt(self.c * (X * X).sum(1) + (AX * AX).sum(1))
        return torch.cat([AX, norm[:, None]], dim=1)

    def scores(self, table: RowTable, q: torch.Tensor, n: int) -> torch.Tensor:
        assert table.base is not None
        R = self.matrix[:n].float()
        qf = q.float()
        aq = self.A @ qf
        s = self.c * (table.base[:n] @ qf.to(table.base.dtype)).float() + R[:, :-1] @ aq
        if self.metric == "cosine":
            q_norm = torch.sqrt(self.c * (qf @ qf) + aq @ aq).clamp_min(1e-12)
            s = s / (R[:, -1].clamp_min(1e-12) * q_norm)
        return s

    def vectors(self, table: RowTable, rows: torch.Tensor) -> torch.Tensor:
        assert table.base is not None and self.head is not None
        Z = self.head.transform_tensor(table.base[rows].float())
        return F.normalize(Z, dim=1) if self.metric == "cosine" else Z

    def score_parts(self, table: RowTable, q: torch.Tensor, weight: float) -> ScoreParts:
        qf = q.float()
        aq = self.A @ qf
        if self.metric != "cosine":
            return ScoreParts(weight, self.c, M=self.matrix, v=aq)
        q_norm = float(torch.sqrt(self.c * (qf @ qf) + aq @ aq).clamp_min(1e-12))
        return ScoreParts(weight, self.c / q_norm, self.matrix, aq / q_norm, self.matrix[:, -1])


def make_view(head: Head | None, metric: str, table: RowTable) -> ViewMatrix:
    """An empty view of the right form for ``head`` over ``table`` (rows not yet computed)."""
    cap, device, dtype = table.capacity, table.device, table.dtype

    def zeros(width: int) -> torch.Tensor:
        return torch.zeros((cap, width), dtype=dtype, device=device)

    if head is None:
        if table.base is not None:
            return GenericView(None, "cosine", zeros(0))
        return DenseView(None, "cosine", zeros(table.dim))
    head.to(device)
    if table.base is not None and head.is_linear:
        form = low_rank_metric(head.weight)
        if form is not None:
            A = torch.from_numpy(form.A).to(device)
            return LowRankView(head, metric, zeros(form.rank + 1), A, form.c)
    return DenseView(head, metric, zeros(head.out_dim))


@torch.inference_mode()
def exact_topk(
    scores: torch.Tensor, k: int, mask: torch.Tensor | np.ndarray | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k of a (n,) score vector among rows where ``mask`` is True: (scores, rows)."""
    n_cand = scores.shape[0]
    if mask is not None:
        mask = torch.as_tensor(mask, device=scores.device, dtype=torch.bool)
        n_cand = int(mask.sum())
        if n_cand < scores.shape[0]:
            scores = scores.masked_fill(~mask, float("-inf"))
    kk = min(int(k), n_cand)
    if kk == 0:
        return scores[:0], torch.zeros(0, dtype=torch.long, device=scores.device)
    return torch.topk(scores, kk)
