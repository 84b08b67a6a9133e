"""A compact int8 sketch of the base rows: the one full-dimensional term of every view,
estimated in one pass, then corrected exactly on a few candidates.

Every view form scores a row x against a base query q as

    s(x) = Σᵢ wᵢ · (αᵢ (q·x) + Mᵢ(x)·vᵢ) / νᵢ(x)

(``ViewMatrix.score_parts``): the generic vectors are α = 1/|q| over ν = |x|; the default
head's low-rank form is α = c/|Wq| plus its r-dimensional rows A x over the view norm; a
dense view is its own rows and no α. Everything but ``q·x`` is already held per row in a
few numbers and is computed exactly. ``q·x`` is the only term that reads the d-dimensional
base matrix, so a full scan at 1M rows costs 1.5 GB of memory traffic per query.

The sketch holds each base row's coordinates in a PCA basis of ``k`` dimensions (fitted
on the rows once), quantised to int8 per dimension: k bytes a row instead of 4d. A search
estimates ``q·x`` for every row from it, scores every row with the estimate, keeps the
best ``candidates`` rows, and re-scores those exactly from the full base rows. Only rows
whose estimated score falls below the candidate cut while their exact one would be in the
top k can be missed; ``docs/bench/ann.md`` measures how often, on real and on
embedding-shaped vectors.

Measured alternatives, and why not (same page): an inverted file over the base vectors
(views and blends need 10-20% of the lists probed for recall@10 >= 0.99, because a view's
neighbourhoods are not the base space's clusters); a graph index (HNSW) over the base
vectors (built for one metric: a cosine view's per-row norm defeats it); PCA of the whole
view score (the views' discriminant directions are low-variance ones).

The scan runs as a compiled kernel when ``numba`` is installed (one pass over the codes,
two threads), else through torch's int8 matrix product.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

__all__ = [
    "BaseSketch",
    "ScoreParts",
    "SketchConfig",
    "coarse_scores",
    "exact_scores",
    "warm_up",
]


@dataclass(frozen=True)
class SketchConfig:
    """Options of the sketch (defaults chosen by measurement: docs/bench/ann.md)."""

    #: PCA dimensions kept (int8 each): bytes per row.
    dims: int = 192
    #: Rows re-scored exactly per search (at least k).
    candidates: int = 200
    #: Rows the basis is fitted on (a sample; 50k rows pin a 384-d covariance well).
    fit_rows: int = 50_000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dims < 1 or self.candidates < 1 or self.fit_rows < 2:
            raise ValueError("dims and candidates must be >= 1, fit_rows >= 2")


@dataclass
class ScoreParts:
    """One view's score as ``weight (alpha (q·x) + M(x)·v) / nu(x)`` over engine rows."""

    weight: float
    alpha: float
    M: torch.Tensor | None = None  # (capacity, width) rows held by the view; uses len(v) columns
    v: torch.Tensor | None = None  # (r,), r <= width
    nu: torch.Tensor | None = None  # (capacity,) per-row divisor, None: 1


class BaseSketch:
    """int8 PCA coordinates of every engine row (see the module docstring)."""

    def __init__(
        self,
        mean: torch.Tensor,
        basis: torch.Tensor,
        lo: torch.Tensor,
        step: torch.Tensor,
        capacity: int,
    ) -> None:
        self.mean = mean  # (d,)
        self.basis = basis  # (d, k)
        self.lo = lo  # (k,) value of code -128
        self.step = step  # (k,)
        self.codes = torch.zeros((capacity, basis.shape[1]), dtype=torch.int8)
        self.fitted_on = 0

    @classmethod
    def fit(cls, X: torch.Tensor, capacity: int, config: SketchConfig | None = None) -> BaseSketch:
        """Basis and ranges from (a sample of) the rows ``X`` (n, d); codes still empty."""
        config = config or SketchConfig()
        X = X.float().cpu()
        gen = torch.Generator().manual_seed(config.seed)
        if len(X) > config.fit_rows:
            X = X[torch.randperm(len(X), generator=gen)[: config.fit_rows]]
        mean = X.mean(0)
        Xc = X - mean
        k = min(config.dims, X.shape[1])
        _, vecs = torch.linalg.eigh((Xc.T @ Xc).double())
        basis = vecs[:, -k:].float().flip(1).contiguous()
        Z = (Xc[:20_000] @ basis).sort(dim=0).values  # ranges from 20k rows
        cut = int(0.0005 * len(Z))  # the extreme 0.05% at each end are clipped
        lo, hi = Z[cut], Z[len(Z) - 1 - cut]
        step = ((hi - lo) / 255).clamp_min(1e-12)
        sketch = cls(mean, basis, lo, step, capacity)
        sketch.fitted_on = len(X)
        return sketch

    @property
    def dims(self) -> int:
        return int(self.basis.shape[1])

    def encode(self, X: torch.Tensor) -> torch.Tensor:
        Z = (X.float().cpu() - self.mean) @ self.basis
        return (torch.round((Z - self.lo) / self.step) - 128).clamp_(-128, 127).to(torch.int8)

    # -- following the engine's rows -------------------------------------------------------
    def reserve(self, capacity: int) -> None:
        if capacity > len(self.codes):
            grown = torch.zeros((capacity, self.dims), dtype=torch.int8)
            grown[: len(self.codes)] = self.codes
            self.codes = grown

    def write(self, rows: np.ndarray, X: torch.Tensor, chunk: int = 65536) -> None:
        self.reserve(int(rows.max(initial=-1)) + 1)
        idx = torch.from_numpy(np.asarray(rows, np.int64))
        for s in range(0, len(idx), chunk):
            self.codes[idx[s : s + chunk]] = self.encode(X[s : s + chunk])

    def take(self, keep: np.ndarray) -> None:
        """Follow a compaction: old row ``keep[i]`` is now row ``i``."""
        self.codes = self.codes[torch.from_numpy(np.asarray(keep, np.int64))].clone()

    def trim(self, capacity: int) -> None:
        self.codes = self.codes[:capacity].clone()

    def nbytes(self) -> int:
        return self.codes.numel() + 4 * (self.basis.numel() + 3 * self.dims + len(self.mean))

    # -- estimating q·x -------------------------------------------------------------------
    def dot(self, q: torch.Tensor, n: int) -> torch.Tensor:
        """Estimated ``q·x`` of rows [0, n) (float32)."""
        q = q.float().cpu()
        qp = self.basis.T @ q  # (k,)
        qs = qp * self.step
        const = float(q @ self.mean + qp @ (self.lo + 128.0 * self.step))
        return _int8_dot(self.codes[:n], qs) + const


