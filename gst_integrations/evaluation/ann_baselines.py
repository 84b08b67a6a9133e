"""Baselines of the approximate-search benchmark, each serving every linear view and blend
through the rewritten query (a view's score as terms over the base vectors):

* an inverted file over the base vectors (``evaluation.ivf_baseline``), probed with the
  view's own score and scanned exactly;
* a graph index (faiss HNSW over the base vectors, where faiss is installed), searched with
  one combined inner-product query, candidates re-scored exactly;
* a quantised full scan (every row in bfloat16), candidates re-scored exactly.

Each is measured against the exact view: recall@10, p50/p95, build time, memory per row.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from gst_integrations.evaluation.ivf_baseline import ANNConfig, IVFIndex, ScoreTerm


@dataclass
class Part:
    """One view of a query spec: W (None: generic) and its weight."""

    name: str
    W: torch.Tensor | None
    weight: float


def row_norms(X: torch.Tensor, W: torch.Tensor | None, chunk: int = 131072) -> torch.Tensor:
    """|W x| (or |x| for the generic vectors) of every row."""
    out = torch.empty(len(X))
    for s in range(0, len(X), chunk):
        B = X[s : s + chunk]
        out[s : s + len(B)] = (B if W is None else B @ W.T).norm(dim=1)
    return out.clamp_min(1e-12)


def terms_for(
    parts: Sequence[Part], q: torch.Tensor, metric: str, norms: dict[str, torch.Tensor]
) -> list[ScoreTerm]:
    """The score terms of a query: rewritten queries, weights, per-row norms for cosine."""
    terms = []
    for p in parts:
        if p.W is None:  # the generic vectors: cosine
            r, cosine = q / q.norm().clamp_min(1e-12), True
            norm_of: Callable[[torch.Tensor], torch.Tensor] = lambda M: M.norm(dim=1)  # noqa: E731
        else:
            wq = p.W @ q
            r, cosine = p.W.T @ wq, metric == "cosine"
            if cosine:
                r = r / wq.norm().clamp_min(1e-12)
            norm_of = lambda M, W=p.W: (M @ W.T).norm(dim=1)  # noqa: E731
        terms.append(
            ScoreTerm(
                r,
                p.weight,
                row_norm=norms[p.name] if cosine else None,
                norm_of=norm_of if cosine else None,
                key=(p.name, cosine),
            )
        )
    return terms


def exact_scores(X: torch.Tensor, terms: Sequence[ScoreTerm], rows: Any = None) -> torch.Tensor:
    """The view's exact scores of every row (or of ``rows``) in float32."""
    B = X if rows is None else X[rows]
    s = torch.zeros(len(B))
    for t in terms:
        col = B @ t.query
        if t.row_norm is not None:
            col = col / (t.row_norm if rows is None else t.row_norm[rows])
        s += t.weight * col
    return s


def _pct(values: Sequence[float], p: float) -> float:
    return float(np.percentile(values, p) * 1e3)


def _recall(got: Sequence[int], want: Sequence[int]) -> float:
    return len(set(got) & set(want)) / len(want)


def measure(
    X: torch.Tensor,
    specs: dict[str, list[Part]],
    queries: torch.Tensor,
    metrics: Sequence[str],
    configs: Sequence[tuple[ANNConfig, int]],
    k: int = 10,
    hnsw: bool = True,
) -> dict[str, Any]:
    """Every figure for one corpus; ``configs``: (index options, candidates re-ranked)."""
    out: dict[str, Any] = {"rows": len(X), "queries": len(queries), "results": []}
    names = {p.name: p.W for parts in specs.values() for p in parts}
    t = time.perf_counter()
    norms = {name: row_norms(X, W) for name, W in names.items()}
    out["norms_s"] = time.perf_counter() - t
    exact: dict[tuple[str, str], list[list[int]]] = {}
    exact_lat: dict[tuple[str, str], list[float]] = {}
    for spec, parts in specs.items():
        for metric in metrics:
            tops, lat = [], []
            for q in queries:
                t = time.perf_counter()
                s = exact_scores(X, terms_for(parts, q, metric, norms))
                tops.append(torch.topk(s, k).indices.tolist())
                lat.append(time.perf_counter() - t)
            exact[spec, metric], exact_lat[spec, metric] = tops, lat
    built: dict[tuple[Any, ...], tuple[IVFIndex, float]] = {}
    for config, n_cand in configs:
        key = (config.nlist, config.seed, config.train_per_list, config.iterations)
        if key not in built:
            t = time.perf_counter()
            built[key] = (IVFIndex.build(X, np.arange(len(X)), config), time.perf_counter() - t)
        index, build_s = built[key]
        nprobe = config.probes_for(index.nlist)
        for spec, parts in specs.items():
            for metric in metrics:
                recalls, lat = [], []
                for qi, q in enumerate(queries):
                    t = time.perf_counter()
                    terms = terms_for(parts, q, metric, norms)
                    _, cand = index.search(terms, n_cand, nprobe=nprobe)
                    s = exact_scores(X, terms, cand)  # exact re-rank on the base rows
                    top = cand[torch.topk(s, min(k, len(s))).indices].tolist()
                    lat.append(time.perf_counter() - t)
                    recalls.append(_recall(top, exact[spec, metric][qi]))
                out["results"].append(
                    {
                        "index": "ivf",
                        "spec": spec,
                        "metric": metric,
                        "nlist": index.nlist,
                        "nprobe": nprobe,
                        "candidates": n_cand,
                        "recall@10": float(np.mean(recalls)),
                        "worst": float(np.min(recalls)),
                        "p50_ms": _pct(lat, 50),
                        "p95_ms": _pct(lat, 95),
                        "exact_p50_ms": _pct(exact_lat[spec, metric], 50),
                        "exact_p95_ms": _pct(exact_lat[spec, metric], 95),
                        "build_s": build_s,
                        "bytes_per_row": index.nbytes() / len(X),
                    }
                )
    out["results"] += _full_scan_bf16(X, specs, queries, metrics, norms, exact, k)
    if hnsw:
        out["results"] += _hnsw(X, specs, queries, metrics, norms, exact, k)
    return out


