"""Freshness benchmark: what a refresh costs on embedded Chroma, change feed against reconciliation.

    python benchmarks/freshness_bench.py --rows 100000 --store /tmp/fresh-bench \\
        --out docs/bench/freshness.md
    python benchmarks/freshness_bench.py --rows 1000000 --repeat 1 ...   # adds 1M to the page

A persistent collection of N random unit vectors (384-d, short documents; speed only) is
filled once per ``--store`` folder and reused. A writer that records no revision (raw
``collection.upsert``) changes 0, 1 or 1,000 rows; then the engine's ``refresh()`` is timed

* through the change feed (Chroma's own write log, or the rows' sequence numbers once the
  log was purged past the engine's cursor): what the engine does now;
* by a full reconciliation (``refresh(full=True)``: every row's document and metadata
  signature): what a store without a change feed costs, and what finding these writes cost
  before the feed.

Each figure is the median of ``--repeat`` runs, with the 1-minute load average of the
machine when it was taken. Figures are kept by N in ``--results`` (JSON), so a run for
one size updates its rows of the page and keeps the others.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from gst_integrations.core.views.engine import ViewEngine  # noqa: E402
from gst_integrations.stores.chroma import ChromaSource, chroma_client  # noqa: E402

D = 384
BATCH = 5000


def _unit(n: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


def _load() -> float:
    return os.getloadavg()[0]


def collection(store: Path, n: int) -> Any:
    """The benchmark collection of ``n`` rows in ``store`` (filled on first use)."""
    client = chroma_client(str(store))
    col = client.get_or_create_collection(
        f"fresh{n}",
        embedding_function=None,
        metadata={"hnsw:space": "cosine", "hnsw:construction_ef": 32, "hnsw:M": 8},
    )
    have = col.count()
    t = time.perf_counter()
    for s in range(have, n, BATCH):
        m = min(BATCH, n - s)
        col.add(
            ids=[f"d{i}" for i in range(s, s + m)],
            embeddings=_unit(m, s),
            documents=[f"row {i}" for i in range(s, s + m)],
            metadatas=[{"i": i, "group": i % 10} for i in range(s, s + m)],
        )
        print(f"filled {s + m:,}/{n:,} ({time.perf_counter() - t:.0f} s)", flush=True)
    return col


#: Texts written by this run differ from any earlier run's on the same collection.
RUN = time.time_ns()


def _text(step: int) -> str:
    return f"v{step} of run {RUN}"


def _write(col: Any, k: int, step: int) -> list[str]:
    """A raw upsert of ``k`` existing rows (new vector and text; no revision recorded)."""
    n = col.count()
    rng = np.random.default_rng(RUN + step)
    ids = [f"d{int(i)}" for i in rng.choice(n, k, replace=False)] if k else []
    if ids:
        col.upsert(ids=ids, embeddings=_unit(k, RUN % 2**31 + step), documents=[_text(step)] * k)
    return ids


def measure(col: Any, n: int, repeat: int) -> dict[str, Any]:
    """Refresh costs on one engine: through the feed, and by ``refresh(full=True)`` (the
    reconciliation a store without a feed runs); each leaves the engine current."""
    source = ChromaSource(col)
    t = time.perf_counter()
    engine = ViewEngine(source, {}, device="cpu", max_staleness=3600, show_progress=False)
    engine.refresh()
    out: dict[str, Any] = {
        "rows": n,
        "load_s": time.perf_counter() - t,
        "load_avg": _load(),
        "repeat": repeat,
        "cases": [],
    }
    step = 0
    for k in (0, 1, 1000):
        for label, full in (("change feed", False), ("full reconciliation", True)):
            times, loads, hows = [], [], set()
            for _ in range(repeat):
                step += 1
                ids = _write(col, k, step)
                if not full:  # which path the feed takes (not timed)
                    cs = source.changes_since(engine._rows.cursor)
                    hows.add("log" if cs is not None and cs.deletes_known else "rows")
                loads.append(_load())
                t = time.perf_counter()
                stats = engine.refresh(full=full)
                times.append(time.perf_counter() - t)
                if ids:  # the writes really arrived
                    assert engine.documents(ids[:3])[0] == [_text(step)] * min(3, len(ids))
                assert stats.updated == k, (label, k, stats)
            out["cases"].append(
                {
                    "changes": k,
                    "how": label + (f" ({'/'.join(sorted(hows))})" if hows else ""),
                    "seconds": statistics.median(times),
                    "load_avg": statistics.mean(loads),
                }
            )
            print(out["cases"][-1], flush=True)
    return out


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def page(results: list[dict[str, Any]]) -> str:
    lines = [
        "# Freshness: what a refresh costs",
        "",
        f"machine: {os.cpu_count()} CPU cores ({_cpu()}), torch {torch.__version__}, "
        "device cpu; generated by `python benchmarks/freshness_bench.py` (each figure the "
        "median of the runs given).",
        "",
        "An embedded persistent Chroma collection of N random unit vectors (384-d; speed "
        "only). A raw `collection.upsert` (a writer that records no revision) changes 0, 1 "
        "or 1,000 rows; then `engine.refresh()` is timed. **change feed**: what the engine "
        "does on embedded Chroma (its write log; *rows* when the log was purged past the "
        "engine's cursor and the rows' sequence numbers are read instead). **full "
        "reconciliation**: what a store without a change feed costs (every row's document "
        "and metadata signature), and what seeing these writes cost before the feed.",
        "",
        "The machine is shared: the load average (1 min, 2 cores) is given with each "
        "figure; timings under load are upper bounds.",
        "",
        "| N | changes | refresh through | seconds | runs | load avg |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        for c in r["cases"]:
            lines.append(
                f"| {r['rows']:,} | {c['changes']:,} | {c['how']} | {c['seconds']:.4f} | "
                f"{r['repeat']} | {c['load_avg']:.1f} |"
            )
    lines += ["", "| N | first read of the store (engine load) | load avg |", "|---|---|---|"]
    for r in results:
        lines.append(f"| {r['rows']:,} | {r['load_s']:.1f} s | {r['load_avg']:.1f} |")
    lines += [""]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default="100000", help="comma-separated sizes, e.g. 100000,1000000")
    ap.add_argument("--store", type=Path, required=True, help="folder of the Chroma collections")
    ap.add_argument("--out", type=Path, default=Path("docs/bench/freshness.md"))
    ap.add_argument(
        "--results",
        type=Path,
        default=Path("docs/bench/freshness.json"),
        help="figures by N: a run replaces its sizes' figures, and the page shows them all",
    )
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--fill-only", action="store_true", help="fill the collections and stop")
    args = ap.parse_args()
    known = json.loads(args.results.read_text()) if args.results.exists() else {}
    for n in (int(x) for x in args.rows.split(",")):
        col = collection(args.store, n)
        if args.fill_only:
            continue
        known[str(n)] = measure(col, n, args.repeat)
        args.results.parent.mkdir(parents=True, exist_ok=True)
        args.results.write_text(json.dumps(known, indent=1))
        args.out.write_text(page([known[k] for k in sorted(known, key=int)]))
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
