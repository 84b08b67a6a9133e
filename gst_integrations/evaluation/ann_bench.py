"""Approximate search of every view on the CPU: recall against the exact view, latency,
build time and memory, on real and embedding-shaped vectors, through the engine itself.

Corpora: the GCIDE definitions embedded by the default encoder (real text, 178k; see
``evaluation.datasets.gcide``), and N rows drawn from a Gaussian fitted to those vectors
(``evaluation.embedding_rows``: the shape of real embeddings at any size, never isotropic
noise). Queries are held-out real definitions, absent from both corpora.

Views: heads fitted on 2,000 GCIDE definitions labelled with their subject field (the
default ``lda_mix`` and a plain ``lda``), the generic vectors and blends, under the engine's
default metric (cosine) and optionally "ip". For each, a ``ViewEngine`` over the rows
answers from its sketch (``core.views.sketch``: q·x estimated from int8 PCA coordinates,
the best candidates re-scored exactly) and, on the same engine with the approximate path
switched off, by the exact full scan: recall@10 of the first against the second, both
latencies, the sketch's build time and memory per row, across candidates and sketch sizes.
``--baselines`` adds the measured alternatives (``evaluation.ann_baselines``: an inverted
file, faiss HNSW, a bfloat16 full scan), which serve every linear view through the
rewritten query.

    python -m gst_integrations.evaluation.ann_bench --vectors V --rows R --out docs/bench
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.source import ArraySource
from gst_integrations.evaluation.ann_baselines import Part, measure
from gst_integrations.evaluation.embedding_rows import EmbeddingRows
from gst_integrations.evaluation.ivf_baseline import ANNConfig

#: The view specs measured: a name, the generic vectors, blends.
ENGINE_SPECS: dict[str, Any] = {
    "generic": None,
    "lda_mix (default)": "lda_mix",
    "lda": "lda",
    "blend lda_mix 0.6 + generic 0.4": {"lda_mix": 0.6, None: 0.4},
    "blend lda_mix 0.5 + lda 0.5": {"lda_mix": 0.5, "lda": 0.5},
    "blend lda_mix 0.5 + lda 0.3 + generic 0.2": {"lda_mix": 0.5, "lda": 0.3, None: 0.2},
}


def _pct(values: Sequence[float], p: float) -> float:
    return float(np.percentile(values, p) * 1e3)


def _paired_hits(
    engine: ViewEngine, view: Any, queries: np.ndarray, exact: dict[str, list] | None
) -> dict[str, list]:
    """Each query through the approximate path and, the first time, the exact scan right
    after it (the two latencies see the same load); later configurations reuse ``exact``."""
    out: dict[str, list] = {"got": [], "lat": [], "want": [], "exact_lat": []}
    for i, q in enumerate(queries):
        t = time.perf_counter()
        out["got"].append([h.id for h in engine.search_by_vector(q, view, k=10)])
        out["lat"].append(time.perf_counter() - t)
        if exact is not None:
            out["want"].append(exact["want"][i])
            out["exact_lat"].append(exact["exact_lat"][i])
            continue
        engine._approx.enabled = False
        t = time.perf_counter()
        out["want"].append([h.id for h in engine.search_by_vector(q, view, k=10)])
        out["exact_lat"].append(time.perf_counter() - t)
        engine._approx.enabled = True
    return out


def engine_figures(
    X: np.ndarray,
    heads: dict[str, Any],
    queries: np.ndarray,
    metric: str = "cosine",
    candidates: Sequence[int] = (100, 200, 400),
    dims: Sequence[int] = (128,),
) -> dict[str, Any]:
    """The engine's approximate path against its own exact scan, per view spec."""
    ids = [str(i) for i in range(len(X))]
    engine = ViewEngine(
        ArraySource(ids, X),
        dict(heads),
        encoder=None,
        device="cpu",
        metric=metric,
        ann="on",
        max_staleness=1e9,
        reconcile_every=1e9,
    )
    t = time.perf_counter()
    engine.refresh()  # reads the rows and builds every view
    load_s = time.perf_counter() - t
    out: dict[str, Any] = {"rows": len(X), "metric": metric, "load_s": load_s, "results": []}
    table = engine._rows.table
    exact: dict[str, dict[str, list]] = {}
    for k_dims in dims:
        table.sketch = None
        engine._approx.config = replace(engine._approx.config, dims=k_dims)
        t = time.perf_counter()
        engine._approx.ensure(table, engine._rows.refresh_lock, engine._rows.lock)
        build_s = time.perf_counter() - t
        per_row = table.sketch.nbytes() / len(X)
        for c in candidates:
            engine._approx.config = replace(engine._approx.config, candidates=c)
            for label, view in ENGINE_SPECS.items():
                r = _paired_hits(engine, view, queries, exact.get(label))
                exact.setdefault(label, r)
                recalls = [
                    len(set(a) & set(b)) / 10 for a, b in zip(r["got"], r["want"], strict=True)
                ]
                out["results"].append(
                    {
                        "spec": label,
                        "dims": k_dims,
                        "candidates": c,
                        "recall@10": float(np.mean(recalls)),
                        "worst": float(np.min(recalls)),
                        "p50_ms": _pct(r["lat"], 50),
                        "p95_ms": _pct(r["lat"], 95),
                        "exact_p50_ms": _pct(r["exact_lat"], 50),
                        "exact_p95_ms": _pct(r["exact_lat"], 95),
                        "build_s": build_s,
                        "bytes_per_row": per_row,
                    }
                )
    mem = engine.memory()
    out["memory_per_row"] = {k: v / len(X) for k, v in mem.items()}
    return out


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