def _full_scan_bf16(X, specs, queries, metrics, norms, exact, k, n_cand=100) -> list[dict]:
    """A quantised two-stage scan: every row in bf16, then the same exact re-rank."""
    Xb = X.bfloat16()
    res = []
    for spec, parts in specs.items():
        for metric in metrics:
            recalls, lat = [], []
            for qi, q in enumerate(queries):
                t = time.perf_counter()
                terms = terms_for(parts, q, metric, norms)
                R = torch.stack([tm.query for tm in terms], 1).bfloat16()
                S = (Xb @ R).float()
                s = torch.zeros(len(X))
                for i, tm in enumerate(terms):
                    col = S[:, i] if tm.row_norm is None else S[:, i] / tm.row_norm
                    s += tm.weight * col
                cand = torch.topk(s, n_cand).indices
                top = cand[torch.topk(exact_scores(X, terms, cand), k).indices].tolist()
                lat.append(time.perf_counter() - t)
                recalls.append(_recall(top, exact[spec, metric][qi]))
            res.append(
                {
                    "index": "bf16 full scan",
                    "spec": spec,
                    "metric": metric,
                    "candidates": n_cand,
                    "recall@10": float(np.mean(recalls)),
                    "worst": float(np.min(recalls)),
                    "p50_ms": _pct(lat, 50),
                    "p95_ms": _pct(lat, 95),
                    "build_s": 0.0,
                    "bytes_per_row": 2 * X.shape[1],
                }
            )
    return res


def _hnsw(X, specs, queries, metrics, norms, exact, k, efs=(64, 256), m=32) -> list[dict]:
    """faiss HNSW over the base vectors, searched with the rewritten query (one combined
    inner-product query: exact for "ip" views and the generic vectors, not for cosine
    views), candidates re-ranked exactly."""
    try:
        import faiss
    except ImportError:
        return []
    t = time.perf_counter()
    index = faiss.IndexHNSWFlat(X.shape[1], m, faiss.METRIC_INNER_PRODUCT)
    index.hnsw.efConstruction = 64
    index.add(np.ascontiguousarray(X.numpy()))
    build_s = time.perf_counter() - t
    res = []
    for ef in efs:
        index.hnsw.efSearch = ef
        for spec, parts in specs.items():
            for metric in metrics:
                recalls, lat = [], []
                for qi, q in enumerate(queries):
                    t = time.perf_counter()
                    terms = terms_for(parts, q, metric, norms)
                    r = sum(tm.weight * tm.query for tm in terms)
                    _, cand = index.search(r.numpy()[None, :].astype(np.float32), ef)
                    cand_t = torch.from_numpy(cand[0][cand[0] >= 0])
                    s = exact_scores(X, terms, cand_t)
                    top = cand_t[torch.topk(s, min(k, len(s))).indices].tolist()
                    lat.append(time.perf_counter() - t)
                    recalls.append(_recall(top, exact[spec, metric][qi]))
                res.append(
                    {
                        "index": f"hnsw M={m} ef={ef}",
                        "spec": spec,
                        "metric": metric,
                        "candidates": ef,
                        "recall@10": float(np.mean(recalls)),
                        "worst": float(np.min(recalls)),
                        "p50_ms": _pct(lat, 50),
                        "p95_ms": _pct(lat, 95),
                        "build_s": build_s,
                        "bytes_per_row": (X.shape[1] * 4 + m * 2 * 4 * 1.1),
                    }
                )
    return res
