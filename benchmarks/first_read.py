"""The first read of an embedded Chroma store, fast path against the API, in one run.

    python benchmarks/first_read.py --chroma PATH --collection NAME --out docs/bench
    python benchmarks/first_read.py --rows 1000000 --out docs/bench   # fills one first (long)

For one persisted collection:

1. ``ChromaSource.iter_pages`` (what an engine's first refresh reads): through the
   collection's segments (``stores/chroma/reader.py``, the default) and through the API's
   paged ``collection.get`` (``GST_CHROMA_FAST_READ=0``), rows/s each;
2. where the fast read's time goes: the sqlite part (ids, documents, metadata) and the
   vectors;
3. a fresh ``ViewEngine``'s first search (a cold view switch: read, row table, catalogue,
   one view), rows/s, with the fast read.

Writes ``first-read.json`` and ``first-read.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GST_PROGRESS", "0")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _read_all(col: Any, page_size: int) -> tuple[int, float]:
    from gst_integrations.stores.chroma import ChromaSource

    t = time.perf_counter()
    n = sum(len(p) for p in ChromaSource(col).iter_pages(page_size))
    return n, time.perf_counter() - t


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--chroma")
    p.add_argument("--collection", default="")
    p.add_argument("--rows", type=int, default=1_000_000, help="rows to fill without --chroma")
    p.add_argument("--page-size", type=int, default=5000)
    p.add_argument("--skip-api", action="store_true", help="leave out the (slow) API read")
    p.add_argument("--out", default="")
    args = p.parse_args(argv)

    from gst_integrations.evaluation.store_bench import _default_shaped_head, fill_collection
    from gst_integrations.stores.chroma import ChromaSource, chroma_client
    from gst_integrations.stores.chroma.reader import FAST_READ_ENV, read_segments

    out: dict[str, Any] = {"machine": f"{os.cpu_count()} CPU cores", "load": {}}
    if not args.chroma:
        args.chroma = tempfile.mkdtemp(prefix="gst-first-read-")
        t = time.perf_counter()
        col = fill_collection(args.chroma, args.rows)
        out["fill_s"] = time.perf_counter() - t
    else:
        col = chroma_client(args.chroma).get_collection(args.collection, embedding_function=None)
    out["rows"] = col.count()

    t = time.perf_counter()
    snap = read_segments(col)
    out["fast_sqlite_and_open_s"] = time.perf_counter() - t
    t = time.perf_counter()
    for s in range(0, len(snap.ids), args.page_size):
        snap.vectors(snap.order[s : s + args.page_size])
    out["fast_vectors_s"] = time.perf_counter() - t
    del snap

    n, secs = _read_all(col, args.page_size)
    out["fast"] = {"rows": n, "seconds": secs, "rows_per_s": n / secs, "load": _load()}
    print(json.dumps(out["fast"]), flush=True)
    if not args.skip_api:
        os.environ[FAST_READ_ENV] = "0"
        n, secs = _read_all(col, args.page_size)
        os.environ.pop(FAST_READ_ENV)
        out["api"] = {"rows": n, "seconds": secs, "rows_per_s": n / secs, "load": _load()}
        print(json.dumps(out["api"]), flush=True)

    from gst_integrations.core.views.engine import ViewEngine

    engine = ViewEngine(
        ChromaSource(col),
        {"b": _default_shaped_head(2)},
        encoder=None,
        device="cpu",
        page_size=args.page_size,
        max_staleness=1e9,
        reconcile_every=1e9,
    )
    q = engine.source.get([engine.source.collection.get(limit=1)["ids"][0]]).vectors[0]
    t = time.perf_counter()
    engine.search_by_vector(q, "b", k=10)
    secs = time.perf_counter() - t
    out["cold_switch"] = {"seconds": secs, "rows_per_s": out["rows"] / secs, "load": _load()}
    print(json.dumps(out["cold_switch"]), flush=True)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "first-read.json").write_text(json.dumps(out, indent=1) + "\n")
        (Path(args.out) / "first-read.md").write_text(format_md(out) + "\n")
    return 0


def format_md(out: dict[str, Any]) -> str:
    f = out["fast"]
    lines = [
        f"First read of an embedded Chroma collection of {out['rows']:,} rows (384-d, short "
        f"documents, metadata) on this machine: {out['machine']}, no GPU.",
        "",
        "| read | seconds | rows/s | load average |",
        "|---|---|---|---|",
        f"| segments (default) | {f['seconds']:.1f} | {f['rows_per_s']:,.0f} | {f['load']} |",
    ]
    if "api" in out:
        a = out["api"]
        lines.append(
            f"| API (`collection.get`, offset pages) | {a['seconds']:.1f} | "
            f"{a['rows_per_s']:,.0f} | {a['load']} |"
        )
    c = out["cold_switch"]
    lines += [
        "",
        f"Of the segment read: ids, documents and metadata from sqlite plus opening the HNSW "
        f"segment {out['fast_sqlite_and_open_s']:.1f} s; the vectors "
        f"{out['fast_vectors_s']:.1f} s.",
        "",
        f"A fresh engine's first search (read, row table, catalogue, one default-shaped "
        f"view): {c['seconds']:.1f} s, {c['rows_per_s']:,.0f} rows/s (load average "
        f"{c['load']}).",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
