"""GPU check: the view benchmarks on CUDA and on the CPU in one run, for a side-by-side table.

    python benchmarks/gpu_check.py                 # CUDA (when available) then CPU
    python benchmarks/gpu_check.py --device cpu --small   # a CPU-only smoke run

Runs in a few minutes: the sizes default to 100k and 1M vectors, the Chroma and quality
sections are run once (on the CPU) since they do not depend on the device.
"""

from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402

from gst_integrations.evaluation.bench import (
    format_table,
    measure_encode_rate,
    run_view_benchmarks,
    shared_encoder,
)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--device",
        choices=["auto", "cuda", "cpu"],
        default="auto",
        help="auto/cuda: CUDA then CPU; cpu: the CPU only",
    )
    p.add_argument("--small", action="store_true", help="small sizes (smoke run)")
    args = p.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("CUDA is not available on this machine", file=sys.stderr)
        return 2
    devices = ["cpu"]
    if args.device != "cpu" and torch.cuda.is_available():
        devices = ["cuda", "cpu"]
    sizes = (20_000,) if args.small else (100_000, 1_000_000)
    for dev in devices:
        out = run_view_benchmarks(
            sizes=sizes,
            device=dev,
            encode_texts=64 if args.small else 500,
            n_queries=20 if args.small else 200,
            print_table=False,
        )
        print(f"\n=== device {dev} ===")
        print(format_table(out))
        if dev == "cuda":  # a fair ratio on a GPU machine: re-encoding on the GPU too
            gpu = measure_encode_rate(64 if args.small else 500, shared_encoder("cuda"))
            print(
                f"re-encoding on cuda: {gpu['per_second']:.0f} reviews/s (measured on "
                f"{gpu['texts']} real reviews, extrapolated linearly)"
            )
            for r in out["store"]:
                ratio = r["n"] / gpu["per_second"] / r["warm_switch_s"]
                print(
                    f"  N={r['n']:,}: warm view switch {r['warm_switch_s']:.3f} s, "
                    f"{ratio:,.0f}x faster than re-encoding on the GPU"
                )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