def format_engine(corpus: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    for key in [k for k in corpus if k.startswith("engine")]:
        lines += _engine_table(corpus[key])
    return lines


def _engine_table(e: dict[str, Any]) -> list[str]:
    mem = ", ".join(f"{k} {v:,.0f} B" for k, v in e["memory_per_row"].items())
    lines = [
        f"Engine ({e['metric']}): rows read and views built in {e['load_s']:.1f} s; memory "
        f"per row: {mem}.",
        "",
        "| view | sketch dims | candidates | recall@10 | worst query | p50 / p95 "
        "| exact scan p50 / p95 | sketch build | sketch per row |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in e["results"]:
        lines.append(
            f"| {r['spec']} | {r['dims']} | {r['candidates']} | {r['recall@10']:.3f} "
            f"| {r['worst']:.1f} | {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms "
            f"| {r['exact_p50_ms']:.1f} / {r['exact_p95_ms']:.1f} ms | {r['build_s']:.1f} s "
            f"| {r['bytes_per_row']:,.0f} B |"
        )
    return lines + [""]


def format_baselines(corpus: dict[str, Any]) -> list[str]:
    b = corpus.get("baselines")
    if not b:
        return []
    lines = [
        "Baselines through the rewritten query (terms over the base vectors; per-row view "
        f"norms for the cosine views computed in {b['norms_s']:.1f} s):",
        "",
        "| index | view | metric | nlist / nprobe | candidates | recall@10 | worst "
        "| p50 / p95 | exact scan p50 | build | memory per row |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in b["results"]:
        probe = f"{r['nlist']} / {r['nprobe']}" if "nlist" in r else ""
        exact = f"{r['exact_p50_ms']:.1f} ms" if "exact_p50_ms" in r else ""
        lines.append(
            f"| {r['index']} | {r['spec']} | {r['metric']} | {probe} "
            f"| {r['candidates']} | {r['recall@10']:.3f} | {r['worst']:.1f} "
            f"| {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms | {exact} | {r['build_s']:.1f} s "
            f"| {r['bytes_per_row']:,.0f} B |"
        )
    return lines + [""]


def format_ann(out: dict[str, Any]) -> str:
    lines = [
        "# Approximate search: the engine's sketch against its exact scan",
        "",
        f"machine: {out['machine']}; generated by `make bench-ann` "
        "(`python -m gst_integrations.evaluation.ann_bench`). Recall@10 and latencies are "
        "paired: each query through the approximate path, then the same engine's exact scan.",
        "",
    ]
    for corpus in out["corpora"]:
        lines += [
            f"### {corpus['name']}: {corpus['rows']:,} rows, {corpus['queries']} held-out "
            f"real queries (load average {corpus['load']}, {corpus['seconds']:.0f} s)",
            "",
        ]
        lines += format_engine(corpus) + format_baselines(corpus)
    return "\n".join(lines)


def _load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def main(argv: Sequence[str] | None = None) -> None:
    import argparse
    import platform

    from gst_integrations.evaluation.recall_bench import fit_field_heads, load_corpus

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vectors", required=True)
    p.add_argument("--rows", required=True)
    p.add_argument("--sizes", default="real,1000000", help="'real' and/or Gaussian row counts")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--candidates", default="200", help="rows re-scored exactly (default 200)")
    p.add_argument("--dims", default="192", help="sketch dimensions (engine default 192)")
    p.add_argument("--metrics", default="cosine")
    p.add_argument("--baselines", action="store_true", help="also the inverted file, HNSW, bf16")
    p.add_argument("--probe-shares", default="0.02,0.05,0.1,0.2")
    p.add_argument("--heads-dir")
    p.add_argument("--out", help="directory for ann.md and ann.json")
    args = p.parse_args(argv)
    torch.set_grad_enabled(False)
    X_all, meta = load_corpus(args.vectors, args.rows)
    rng = np.random.default_rng(0)
    heads, held = fit_field_heads(X_all, meta, args.heads_dir, rng, device="cpu")
    rng = np.random.default_rng(1)
    qidx = rng.choice(held, args.queries, replace=False)
    queries = np.ascontiguousarray(X_all[qidx])
    keep = np.ones(len(X_all), bool)
    keep[qidx] = False  # queries are not in the corpora
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
        X = np.ascontiguousarray(X, np.float32)
        res: dict[str, Any] = {"name": name, "rows": len(X), "queries": len(queries)}
        for metric in args.metrics.split(","):
            key = "engine" if metric == "cosine" else f"engine-{metric}"
            res[key] = engine_figures(
                X,
                heads,
                queries,
                metric,
                [int(c) for c in args.candidates.split(",")],
                [int(d) for d in args.dims.split(",")],
            )
        if args.baselines:
            configs = [
                (ANNConfig(probe_share=float(ps)), 100) for ps in args.probe_shares.split(",")
            ]
            res["baselines"] = measure(
                torch.from_numpy(X),
                specs_of(heads),
                torch.from_numpy(queries),
                args.metrics.split(","),
                configs,
                hnsw=size == "real",
            )
        res.update(load=_load_average(), seconds=time.perf_counter() - t0)
        out["corpora"].append(res)
        print(format_ann({**out, "corpora": [res]}), flush=True)
        if args.out:
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / "ann.json").write_text(json.dumps(out, indent=1) + "\n")
            (Path(args.out) / "ann.md").write_text(format_ann(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
