"""Approximate search for every linear view on the CPU: recall against the exact view,
latency, build time and memory, on embedding-shaped vectors.

Corpora: the GCIDE definitions embedded by the default encoder (real text, 100k+; see
``evaluation.datasets.gcide``), and N rows drawn from a Gaussian fitted to those vectors
(their mean and covariance, rows scaled to unit length as the encoder's are): the shape
of real embeddings at any size, never isotropic noise. Queries are held-out real
definitions, absent from both corpora.

Views: heads fitted on GCIDE definitions labelled with their subject field (the default
``lda_mix`` and a plain ``lda``), the generic vectors, and blends, each under the engine's
default metric (cosine) and "ip". The exact answer is the full scan of every row with the
view's own score; the approximate one is ``core.views.ann.IVFIndex`` (probe, scan, then an
exact re-rank of the candidates on the full-precision base rows). Baselines in the same run:
the exact full scan, a bf16 full scan with the same re-rank, and a graph index (faiss
HNSW over the base vectors, searched with the rewritten query) where faiss is installed.

    python -m gst_integrations.evaluation.ann_bench --vectors V --rows R --out docs/bench
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gst_integrations.core.views.ann import ANNConfig, IVFIndex, ScoreTerm
from gst_integrations.evaluation.embedding_rows import EmbeddingRows


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


def fit_field_heads(
    X: np.ndarray, meta: list[dict[str, Any]], heads_dir: str | None, seed: int = 0
) -> tuple[dict[str, Any], np.ndarray]:
    """The recall benchmark's heads (subject field, 2,000 labelled definitions, ``lda_mix``
    and ``lda``; reused from ``heads_dir``) and the held-out labelled rows."""
    from gst_integrations.core.heads.head import load_head
    from gst_integrations.core.heads.training import fit_head

    fields = [m.get("field") for m in meta]
    counts: dict[str, int] = {}
    for f in fields:
        if f:
            counts[f] = counts.get(f, 0) + 1
    top = {f for f, _ in sorted(counts.items(), key=lambda kv: -kv[1])[:8]}
    labelled = [i for i, f in enumerate(fields) if f in top]
    perm = np.random.default_rng(seed).permutation(labelled)
    guide, held = perm[:2000], perm[2000:]
    heads = {}
    for family in ("lda_mix", "lda"):
        path = Path(heads_dir) / f"field-{family}.safetensors" if heads_dir else None
        if path is not None and path.exists():
            heads[family] = load_head(path, device="cpu")
            continue
        heads[family] = fit_head(
            "Which subject field is this definition from?",
            X[guide],
            [fields[i] for i in guide],
            encoder="default",
            family=family,
            device="cpu",
        )
        if path is not None:
            heads[family].save(path)
    return heads, held


def specs_of(heads: dict[str, Any]) -> dict[str, list[Part]]:
    W = {name: torch.from_numpy(np.asarray(h.weight, np.float32)) for name, h in heads.items()}
    return {
        "generic": [Part("generic", None, 1.0)],
        "lda_mix (default)": [Part("lda_mix", W["lda_mix"], 1.0)],
        "lda": [Part("lda", W["lda"], 1.0)],
        "blend lda_mix 0.6 + generic 0.4": [
            Part("lda_mix", W["lda_mix"], 0.6),
            Part("generic", None, 0.4),
        ],
        "blend lda_mix 0.5 + lda 0.5": [
            Part("lda_mix", W["lda_mix"], 0.5),
            Part("lda", W["lda"], 0.5),
        ],
    }


def format_ann(out: dict[str, Any]) -> str:
    lines = [f"machine: {out['machine']}", ""]
    for corpus in out["corpora"]:
        lines += [
            f"### {corpus['name']}: {corpus['rows']:,} rows, {corpus['queries']} held-out "
            f"real queries (load average {corpus['load']})",
            "",
            f"Per-row view norms for the cosine views: {corpus['norms_s']:.1f} s for every head.",
            "",
            "| index | view | metric | nlist / nprobe | candidates | recall@10 | worst "
            "| p50 / p95 | exact scan p50 | build | memory per row |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for r in corpus["results"]:
            probe = f"{r['nlist']} / {r['nprobe']}" if "nlist" in r else ""
            exact = f"{r['exact_p50_ms']:.1f} ms" if "exact_p50_ms" in r else ""
            lines.append(
                f"| {r['index']} | {r['spec']} | {r['metric']} | {probe} "
                f"| {r['candidates']} | {r['recall@10']:.3f} | {r['worst']:.1f} "
                f"| {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms | {exact} | {r['build_s']:.1f} s "
                f"| {r['bytes_per_row']:,.0f} B |"
            )
        lines.append("")
    return "\n".join(lines)


def _load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import platform

    from gst_integrations.evaluation.recall_bench import load_corpus

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vectors", required=True)
    p.add_argument("--rows", required=True)
    p.add_argument("--sizes", default="real,1000000", help="'real' and/or Gaussian row counts")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--probe-shares", default="0.02,0.04,0.08")
    p.add_argument("--nlists", default="auto", help="'auto' and/or numbers")
    p.add_argument("--candidates", type=int, default=100)
    p.add_argument("--metrics", default="cosine,ip")
    p.add_argument("--no-hnsw", action="store_true")
    p.add_argument("--heads-dir")
    p.add_argument("--out", help="directory for ann.md and ann.json")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    X_all, meta = load_corpus(args.vectors, args.rows)
    heads, held = fit_field_heads(X_all, meta, args.heads_dir)
    rng = np.random.default_rng(1)
    qidx = rng.choice(held, args.queries, replace=False)
    queries = torch.from_numpy(X_all[qidx])
    keep = np.ones(len(X_all), bool)
    keep[qidx] = False  # queries are not in the corpora
    specs = specs_of(heads)
    metrics = args.metrics.split(",")
    configs = [
        (
            ANNConfig(nlist=None if nl == "auto" else int(nl), probe_share=float(ps)),
            args.candidates,
        )
        for nl in args.nlists.split(",")
        for ps in args.probe_shares.split(",")
    ]
    out: dict[str, Any] = {
        "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}",
        "corpora": [],
    }
    for size in args.sizes.split(","):
        t0 = time.perf_counter()
        if size == "real":
            X, name = X_all[keep], "GCIDE definitions (real, all-MiniLM-L6-v2)"
        else:
            X = EmbeddingRows(X_all[keep], "GCIDE vectors")(int(size), seed=0)
            name = f"{int(size):,} rows from a Gaussian fitted to the GCIDE vectors"
        res = measure(
            torch.from_numpy(np.ascontiguousarray(X)),
            specs,
            queries,
            metrics,
            configs,
            hnsw=not args.no_hnsw and size == "real",
        )
        res.update(name=name, load=_load_average(), seconds=time.perf_counter() - t0)
        out["corpora"].append(res)
        print(format_ann({**out, "corpora": [res]}), flush=True)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "ann.json").write_text(json.dumps(out, indent=1) + "\n")
            (Path(args.out) / "ann.md").write_text(format_ann(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
