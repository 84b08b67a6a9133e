"""Benchmarks for views over a vector store, printed as a table with the machine they ran on.

Figures (EVAL.md "Speed"):
* view switch: transforming N cached base vectors with a fitted head, against re-encoding N
  reviews. The re-encoding rate is measured on >= 500 real drug reviews with the real
  encoder and extrapolated linearly to N (printed as such);
* query latency p50 / p95 of exact top-10 over an N-vector view (matmul + topk);
* memory per view;
* Chroma page-read throughput (``ChromaSource.iter_pages``) and view materialisation from it;
* the query-side path (linear heads): latency and recall@10 against the exact materialised
  view, on drug reviews and BBC News, with heads fitted on a 30% labelled sample.
Random vectors are used for speed only; every quality figure uses real texts.
"""

from __future__ import annotations

import os
import platform
import tempfile
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import torch

from gst_integrations.core.device import resolve_device
from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.encoders.default import default_encoder
from gst_integrations.core.heads.training import fit_head
from gst_integrations.core.search.query_side import QuerySideSearcher, array_search_base
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.index import ViewIndex
from gst_integrations.core.views.source import ArraySource


def machine_info(device: torch.device) -> dict[str, Any]:
    info = {
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "device": str(device),
        "torch": torch.__version__,
        "python": platform.python_version(),
        "processor": platform.processor() or platform.machine(),
    }
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _unit_random(n: int, d: int, seed: int, device: torch.device) -> torch.Tensor:
    g = torch.Generator(device="cpu").manual_seed(seed)
    out = torch.empty((n, d), dtype=torch.float32, device=device)
    for s in range(0, n, 250_000):  # bounded temporaries
        chunk = torch.randn((min(250_000, n - s), d), generator=g)
        out[s : s + len(chunk)] = torch.nn.functional.normalize(chunk, dim=1).to(device)
    return out


@lru_cache(maxsize=2)
def shared_encoder(device: str = "cpu") -> CachedEncoder:
    """One cached real encoder per device for the whole run: no text is encoded twice."""
    return CachedEncoder(default_encoder(device))


def measure_encode_rate(n_texts: int = 500, encoder: Any = None) -> dict[str, float]:
    """Reviews/s of the real base encoder on ``n_texts`` real drug reviews.

    The texts are the EVAL.md reviews first (topped up from the other conditions). Through
    a fresh ``CachedEncoder`` every text is a miss, so this times real encoding, and the
    vectors are then reused by the quality benchmarks instead of being encoded again.
    """
    from gst_integrations.evaluation.datasets import load_drug_reviews

    evalset = load_drug_reviews().texts
    extra = [t for t in load_drug_reviews(min_per_condition=1).texts if t not in set(evalset)]
    texts = (evalset + extra)[:n_texts]
    enc = encoder if encoder is not None else shared_encoder()
    enc.base_encoder.encode(["warm-up text"])
    t = time.perf_counter()
    enc.encode(texts)
    dt = time.perf_counter() - t
    return {"texts": len(texts), "seconds": dt, "per_second": len(texts) / dt}


def _fit_real_head(family: str = "lda", encoder: Any = None) -> Any:
    """A head fitted on real drug-review vectors (so its shape and cost are realistic)."""
    from gst_integrations.evaluation.datasets import load_drug_reviews

    corpus = load_drug_reviews()
    X = (encoder if encoder is not None else shared_encoder()).encode(corpus.texts[:300])
    return fit_head(
        "which condition?",
        X,
        corpus.facets["condition"][:300],
        device="cpu",
        family=family,
        **({"max_epochs": 30} if family != "lda" else {}),
    )


def bench_switch_and_query(
    sizes: Sequence[int],
    heads: dict[str, Any],
    encode_rate: float,
    device: torch.device,
    n_queries: int = 100,
    k: int = 10,
) -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        X = _unit_random(n, 384, seed=n, device=device)
        for family, head in heads.items():
            head.to(device)
            head.transform_tensor(X[:1000])  # warm-up
            _sync(device)
            t = time.perf_counter()
            Z = head.transform_tensor(X)
            _sync(device)
            switch = time.perf_counter() - t
            reencode = n / encode_rate
            row = {
                "n": n,
                "head": f"{family} {head.in_dim}->{head.out_dim}",
                "switch_s": switch,
                "reencode_s": reencode,
                "ratio": reencode / switch,
            }
            if family == next(iter(heads)):  # query latency on the first head's view
                for dtype in (torch.float32, torch.bfloat16):
                    ix = ViewIndex(Z.shape[1], "cosine", device, dtype=dtype)
                    ix.add([str(i) for i in range(n)] if n <= 100_000 else _range_ids(n), Z)
                    qs = torch.nn.functional.normalize(
                        torch.randn(
                            n_queries, Z.shape[1], generator=torch.Generator().manual_seed(1)
                        ),
                        dim=1,
                    ).to(device)
                    for q in qs[:5]:
                        ix.search(q, k)
                    lat = []
                    for q in qs:
                        t = time.perf_counter()
                        s, r = ix.search(q, k)
                        r.cpu()
                        lat.append(time.perf_counter() - t)
                    name = "f32" if dtype == torch.float32 else "bf16"
                    row[f"p50_ms_{name}"] = 1e3 * float(np.percentile(lat, 50))
                    row[f"p95_ms_{name}"] = 1e3 * float(np.percentile(lat, 95))
                    row[f"mem_mb_{name}"] = n * Z.shape[1] * ix.matrix.element_size() / 2**20
                    del ix
            rows.append(row)
            del Z
        del X
    return rows