def warm_up() -> None:
    """Compile the scan kernels now (about 2 s the first time; numba caches them on disk)."""
    kernels = _numba_kernels()
    if kernels is not None:
        kernels[0](np.zeros((1, 8), np.int8), np.zeros(8, np.float32), np.zeros(1, np.float32))
        one = np.zeros(1, np.float32)
        kernels[1](one, one, 1.0, np.zeros((1, 1), np.float32), one, one, 1.0)


def coarse_scores(
    sketch: BaseSketch, parts: list[ScoreParts], q: torch.Tensor, n: int
) -> torch.Tensor:
    """Every row's score with ``q·x`` estimated from the sketch (rows [0, n))."""
    g = sketch.dot(q, n) if any(p.alpha for p in parts) else None
    return _combine(parts, g, n, None)


def exact_scores(
    base: torch.Tensor, parts: list[ScoreParts], q: torch.Tensor, rows: torch.Tensor
) -> torch.Tensor:
    """The exact scores of ``rows`` (``q·x`` from the full base rows)."""
    g = (base[rows].float() @ q.float()) if any(p.alpha for p in parts) else None
    return _combine(parts, g, len(rows), rows)


def _combine(
    parts: list[ScoreParts], g: torch.Tensor | None, n: int, rows: torch.Tensor | None
) -> torch.Tensor:
    out = torch.zeros(n)
    kernels = _numba_kernels()
    for p in parts:
        M = None if p.M is None or p.v is None else (p.M[:n] if rows is None else p.M[rows])
        nu = None if p.nu is None else (p.nu[:n] if rows is None else p.nu[rows])
        alpha = float(p.alpha) if g is not None else 0.0
        if kernels is not None and rows is None and (M is None or M.dtype == torch.float32):
            kernels[1](  # one fused pass per part, over the view's own rows
                out.numpy(),
                g.numpy() if g is not None else np.zeros(n, np.float32),
                alpha,
                M.numpy() if M is not None else np.zeros((n, 0), np.float32),
                p.v.float().cpu().numpy() if M is not None else np.zeros(0, np.float32),
                nu.float().numpy() if nu is not None else np.zeros(0, np.float32),
                float(p.weight),
            )
            continue
        term = alpha * g if (alpha and g is not None) else torch.zeros(n)
        if M is not None:
            assert p.v is not None
            term = term + M[:, : len(p.v)].float() @ p.v.float()
        if nu is not None:
            term = term / nu.float().clamp_min(1e-12)
        out += p.weight * term
    return out


def _int8_dot(codes: torch.Tensor, qs: torch.Tensor) -> torch.Tensor:
    kernels = _numba_kernels()
    if kernels is not None:
        out = np.empty(len(codes), np.float32)
        kernels[0](codes.numpy(), qs.numpy().astype(np.float32), out)
        return torch.from_numpy(out)
    # torch: an int8 x int8 matrix product with the query quantised too (8 columns: the
    # kernel's minimum), scaled back.
    scale = float(qs.abs().max()) / 127 or 1.0
    q8 = torch.zeros((codes.shape[1], 8), dtype=torch.int8)
    q8[:, 0] = torch.round(qs / scale).to(torch.int8)
    if len(codes) <= 16 or codes.shape[1] % 8:
        return (codes.float() @ (q8[:, 0].float())) * scale
    return torch._int_mm(codes, q8)[:, 0].float() * scale


_KERNELS: list = []


def _numba_kernels():  # type: ignore[no-untyped-def]
    """(int8 dot, fused accumulate) compiled by numba, or None without numba."""
    if not _KERNELS:
        try:
            import numba as nb
        except ImportError:
            _KERNELS.append(None)
            return None

        @nb.njit(parallel=True, fastmath=True, cache=True)
        def int8_dot(codes, qs, out):  # type: ignore[no-untyped-def]
            n, k = codes.shape
            for i in nb.prange(n):
                acc = np.float32(0.0)
                for j in range(k):
                    acc += np.float32(codes[i, j]) * qs[j]
                out[i] = acc

        @nb.njit(parallel=True, fastmath=True, cache=True)
        def accumulate(out, g, alpha, M, v, nu, weight):  # type: ignore[no-untyped-def]
            n = out.shape[0]
            r = v.shape[0]
            has_nu = nu.shape[0] > 0
            for i in nb.prange(n):
                t = np.float32(alpha) * g[i] if alpha != 0.0 else np.float32(0.0)
                for j in range(r):
                    t += M[i, j] * v[j]
                if has_nu:
                    t /= max(nu[i], np.float32(1e-12))
                out[i] += np.float32(weight) * t

        _KERNELS.append((int8_dot, accumulate))
    return _KERNELS[0]
