"""Benchmarks for views over a vector store, printed as tables with the machine they ran on.

``gst bench`` runs ``store_bench`` for each size N (the protocol's speed measures, as a user
meets them: end to end from an embedded Chroma store, cold and warm, refreshes, queries with
a writer, memory per component), with the re-encoding rate measured on >= 500 real drug
reviews in the same run and extrapolated linearly. The store's rows are drawn from a Gaussian
fitted to real vectors (the GCIDE vectors given with ``--vectors``, else the reviews just
encoded), so that the engine's approximate path, on by default at this scale, is measured on
embedding-shaped data. Recall of every linear view through the approximate path on a real
100k+ corpus and 1M embedding-shaped rows is ``ann_bench``; the query-side path through a
store's own HNSW index is ``recall_bench``.
"""

from __future__ import annotations

import os
import platform
import time
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

import torch

from gst_integrations.core.device import resolve_device
from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.encoders.default import default_encoder
from gst_integrations.evaluation.store_bench import (
    bench_store,
    format_store_table,
    use_real_vectors,
)


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


@lru_cache(maxsize=2)
def shared_encoder(device: str = "cpu") -> CachedEncoder:
    """One cached real encoder per device for the whole run: no text is encoded twice."""
    return CachedEncoder(default_encoder(device))


def measure_encode_rate(n_texts: int = 500, encoder: Any = None) -> dict[str, float]:
    """Reviews/s of the real base encoder on ``n_texts`` real drug reviews.

    The texts are the 495 evaluation reviews first (topped up from the other conditions). Through
    a fresh ``CachedEncoder`` every text is a miss, so this times real encoding, and the
    vectors are then reused by the quality benchmarks instead of being encoded again.
    """

    texts = _review_texts(n_texts)
    enc = encoder if encoder is not None else shared_encoder()
    enc.base_encoder.encode(["warm-up text"])
    t = time.perf_counter()
    enc.encode(texts)
    dt = time.perf_counter() - t
    return {"texts": len(texts), "seconds": dt, "per_second": len(texts) / dt}


def _review_texts(n_texts: int) -> list[str]:
    from gst_integrations.evaluation.datasets import load_drug_reviews

    evalset = load_drug_reviews().texts
    extra = [t for t in load_drug_reviews(min_per_condition=1).texts if t not in set(evalset)]
    return (evalset + extra)[:n_texts]


def run_view_benchmarks(
    sizes: Sequence[int] = (100_000, 1_000_000),
    device: Any = "auto",
    encode_texts: int = 500,
    n_queries: int = 200,
    print_table: bool = True,
    vectors: str | None = None,
) -> dict[str, Any]:
    """Every store benchmark (``store_bench``) with the re-encoding baseline in the same run.

    ``vectors``: a ``.npy`` of real base vectors (e.g. the GCIDE corpus) to fit the rows'
    Gaussian on; default: the reviews encoded for the re-encoding rate.
    """
    dev = resolve_device(device)
    t0 = time.perf_counter()
    out: dict[str, Any] = {"machine": machine_info(dev)}
    # The base encoder runs on the CPU here (like the re-encoding users would do on this
    # machine); on a CUDA machine gpu_check.py times the switch against a CPU re-encode too.
    out["encode"] = dict(measure_encode_rate(encode_texts))
    rate = out["encode"]["per_second"]
    if vectors:
        import numpy as np

        use_real_vectors(np.load(vectors, mmap_mode="r")[:200_000], f"real vectors ({vectors})")
    else:
        texts = _review_texts(max(encode_texts, 500))  # >= 500 rows for a 384-d covariance
        use_real_vectors(shared_encoder().encode(texts), "real drug-review vectors")
    out["store"] = [bench_store(n, rate, str(dev), n_queries=n_queries) for n in sizes]
    out["total_s"] = time.perf_counter() - t0
    if print_table:
        print(format_table(out))
    return out


def machine_line(m: dict[str, Any]) -> str:
    return (
        f"{m['cpu_count']} CPU cores, torch threads {m['torch_threads']}, device "
        f"{m['device']}{' (' + m['gpu'] + ')' if 'gpu' in m else ''}, torch {m['torch']}, "
        f"{m['processor']}"
    )


def format_table(out: dict[str, Any]) -> str:
    enc = out["encode"]
    lines = [
        f"machine: {machine_line(out['machine'])}",
        f"re-encoding rate: {enc['per_second']:.1f} reviews/s measured on {enc['texts']} real "
        "drug reviews (all-MiniLM-L6-v2 on the CPU); re-encode times are extrapolated "
        "linearly",
        "",
        format_store_table(out["store"], "the machine above"),
        f"\ntotal benchmark time {out['total_s']:.0f} s",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Benchmarks of views over a vector store")
    p.add_argument("--device", default="auto")
    p.add_argument("--small", action="store_true", help="tiny sizes: a smoke run")
    p.add_argument("--sizes", default="100000,1000000")
    p.add_argument("--vectors", help=".npy of real base vectors for the rows' Gaussian")
    args = p.parse_args(argv)
    if args.small:
        run_view_benchmarks(
            sizes=(20_000,),
            device=args.device,
            encode_texts=64,
            n_queries=20,
            vectors=args.vectors,
        )
    else:
        sizes = tuple(int(x) for x in args.sizes.split(","))
        run_view_benchmarks(sizes=sizes, device=args.device, vectors=args.vectors)


if __name__ == "__main__":
    main()