def _range_ids(n: int) -> list[str]:
    return list(map(str, range(n)))


def bench_chroma(n_rows: int = 10_000, page_size: int = 1000, head: Any = None) -> dict[str, Any]:
    """Page-read throughput of ChromaSource, and a view materialised from it."""
    from gst_integrations.stores.chroma import ChromaSource, chroma_client

    X = _unit_random(n_rows, 384, seed=7, device=torch.device("cpu")).numpy()
    with tempfile.TemporaryDirectory() as tmp:
        client = chroma_client(tmp)
        col = client.get_or_create_collection("bench", embedding_function=None)
        t = time.perf_counter()
        bs = 5000
        for s in range(0, n_rows, bs):
            col.add(
                ids=[f"d{i}" for i in range(s, min(s + bs, n_rows))],
                embeddings=X[s : s + bs],
                metadatas=[{"g": i % 7} for i in range(s, min(s + bs, n_rows))],
                documents=[f"doc {i}" for i in range(s, min(s + bs, n_rows))],
            )
        insert = time.perf_counter() - t
        src = ChromaSource(col)
        t = time.perf_counter()
        n = sum(len(p) for p in src.iter_pages(page_size))
        read = time.perf_counter() - t
        out = {"rows": n, "insert_s": insert, "read_s": read, "read_rows_per_s": n / read}
        if head is not None:
            eng = ViewEngine(src, {"v": head}, device="cpu", page_size=page_size)
            t = time.perf_counter()
            eng.refresh("v")
            out["materialise_rows_per_s"] = n / (time.perf_counter() - t)
            col.add(ids=["new"], embeddings=X[:1], documents=["new"])
            t = time.perf_counter()
            stats = eng.refresh("v")
            out["incremental_refresh_s"] = time.perf_counter() - t
            out["incremental_added"] = stats.added
    return out


def bench_query_side(
    datasets: Sequence[str] = ("drug-reviews", "bbc-news"),
    bbc_limit: int = 200,
    guide_fraction: float = 0.3,
    n_queries: int = 100,
    k: int = 10,
    overfetch: Sequence[int] = (1, 4, 10),
    families: Sequence[str] = ("lda", "linear"),
    encoder: Any = None,
) -> list[dict[str, Any]]:
    """Recall@k and latency of the query-side path against the exact materialised view."""
    from gst_integrations.evaluation.datasets import load_bbc_news, load_drug_reviews

    enc = encoder if encoder is not None else shared_encoder()
    rows = []
    for name in datasets:
        corpus = load_drug_reviews() if name == "drug-reviews" else load_bbc_news(limit=bbc_limit)
        facet = "condition" if name == "drug-reviews" else "topic"
        X = enc.encode(corpus.texts)
        rng = np.random.default_rng(0)
        perm = rng.permutation(len(X))
        n_guide = int(round(guide_fraction * len(X)))
        guide, rest = perm[:n_guide], perm[n_guide:]
        labels = [corpus.facets[facet][i] for i in guide]
        ids = [corpus.ids[i] for i in rest]
        Xr = X[rest]
        queries = Xr[rng.choice(len(rest), min(n_queries, len(rest)), replace=False)]
        for family in families:
            opts = {"max_epochs": 100} if family != "lda" else {}
            head = fit_head(
                f"which {facet}?", X[guide], labels, device="cpu", family=family, **opts
            )
            for metric in ("ip", "cosine"):
                eng = ViewEngine(ArraySource(ids, Xr), {"v": head}, device="cpu", metric=metric)
                exact = [[h.id for h in eng.search_by_vector(q, "v", k)] for q in queries]
                for over in overfetch if metric == "cosine" else (1,):
                    qs = QuerySideSearcher(head, array_search_base(ids, Xr), metric, over)
                    t = time.perf_counter()
                    got = [[h.id for h in qs.search(q, k)] for q in queries]
                    lat = (time.perf_counter() - t) / len(queries)
                    recall = float(
                        np.mean([len(set(a) & set(b)) / k for a, b in zip(exact, got, strict=True)])
                    )
                    rows.append(
                        {
                            "dataset": f"{name} ({len(rest)} held-out docs)",
                            "head": f"{family} z={head.out_dim}",
                            "metric": metric,
                            "overfetch": over,
                            "recall@10": recall,
                            "ms_per_query": 1e3 * lat,
                        }
                    )
    return rows


