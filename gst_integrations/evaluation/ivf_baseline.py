"""Baseline for the approximate-search benchmark: an inverted file over the base vectors.

A linear head scores a row by ``(W x)·(W q) = x·(WᵀW q)``: the *rewritten query*
``r = WᵀW q`` searches the base vectors directly, so one index over the base matrix serves
every linear view, the generic vectors and any blend. A cosine view divides that by the
row's view norm ``|W x|``; a blend sums such terms. Every score this index is asked for
therefore has the form

    s(x) = Σᵢ wᵢ (rᵢ·x) / νᵢ(x)        (νᵢ: a per-row norm, or 1)

which graph indexes (HNSW) cannot follow, because their edges are built for one fixed
metric and the norm changes per view (measured: a cosine view through a base HNSW index
keeps under half of its top 10). An inverted file can: the base vectors are clustered once
(k-means), each query scores the cluster centroids with the same formula (the centroid
treated as a row), and the rows of the ``nprobe`` best clusters are scored exactly as
above. Rows are stored in float32, list by list, so a probed list is one contiguous matmul
(measured on this CPU: bfloat16 storage halves the memory but torch's small bfloat16
matmuls ran 10-35x slower, and gathering the probed rows into one buffer 8x slower). The
scores of the rows seen are exact, so only rows in unprobed clusters can be missed;
``search`` returns the best rows it saw, which the caller may re-rank on its own rows.

The index follows the engine's rows: ``add`` (new or changed rows: moved to their nearest
centroid) and ``remove`` cost O(changes). Centroids stay those of the build; ``stale``
says when the corpus has grown enough since that a rebuild would pay.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

__all__ = ["ANNConfig", "IVFIndex", "ScoreTerm"]


@dataclass(frozen=True)
class ANNConfig:
    """Options of the inverted file (defaults chosen by measurement: docs/bench)."""

    #: Clusters; None: about 2·√n (lists of about √n / 2 rows), at least 16.
    nlist: int | None = None
    #: Clusters scanned per query; None: ``probe_share`` of them.
    nprobe: int | None = None
    #: Share of the clusters scanned when ``nprobe`` is None.
    probe_share: float = 0.06
    #: k-means: training rows per cluster, iterations, seed.
    train_per_list: int = 48
    iterations: int = 8
    seed: int = 0

    def __post_init__(self) -> None:
        if self.nlist is not None and self.nlist < 1:
            raise ValueError("nlist must be >= 1")
        if self.nprobe is not None and self.nprobe < 1:
            raise ValueError("nprobe must be >= 1")
        if not 0 < self.probe_share <= 1:
            raise ValueError("probe_share must be in (0, 1]")
        if self.train_per_list < 1 or self.iterations < 0:
            raise ValueError("train_per_list must be >= 1 and iterations >= 0")

    def lists_for(self, n: int) -> int:
        return max(16, min(n, self.nlist or int(round(2 * np.sqrt(max(n, 1))))))

    def probes_for(self, nlist: int) -> int:
        return max(1, min(nlist, self.nprobe or int(np.ceil(self.probe_share * nlist))))


@dataclass
class ScoreTerm:
    """One term wᵢ (rᵢ·x) / νᵢ(x) of a query's score.

    ``query``: the rewritten query rᵢ (d,), already divided by the query's own view norm
    for a cosine view. ``row_norm``: νᵢ per engine row (indexed by row id), None for an
    inner-product term. ``norm_of``: νᵢ of arbitrary base vectors (k, d) -> (k,), used on
    the centroids; cached under ``key`` until the centroids change.
    """

    query: torch.Tensor
    weight: float = 1.0
    row_norm: torch.Tensor | None = None
    norm_of: Callable[[torch.Tensor], torch.Tensor] | None = None
    key: Hashable = None


@dataclass
class _List:
    rows: torch.Tensor  # (cap,) int64 engine rows
    vectors: torch.Tensor  # (cap, d) float32
    n: int = 0


@dataclass
class IVFIndex:
    """Inverted file over base vectors (see the module docstring)."""

    centroids: torch.Tensor  # (nlist, d) float32
    config: ANNConfig
    lists: list[_List] = field(default_factory=list)
    trained_on: int = 0
    # engine row -> (list, slot); -1: not filed. Grown by doubling.
    _list_of: np.ndarray = field(default_factory=lambda: np.full(0, -1, np.int32))
    _slot_of: np.ndarray = field(default_factory=lambda: np.full(0, -1, np.int32))
    _count: int = 0
    _centroid_norms: dict[Hashable, torch.Tensor] = field(default_factory=dict)

    # -- building -------------------------------------------------------------------------
    @classmethod
    def build(cls, X: torch.Tensor, rows: Any, config: ANNConfig | None = None) -> IVFIndex:
        """Cluster ``X`` (n, d) and file every row; ``rows``: the engine row of each."""
        config = config or ANNConfig()
        X = X.float()
        n, d = X.shape
        nlist = config.lists_for(n)
        gen = torch.Generator(device="cpu").manual_seed(config.seed)
        sample = X[torch.randperm(n, generator=gen)[: nlist * config.train_per_list].to(X.device)]
        C = sample[torch.randperm(len(sample), generator=gen)[:nlist].to(X.device)].clone()
        for _ in range(config.iterations):
            assign = _nearest(sample, C)
            sums = torch.zeros_like(C).index_add_(0, assign, sample)
            counts = torch.bincount(assign, minlength=nlist).to(C.dtype)
            empty = counts == 0
            C = sums / counts.clamp_min(1)[:, None]
            if bool(empty.any()):  # reseed empty clusters with random training rows
                pick = torch.randint(len(sample), (int(empty.sum()),), generator=gen)
                C[empty] = sample[pick.to(X.device)]
        index = cls(C.contiguous(), config)
        index.lists = [
            _List(
                torch.zeros(0, dtype=torch.long, device=X.device),
                torch.zeros((0, d), dtype=torch.float32, device=X.device),
            )
            for _ in range(nlist)
        ]
        index.add(rows, X)
        index.trained_on = n
        return index

    @property
    def nlist(self) -> int:
        return int(self.centroids.shape[0])

    def __len__(self) -> int:
        return self._count

    def __contains__(self, row: int) -> bool:
        return 0 <= row < len(self._list_of) and self._list_of[row] >= 0

    def _reserve(self, top_row: int) -> None:
        if top_row < len(self._list_of):
            return
        cap = max(top_row + 1, 2 * len(self._list_of), 1024)
        for name in ("_list_of", "_slot_of"):
            grown = np.full(cap, -1, np.int32)
            old = getattr(self, name)
            grown[: len(old)] = old
            setattr(self, name, grown)

    @property
    def stale(self) -> bool:
        """True once the index holds 4x the rows its centroids were trained on."""
        return len(self) > 4 * max(self.trained_on, 1)

    # -- following the engine's rows --------------------------------------------------------
    def add(self, rows: Any, X: torch.Tensor, chunk: int = 65536) -> None:
        """File rows (new ones, or changed ones: moved to their nearest centroid now)."""
        rows_t = torch.as_tensor(np.asarray(rows, dtype=np.int64)).to(self.centroids.device)
        if len(rows_t) != len(X):
            raise ValueError(f"{len(rows_t)} rows for {len(X)} vectors")
        if not len(X):
            return
        self.remove(rows_t.tolist(), missing_ok=True)
        assign = torch.cat(
            [_nearest(X[s : s + chunk].float(), self.centroids) for s in range(0, len(X), chunk)]
        )
        order = torch.argsort(assign, stable=True)
        assign_sorted = assign[order]
        lists_hit, counts = torch.unique_consecutive(assign_sorted, return_counts=True)
        start = 0
        for li, cnt in zip(lists_hit.tolist(), counts.tolist(), strict=True):
            take = order[start : start + cnt]
            start += cnt
            self._append(li, rows_t[take], X[take].float())

    def _append(self, li: int, rows: torch.Tensor, V: torch.Tensor) -> None:
        lst = self.lists[li]
        need = lst.n + len(rows)
        if need > len(lst.rows):
            cap = max(need, 2 * len(lst.rows), 16)
            grown_rows = torch.zeros(cap, dtype=torch.long, device=lst.rows.device)
            grown_rows[: lst.n] = lst.rows[: lst.n]
            grown = torch.zeros((cap, V.shape[1]), dtype=lst.vectors.dtype, device=V.device)
            grown[: lst.n] = lst.vectors[: lst.n]
            lst.rows, lst.vectors = grown_rows, grown
        lst.rows[lst.n : need] = rows
        lst.vectors[lst.n : need] = V
        r = rows.cpu().numpy()
        self._reserve(int(r.max()))
        self._list_of[r] = li
        self._slot_of[r] = np.arange(lst.n, need, dtype=np.int32)
        self._count += len(r)
        lst.n = need

    def remove(self, rows: Sequence[int], missing_ok: bool = True) -> None:
        """Forget rows (deleted, or about to be re-filed); O(rows)."""
        for r in (int(x) for x in rows):
            if r not in self:
                if not missing_ok:
                    raise KeyError(r)
                continue
            li, slot = int(self._list_of[r]), int(self._slot_of[r])
            self._list_of[r] = self._slot_of[r] = -1
            self._count -= 1
            lst = self.lists[li]
            last = lst.n - 1
            if slot != last:  # move the list's last row into the hole
                moved = int(lst.rows[last])
                lst.rows[slot] = lst.rows[last]
                lst.vectors[slot] = lst.vectors[last]
                self._slot_of[moved] = slot
            lst.n = last

    def renumber(self, keep: np.ndarray) -> None:
        """Follow a compaction of the engine's rows: old row ``keep[i]`` is now row ``i``."""
        new_of_old = np.full(max(len(self._list_of), int(keep.max(initial=-1)) + 1), -1, np.int64)
        new_of_old[keep] = np.arange(len(keep))
        lookup = torch.from_numpy(new_of_old)
        self._list_of = np.full(max(len(keep), 1024), -1, np.int32)
        self._slot_of = np.full(len(self._list_of), -1, np.int32)
        self._count = 0
        for li, lst in enumerate(self.lists):
            rows = lookup[lst.rows[: lst.n].cpu()]
            live = rows >= 0
            n = int(live.sum())
            lst.rows[:n] = rows[live].to(lst.rows.device)
            lst.vectors[:n] = lst.vectors[: lst.n][live.to(lst.vectors.device)]
            lst.n = n
            r = lst.rows[:n].cpu().numpy()
            self._list_of[r] = li
            self._slot_of[r] = np.arange(n, dtype=np.int32)
            self._count += n

    # -- searching --------------------------------------------------------------------------
    def _centroid_scale(self, term: ScoreTerm) -> torch.Tensor | None:
        if term.norm_of is None:
            return None
        key = term.key if term.key is not None else id(term.norm_of)
        cached = self._centroid_norms.get(key)
        if cached is None:
            cached = 1.0 / term.norm_of(self.centroids).float().clamp_min(1e-12)
            self._centroid_norms[key] = cached
        return cached

    def probe(self, terms: Sequence[ScoreTerm], nprobe: int) -> torch.Tensor:
        """The ``nprobe`` clusters whose centroids score best under the query's formula."""
        R = torch.stack([t.query.float() for t in terms], dim=1)  # (d, m)
        S = self.centroids @ R  # (nlist, m)
        total = torch.zeros(self.nlist, device=S.device)
        for i, t in enumerate(terms):
            scale = self._centroid_scale(t)
            total += t.weight * (S[:, i] if scale is None else S[:, i] * scale)
        return torch.topk(total, min(nprobe, self.nlist)).indices

    def search(
        self,
        terms: Sequence[ScoreTerm],
        n: int,
        nprobe: int | None = None,
        mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(approximate scores, engine rows) of the best ``n`` rows in the probed clusters.

        ``mask`` (bool per engine row) leaves rows out (filters, deleted rows).
        """
        if not terms:
            raise ValueError("a search needs at least one score term")
        probes = self.probe(terms, nprobe or self.config.probes_for(self.nlist))
        R = torch.stack([t.query.float() for t in terms], dim=1)  # (d, m)
        blocks, row_blocks = [], []
        for li in probes.tolist():
            lst = self.lists[li]
            if lst.n:
                blocks.append(lst.vectors[: lst.n] @ R)
                row_blocks.append(lst.rows[: lst.n])
        if not blocks:
            empty = torch.zeros(0, device=self.centroids.device)
            return empty, empty.long()
        S, rows = torch.cat(blocks), torch.cat(row_blocks)  # (n_seen, m), (n_seen,)
        scores = torch.zeros(len(rows), device=S.device)
        for i, t in enumerate(terms):
            col = S[:, i] if t.row_norm is None else S[:, i] / t.row_norm[rows].float()
            scores += float(t.weight) * col
        if mask is not None:
            keep = mask[rows]
            scores, rows = scores[keep], rows[keep]
        top = torch.topk(scores, min(int(n), len(scores)))
        return top.values, rows[top.indices]

    def nbytes(self) -> int:
        """Memory held: centroids, each list's rows and vectors (capacity), the row map."""
        held = self.centroids.numel() * 4
        for lst in self.lists:
            held += lst.rows.numel() * 8 + lst.vectors.numel() * lst.vectors.element_size()
        return held + self._list_of.nbytes + self._slot_of.nbytes


def _nearest(X: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centroid (L2) of each row."""
    return torch.argmin((C * C).sum(1)[None, :] - 2.0 * (X @ C.T), dim=1)
