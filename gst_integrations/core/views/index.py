"""A materialised view: one (n, z) matrix on the device, searched exactly by matmul + topk.

Rows are kept in a growable buffer (amortised O(1) appends); removals compact it. For the
"cosine" metric rows are unit-normalised when added, so a search is one matrix product.
Each row may carry an integer ``payload`` (the engine's catalogue row, used to map metadata
filters onto view rows without per-row Python).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from gst_integrations.core.device import resolve_device
from gst_integrations.core.errors import DimensionMismatchError

METRICS = ("cosine", "ip")


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


class ViewIndex:
    """Exact top-k over view vectors held on one device."""

    def __init__(
        self,
        dim: int,
        metric: str = "cosine",
        device: Any = "auto",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
        self.dim = int(dim)
        self.metric = metric
        self.device = resolve_device(device)
        self.dtype = dtype
        self._buf = torch.empty((0, self.dim), dtype=dtype, device=self.device)
        self._n = 0
        self._ids: list[str] = []
        self._row: dict[str, int] = {}
        self._payload = np.zeros(0, dtype=np.int64)

    # -- contents -------------------------------------------------------------------------
    def __len__(self) -> int:
        return self._n

    def __contains__(self, id_: object) -> bool:
        return id_ in self._row

    @property
    def ids(self) -> list[str]:
        return self._ids

    @property
    def id_set(self) -> set[str]:
        return set(self._row)

    @property
    def payload(self) -> np.ndarray:
        """Per-row integers given to ``add`` (int64, aligned with rows)."""
        return self._payload[: self._n]

    @property
    def matrix(self) -> torch.Tensor:
        """The (n, z) view matrix (a view of the buffer: do not modify)."""
        return self._buf[: self._n]

    @property
    def nbytes(self) -> int:
        """Device bytes held by the view matrix (including spare capacity)."""
        return int(self._buf.numel() * self._buf.element_size())

    def row_of(self, ids: Sequence[str]) -> list[int]:
        return [self._row[i] for i in ids]

    # -- updates --------------------------------------------------------------------------
    def _prepare(self, vectors: torch.Tensor | np.ndarray) -> torch.Tensor:
        t = torch.as_tensor(vectors).to(self.device, torch.float32)
        if t.ndim != 2 or t.shape[1] != self.dim:
            raise DimensionMismatchError(
                f"view vectors must be (n, {self.dim}), got {tuple(t.shape)}"
            )
        if self.metric == "cosine":
            t = torch.nn.functional.normalize(t, dim=1)
        return t.to(self.dtype)

    def add(
        self,
        ids: Sequence[str],
        vectors: torch.Tensor | np.ndarray,
        payload: np.ndarray | Sequence[int] | None = None,
    ) -> int:
        """Add rows (ids already present are replaced in place); returns rows appended."""
        ids = [str(i) for i in ids]
        t = self._prepare(vectors)
        if t.shape[0] != len(ids):
            raise ValueError(f"{len(ids)} ids for {t.shape[0]} vectors")
        pay = (
            np.asarray(payload, dtype=np.int64)
            if payload is not None
            else np.full(len(ids), -1, np.int64)
        )
        existing = [k for k, i in enumerate(ids) if i in self._row]
        if existing:
            rows = torch.tensor([self._row[ids[k]] for k in existing], device=self.device)
            self._buf[rows] = t[existing]
            self._payload[rows.cpu().numpy()] = pay[existing]
            keep = np.setdiff1d(np.arange(len(ids)), existing)
            ids = [ids[k] for k in keep]
            t, pay = t[torch.from_numpy(keep).to(self.device)], pay[keep]
        m = len(ids)
        if m == 0:
            return 0
        need = self._n + m
        if need > self._buf.shape[0]:
            cap = max(need, int(self._buf.shape[0] * 1.5) + 1024)
            buf = torch.empty((cap, self.dim), dtype=self.dtype, device=self.device)
            buf[: self._n] = self._buf[: self._n]
            self._buf = buf
            payload_buf = np.full(cap, -1, np.int64)
            payload_buf[: self._n] = self._payload[: self._n]
            self._payload = payload_buf
        self._buf[self._n : need] = t
        self._payload[self._n : need] = pay
        self._row.update({i: self._n + k for k, i in enumerate(ids)})
        self._ids.extend(ids)
        self._n = need
        return m

    def remove(self, ids: Sequence[str]) -> int:
        """Drop rows by id (unknown ids ignored); returns how many were removed."""
        gone = {self._row[i] for i in ids if i in self._row}
        if not gone:
            return 0
        keep = np.setdiff1d(np.arange(self._n), np.fromiter(gone, np.int64, len(gone)))
        kept = self._buf[torch.from_numpy(keep).to(self.device)]
        self._buf[: len(keep)] = kept
        self._payload[: len(keep)] = self._payload[keep]
        self._ids = [self._ids[r] for r in keep]
        self._row = {i: r for r, i in enumerate(self._ids)}
        self._n = len(keep)
        return len(gone)

    # -- search ---------------------------------------------------------------------------
    def prepare_query(self, query_z: torch.Tensor | np.ndarray) -> torch.Tensor:
        """(q, z) or (z,) query view vectors -> (q, z) on device, normalised for cosine."""
        q = torch.as_tensor(query_z).to(self.device, torch.float32)
        if q.ndim == 1:
            q = q[None, :]
        if q.ndim != 2 or q.shape[1] != self.dim:
            raise DimensionMismatchError(
                f"query view vectors must have dimension {self.dim}, got {tuple(q.shape)}"
            )
        if self.metric == "cosine":
            q = torch.nn.functional.normalize(q, dim=1)
        return q.to(self.dtype)

    @torch.inference_mode()
    def search(
        self,
        query_z: torch.Tensor | np.ndarray,
        k: int,
        candidate_mask: torch.Tensor | np.ndarray | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact top-k: (scores (q, k'), rows (q, k')) with k' = min(k, candidates)."""
        if k <= 0:
            raise ValueError(f"k must be positive, got {k}")
        q = self.prepare_query(query_z)
        X = self.matrix
        n_cand = self._n
        if candidate_mask is not None:
            mask = torch.as_tensor(candidate_mask, device=self.device, dtype=torch.bool)
            if mask.shape[0] != self._n:
                raise ValueError(f"candidate_mask has {mask.shape[0]} rows, view has {self._n}")
            n_cand = int(mask.sum())
        kk = min(k, n_cand)
        if kk == 0:
            empty = torch.empty((q.shape[0], 0), device=self.device)
            return empty, empty.long()
        if q.shape[0] == 1:
            scores = torch.mv(X, q[0])[None, :]
        else:
            scores = q @ X.T
        scores = scores.float()
        if candidate_mask is not None and n_cand < self._n:
            scores = scores.masked_fill(~mask, float("-inf"))
        return torch.topk(scores, kk, dim=1)