def run_view_benchmarks(
    sizes: Sequence[int] = (100_000, 1_000_000),
    device: Any = "auto",
    encode_texts: int = 500,
    chroma_rows: int = 10_000,
    quality: bool = True,
    bbc_limit: int = 200,
    n_queries: int = 100,
    print_table: bool = True,
) -> dict[str, Any]:
    """Run every view benchmark and print the table; returns the figures as a dict."""
    dev = resolve_device(device)
    t0 = time.perf_counter()
    out: dict[str, Any] = {"machine": machine_info(dev)}
    # The base encoder runs on the CPU here (like the re-encoding users would do on this
    # machine); on a CUDA machine gpu_check.py times the switch against a CPU re-encode too.
    out["encode"] = dict(measure_encode_rate(encode_texts))
    heads = {"lda": _fit_real_head("lda"), "mlp": _fit_real_head("mlp")}
    out["switch_query"] = bench_switch_and_query(
        sizes, heads, out["encode"]["per_second"], dev, n_queries=n_queries
    )
    out["chroma"] = bench_chroma(chroma_rows, head=heads["lda"]) if chroma_rows else None
    out["query_side"] = bench_query_side(bbc_limit=bbc_limit) if quality else []
    out["total_s"] = time.perf_counter() - t0
    if print_table:
        print(format_table(out))
    return out


def format_table(out: dict[str, Any]) -> str:
    m = out["machine"]
    enc = out["encode"]
    lines = [
        f"machine: {m['cpu_count']} CPU cores, torch threads {m['torch_threads']}, device "
        f"{m['device']}{' (' + m['gpu'] + ')' if 'gpu' in m else ''}, torch {m['torch']}, "
        f"{m['processor']}",
        f"re-encoding rate: {enc['per_second']:.1f} reviews/s measured on {enc['texts']} real "
        f"drug reviews (all-MiniLM-L6-v2 on the CPU); re-encode times below "
        "are extrapolated linearly",
        "",
        "| N | head | view switch (s) | re-encode N (s, extrap.) | ratio "
        "| query p50 / p95 (ms) f32 | p50 / p95 bf16 | memory/view f32 (MB) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in out["switch_query"]:
        q = (
            f"{r['p50_ms_f32']:.1f} / {r['p95_ms_f32']:.1f} | {r['p50_ms_bf16']:.1f} / "
            f"{r['p95_ms_bf16']:.1f} | {r['mem_mb_f32']:.0f}"
            if "p50_ms_f32" in r
            else "- | - | -"
        )
        lines.append(
            f"| {r['n']:,} | {r['head']} | {r['switch_s']:.3f} | {r['reencode_s']:,.0f} | "
            f"{r['ratio']:,.0f}x | {q} |"
        )
    c = out.get("chroma")
    if c:
        lines += [
            "",
            f"Chroma (embedded) page reads: {c['rows']:,} rows in {c['read_s']:.2f} s = "
            f"{c['read_rows_per_s']:,.0f} rows/s (page 1000, embeddings+metadata+documents); "
            f"view materialised from Chroma at {c.get('materialise_rows_per_s', 0):,.0f} rows/s; "
            f"incremental refresh of 1 new doc in {c.get('incremental_refresh_s', 0):.2f} s",
        ]
    if out.get("query_side"):
        lines += [
            "",
            "| dataset | head | metric | overfetch | recall@10 vs materialised "
            "| ms/query (exact base) |",
            "|---|---|---|---|---|---|",
        ]
        for r in out["query_side"]:
            lines.append(
                f"| {r['dataset']} | {r['head']} | {r['metric']} | {r['overfetch']} | "
                f"{r['recall@10']:.3f} | {r['ms_per_query']:.2f} |"
            )
    lines.append(f"\ntotal benchmark time {out['total_s']:.0f} s")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Benchmarks of views over a vector store")
    p.add_argument("--device", default="auto")
    p.add_argument("--small", action="store_true", help="tiny sizes: a smoke run")
    args = p.parse_args(argv)
    if args.small:
        run_view_benchmarks(
            sizes=(20_000,),
            device=args.device,
            encode_texts=64,
            chroma_rows=2000,
            bbc_limit=100,
            n_queries=20,
        )
    else:
        run_view_benchmarks(device=args.device)


if __name__ == "__main__":
    main()
