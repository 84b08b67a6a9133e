"""A materialised view's rows, in one of three forms, each scoring itself.

* ``GenericView``: the base matrix itself (cosine); nothing is stored per row.
* ``DenseView``: the head's output per row, unit length for cosine views (also the generic
  view of an engine that holds no base matrix).
* ``LowRankView``: for a linear head whose metric is ``c I + AᵀA`` with a small ``A``
  (``core.views.low_rank``), only ``A x`` and the view norm per row; scored together with
  the base matrix, with the same scores as the dense view.

Each form says what it stores for base rows (``rows``), how it scores every row against a
base query (``scores``), what the view vectors of some rows are (``vectors``) and, for a
linear view, its score as a term over the base vectors (``score_term``: the rewritten
query and the per-row view norm, which ``core.views.ann`` searches), so the engine never
asks which form it holds.
"""

from __future__ import annotations

import itertools
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F

from gst_integrations.core.heads.families import linear_weight
from gst_integrations.core.heads.head import Head
from gst_integrations.core.views.ann import ScoreTerm
from gst_integrations.core.views.low_rank import low_rank_metric

if TYPE_CHECKING:
    from gst_integrations.core.views.rows import RowTable

__all__ = ["DenseView", "GenericView", "LowRankView", "ViewMatrix", "exact_topk", "make_view"]

_TOKENS = itertools.count()


class ViewMatrix(ABC):
    """One materialised view: its head (None: generic), metric and row-aligned matrix."""

    def __init__(self, head: Head | None, metric: str, matrix: torch.Tensor) -> None:
        self.head = head
        self.metric = metric
        #: (capacity, width), grown, trimmed and compacted with the engine's rows.
        self.matrix = matrix
        #: Unique per view built (a refit builds a new one): keys caches of its terms.
        self.token = next(_TOKENS)

    @abstractmethod
    def rows(self, X: torch.Tensor) -> torch.Tensor:
        """What this view stores for base rows ``X`` (float32, on the device)."""

    @abstractmethod
    def scores(self, table: RowTable, q: torch.Tensor, n: int) -> torch.Tensor:
        """(n,) float32 similarity of the first ``n`` rows to base query ``q`` (d,)."""

    @abstractmethod
    def vectors(self, table: RowTable, rows: torch.Tensor) -> torch.Tensor:
        """View vectors of ``rows`` as they are scored (unit length for cosine), float32."""

    def score_term(self, table: RowTable, q: torch.Tensor, weight: float) -> ScoreTerm | None:
        """This view's score as ``weight (r·x) / ν(x)`` over base rows x (None: not linear)."""
        return None

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

    def score_term(self, table: RowTable, q: torch.Tensor, weight: float) -> ScoreTerm:
        r = F.normalize(q[None, :].float(), dim=1)[0]
        return ScoreTerm(r, weight, table.base_norms, _norm, key=("generic",))


class DenseView(ViewMatrix):
    """The head's output for every row (the base vectors when ``head`` is None).

    A cosine view of a linear head also keeps each row's view norm |W x| in a last column,
    so that its score can be searched as a term over the base vectors (``score_term``).
    """

    def __init__(self, head: Head | None, metric: str, matrix: torch.Tensor) -> None:
        super().__init__(head, metric, matrix)
        self.linear = head is not None and head.is_linear
        self.width = int(matrix.shape[1]) - int(self.keeps_norm(head, metric))

    @staticmethod
    def keeps_norm(head: Head | None, metric: str) -> bool:
        return head is not None and head.is_linear and metric == "cosine"

    def _transform(self, X: torch.Tensor) -> torch.Tensor:
        Z = X.float() if self.head is None else self.head.transform_tensor(X.float())
        return F.normalize(Z, dim=1) if self.metric == "cosine" else Z

    def rows(self, X: torch.Tensor) -> torch.Tensor:
        if not self.keeps_norm(self.head, self.metric):
            return self._transform(X)
        assert self.head is not None
        Z = self.head.transform_tensor(X.float())
        norm = torch.linalg.vector_norm(Z, dim=1, keepdim=True)
        return torch.cat([Z / norm.clamp_min(1e-12), norm], dim=1)

    def scores(self, table: RowTable, q: torch.Tensor, n: int) -> torch.Tensor:
        qz = self._transform(q[None, :])[0]
        return (self.matrix[:n, : self.width] @ qz.to(self.matrix.dtype)).float()

    def vectors(self, table: RowTable, rows: torch.Tensor) -> torch.Tensor:
        return self.matrix[rows, : self.width].float()

    def score_term(self, table: RowTable, q: torch.Tensor, weight: float) -> ScoreTerm | None:
        if not self.linear:
            return None
        assert self.head is not None
        W = linear_weight(self.head.module)
        assert W is not None
        W = W.detach().float()
        wq = W @ q.float()
        r = W.T @ wq
        if self.metric != "cosine":
            return ScoreTerm(r, weight, key=("ip", self.token))
        r = r / torch.linalg.vector_norm(wq).clamp_min(1e-12)
        norms = self.matrix[:, self.width]
        return ScoreTerm(r, weight, norms, lambda C: _norm(C @ W.T), key=("dense", self.token))


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

    def score_term(self, table: RowTable, q: torch.Tensor, weight: float) -> ScoreTerm:
        qf = q.float()
        aq = self.A @ qf
        r = self.c * qf + self.A.T @ aq  # WᵀW q
        if self.metric != "cosine":
            return ScoreTerm(r, weight, key=("ip", self.token))
        r = r / torch.sqrt(self.c * (qf @ qf) + aq @ aq).clamp_min(1e-12)
        A, c = self.A, self.c

        def norm_of(C: torch.Tensor) -> torch.Tensor:
            AC = C @ A.T
            return torch.sqrt(c * (C * C).sum(1) + (AC * AC).sum(1))

        return ScoreTerm(r, weight, self.matrix[:, -1], norm_of, key=("low-rank", self.token))


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
    return DenseView(head, metric, zeros(head.out_dim + int(DenseView.keeps_norm(head, metric))))


def _norm(X: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(X.float(), dim=1)


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
