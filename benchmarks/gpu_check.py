"""GPU check: what a user meets on CUDA against the CPU of the same machine, in one run.

    python benchmarks/gpu_check.py --out results/            # CUDA and CPU, 100k and 1M rows
    python benchmarks/gpu_check.py --small --out results/    # a smoke run (20k rows)

Sections, each written to ``--out`` as soon as it is measured (a run cut short keeps them):

1. ``encode.json``: re-encoding rate of the real base encoder on real drug reviews, per device;
2. ``heads.json``: fitting heads (``lda_mix``, the default, and the trained ``mlp``) on
   encoded reviews, and materialising their views over 1M vectors with top-10, per device;
3. ``ann.json``: the approximate path on the CPU (``evaluation.ann_bench``): recall@10
   against the exact view, p50/p95, build time and memory per row, over 1M rows drawn from
   a Gaussian fitted to the encoded reviews, for the generic vectors, the default head, a
   plain ``lda`` head and blends (a GPU scans 1M rows exactly in about a millisecond, so
   the engine uses the index on the CPU only);
4. ``store-N.json``: the end-to-end Chroma benchmark (``evaluation.store_bench``) on one
   persistent collection filled once, measured with the engine on CUDA and then on the CPU
   (the CPU run answers from the approximate index from ``ann_min_rows`` rows on).

Store rows are drawn from a Gaussian fitted to the encoded reviews (embedding-shaped).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from gst_integrations.core.heads.training import fit_head  # noqa: E402
from gst_integrations.evaluation.bench import (  # noqa: E402
    machine_info,
    machine_line,
    measure_encode_rate,
    shared_encoder,
)
from gst_integrations.evaluation.store_bench import (  # noqa: E402
    bench_store,
    fill_collection,
    format_store_table,
    use_real_vectors,
)


def _save(out: Path, name: str, payload: Any) -> None:
    out.mkdir(parents=True, exist_ok=True)
    tmp = out / f".{name}.tmp"
    tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(out / name)
    print(f"--- {name}\n{json.dumps(payload, indent=1, default=str)}", flush=True)


def _sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def encode_rates(devices: list[str], n_texts: int) -> dict[str, Any]:
    """Reviews/s of the real base encoder on each device (the re-encoding baseline)."""
    return {dev: measure_encode_rate(n_texts, shared_encoder(dev)) for dev in devices}


def head_timings(devices: list[str], n_vectors: int) -> dict[str, Any]:
    """Fit time of each family on real encoded reviews, and a view of n_vectors + top-10."""
    from gst_integrations.evaluation.datasets import load_drug_reviews

    data = load_drug_reviews()
    X = shared_encoder("cpu").encode(data.texts)
    labels = data.facets["condition"]
    base = torch.nn.functional.normalize(torch.randn(n_vectors, X.shape[1]), dim=1)
    out: dict[str, Any] = {"reviews": len(labels), "view_rows": n_vectors}
    for dev in devices:
        for family in ("lda_mix", "mlp"):
            t = time.perf_counter()
            head = fit_head("Which condition is treated?", X, labels, family=family, device=dev)
            fit_s = time.perf_counter() - t
            on_dev = base.to(dev)
            head.transform_tensor(on_dev[:1000])  # warm-up
            _sync(dev)
            t = time.perf_counter()
            Z = head.transform_tensor(on_dev)
            _sync(dev)
            transform_s = time.perf_counter() - t
            q = Z[:100]
            t = time.perf_counter()
            for i in range(len(q)):
                torch.topk(Z @ q[i], 10)
            _sync(dev)
            topk_ms = (time.perf_counter() - t) / len(q) * 1e3
            out[f"{dev}/{family}"] = {
                "fit_s": fit_s,
                "out_dim": head.out_dim,
                "transform_s": transform_s,
                "top10_ms": topk_ms,
            }
            del on_dev, Z
    return out


def ann_check(n_rows: int, n_queries: int) -> dict[str, Any]:
    """The engine's approximate path on this machine's CPU over embedding-shaped rows, against
    the same engine's exact scan (``evaluation.ann_bench.engine_figures``)."""
    import numpy as np

    from gst_integrations.evaluation.ann_bench import engine_figures
    from gst_integrations.evaluation.datasets import load_drug_reviews
    from gst_integrations.evaluation.embedding_rows import EmbeddingRows

    X = shared_encoder("cpu").encode(load_drug_reviews(min_per_condition=1).texts)
    use_real_vectors(X, "real drug-review vectors")  # the store rows below, too
    data = load_drug_reviews()  # the 495 reviews of the 11 conditions with >= 15 each
    Xl = shared_encoder("cpu").encode(data.texts)
    labels = data.facets["condition"]
    heads = {
        family: fit_head("Which condition is treated?", Xl, labels, family=family, device="cpu")
        for family in ("lda_mix", "lda")
    }
    rows = EmbeddingRows(X, "real drug-review vectors")
    base = np.ascontiguousarray(rows(n_rows, seed=0), np.float32)
    queries = np.asarray(X[: min(n_queries, len(X))], np.float32)
    out = engine_figures(base, heads, queries, "cosine", candidates=(200,), dims=(192,))
    out["rows_from"] = rows.source
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--small", action="store_true", help="small sizes (smoke run)")
    p.add_argument("--sizes", default="", help="comma-separated store sizes")
    p.add_argument("--queries", type=int, default=200)
    p.add_argument("--out", default="gpu-check")
    args = p.parse_args(argv)
    out = Path(args.out)
    devices = (["cuda"] if torch.cuda.is_available() else []) + ["cpu"]
    sizes = (
        [int(s) for s in args.sizes.split(",")]
        if args.sizes
        else ([20_000] if args.small else [100_000, 1_000_000])
    )
    machines = {dev: machine_info(torch.device(dev)) for dev in devices}
    _save(out, "machine.json", {d: machine_line(m) for d, m in machines.items()})
    rates = encode_rates(devices, 64 if args.small else 1000)
    _save(out, "encode.json", rates)
    _save(out, "heads.json", head_timings(devices, 20_000 if args.small else 1_000_000))
    _save(out, "ann.json", ann_check(20_000 if args.small else 1_000_000, args.queries))
    for n in sizes:
        root = tempfile.mkdtemp(prefix=f"gst-gpu-check-{n}-")
        t = time.perf_counter()
        col = fill_collection(root, n)
        fill_s = time.perf_counter() - t
        rows = []
        for dev in devices:
            # The baseline a user of this device meets: re-encoding on the same device.
            r = bench_store(
                n, rates[dev]["per_second"], dev, n_queries=args.queries, collection=col
            )
            r["fill_s"] = fill_s
            rows.append(r)
            _save(out, f"store-{n}.json", rows)
            print(format_store_table([r], machine_line(machines[dev])), flush=True)
        del col
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
