"""Ray Data write-back of a view into Milvus Lite: throughput per worker, and a kill.

    python benchmarks/ray_writeback.py --rows 100000 --out docs/bench   # about 15-25 min here

1. Fills an embedded Chroma collection with N unit vectors (speed only: random rows) with
   documents and metadata, or reuses ``--chroma PATH`` (collection ``--collection``).
2. Times the parts on the driver, in one process: reading every row from Chroma in pages
   (``ChromaShards.read``), applying a default-shaped head (384 -> 384) with one torch
   thread, and upserting view rows into Milvus Lite.
3. Runs ``write_view_ray`` on a local Ray (``ray.init(num_cpus=2)``) into a fresh Milvus
   Lite database for each worker count, end to end.
4. Kills a write midway (SIGKILL to the job's process group: driver, Ray, Milvus Lite),
   resumes it, and checks that every row is there once, written by the head.

Writes ``ray-writeback.json`` and ``ray-writeback.md`` to ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GST_PROGRESS", "0")


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _head() -> Any:
    from gst_integrations.evaluation.store_bench import _default_shaped_head

    return _default_shaped_head(2)


def _job(args: argparse.Namespace) -> None:
    """The write as its own process (``--job``): prints ``written N`` per batch."""
    import ray

    from gst_integrations.core.heads.head import load_head
    from gst_integrations.stores.ray import ChromaShards, write_view_ray

    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=512 * 2**20)
    stats = write_view_ray(
        ChromaShards(args.chroma, args.collection),
        load_head(args.head, device="cpu"),
        "bench",
        args.db,
        "view_bench",
        workers=args.workers,
        batch_size=args.batch,
        page_size=args.batch,
        on_batch=lambda n: print(f"written {n}", flush=True),
    )
    print("done " + json.dumps(stats.__dict__), flush=True)


def _run_job(argv: list[str], kill_after: int | None = None) -> tuple[list[str], float]:
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, __file__, "--job", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if kill_after and line.startswith("written") and int(line.split()[1]) >= kill_after:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=3600)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return lines, time.perf_counter() - t


def _parts(chroma: str, collection: str, head: Any, n: int, workdir: str) -> dict[str, float]:
    """Rows/s of each stage in one process: read, transform (1 thread), Milvus Lite upsert."""
    import torch
    from pymilvus import MilvusClient

    from gst_integrations.stores.milvus.writeback import MilvusViewSink
    from gst_integrations.stores.ray.sources import ChromaShards
    from gst_integrations.stores.writeback import ViewRows, head_key

    src = ChromaShards(chroma, collection)
    t = time.perf_counter()
    (shard,) = src.shards(1)
    pages = list(src.read(shard, 2000))
    read_s = time.perf_counter() - t
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    t = time.perf_counter()
    views = [head.transform(p.vectors) for p in pages]
    transform_s = time.perf_counter() - t
    torch.set_num_threads(threads)
    client = MilvusClient(str(Path(workdir) / "parts.db"))
    sink = MilvusViewSink(client, "parts")
    sink.prepare("bench", head, "cosine")
    key = head_key(head, "cosine")
    t = time.perf_counter()
    for p, Z in zip(pages, views, strict=True):
        sink.upsert(ViewRows(p.ids, Z, p.documents, p.metadatas, list(p.signatures()), key))
    client.flush("parts")
    write_s = time.perf_counter() - t
    client.close()
    return {
        "read_rows_per_s": n / read_s,
        "transform_rows_per_s_1_thread": n / transform_s,
        "milvus_lite_upsert_rows_per_s": n / write_s,
    }


def _check(db: str, head: Any, n: int) -> dict[str, Any]:
    from pymilvus import MilvusClient

    from gst_integrations.stores.writeback import head_key

    client = MilvusClient(db)
    client.load_collection("view_bench")
    ids, heads = [], set()
    it = client.query_iterator(
        "view_bench", batch_size=10000, filter="", output_fields=["gst_head"]
    )
    while page := it.next():
        ids += [r["id"] for r in page]
        heads |= {r["gst_head"] for r in page}
    it.close()
    client.close()
    return {
        "rows": len(ids),
        "unique": len(set(ids)),
        "lost": n - len(set(ids)),
        "duplicated": len(ids) - len(set(ids)),
        "one_head": heads == {head_key(head, "cosine")},
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rows", type=int, default=100_000)
    p.add_argument("--chroma", help="an existing Chroma path (else one is filled)")
    p.add_argument("--collection", default="")
    p.add_argument("--workers", default="1,2")
    p.add_argument("--batch", type=int, default=2000)
    p.add_argument("--out", default="")
    p.add_argument("--job", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--head", help=argparse.SUPPRESS)
    p.add_argument("--db", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.job:
        args.workers = int(args.workers)
        _job(args)
        return 0
    from gst_integrations.evaluation.store_bench import fill_collection

    work = tempfile.mkdtemp(prefix="gst-ray-bench-")
    out: dict[str, Any] = {"rows": args.rows, "machine": f"{os.cpu_count()} CPU cores, no GPU"}
    if not args.chroma:
        t = time.perf_counter()
        args.chroma, args.collection = work + "/chroma", f"bench{args.rows}"
        fill_collection(args.chroma, args.rows)
        out["fill_s"] = time.perf_counter() - t
    head = _head()
    head_file = str(head.save(Path(work) / "head.safetensors"))
    out["parts"] = {**_parts(args.chroma, args.collection, head, args.rows, work), "load": _load()}
    print(json.dumps(out["parts"]), flush=True)
    common = ["--chroma", args.chroma, "--collection", args.collection, "--head", head_file]
    out["runs"] = []
    for w in (int(x) for x in args.workers.split(",")):
        db = f"{work}/view-w{w}.db"
        lines, secs = _run_job(
            common + ["--db", db, "--workers", str(w), "--batch", str(args.batch)]
        )
        done = [json.loads(x[5:]) for x in lines if x.startswith("done ")]
        run: dict[str, Any] = {"workers": w, "wall_s": secs, "load": _load()}
        run.update(done[0] if done else {"error": lines[-5:]})
        if done:  # the write itself, without starting the process and the local Ray
            run["rows_per_s"] = args.rows / run["seconds"]
        out["runs"].append(run)
        print(json.dumps(run), flush=True)
    db = f"{work}/view-kill.db"
    job = common + ["--db", db, "--workers", "1", "--batch", str(args.batch)]
    first, _ = _run_job(job, kill_after=args.rows // 2)
    second, secs = _run_job(job)
    done = [json.loads(x[5:]) for x in second if x.startswith("done ")]
    out["kill"] = {
        "killed_after": max(
            (int(x.split()[1]) for x in first if x.startswith("written")), default=0
        ),
        "resume": done[0] if done else {"error": second[-5:]},
        "resume_s": secs,
        **_check(db, head, args.rows),
    }
    print(json.dumps(out["kill"]), flush=True)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "ray-writeback.json").write_text(json.dumps(out, indent=1) + "\n")
        (Path(args.out) / "ray-writeback.md").write_text(format_md(out) + "\n")
    return 0


def format_md(out: dict[str, Any]) -> str:
    parts = out["parts"]
    lines = [
        "# Ray Data write-back into Milvus Lite",
        "",
        "Generated by `make bench-ray` (`python benchmarks/ray_writeback.py`).",
        "",
        f"Ray Data write-back of a 384 -> 384 view ({out['rows']:,} rows, Chroma -> Milvus Lite) "
        f"on this machine: {out['machine']}, local Ray with 2 CPUs.",
        "",
        f"Stages alone, in one process (load average {parts['load']}): read from Chroma "
        f"{parts['read_rows_per_s']:,.0f} rows/s; head transform (1 torch thread) "
        f"{parts['transform_rows_per_s_1_thread']:,.0f} rows/s; Milvus Lite upsert "
        f"{parts['milvus_lite_upsert_rows_per_s']:,.0f} rows/s.",
        "",
        "| transform workers | write | rows/s | with process and Ray start | written "
        "| load average |",
        "|---|---|---|---|---|---|",
    ]
    for r in out["runs"]:
        lines.append(
            f"| {r['workers']} | {r.get('seconds', float('nan')):.0f} s "
            f"| {r.get('rows_per_s', float('nan')):,.0f} | {r['wall_s']:.0f} s "
            f"| {r.get('written', r.get('error'))} | {r['load']} |"
        )
    k = out["kill"]
    lines += [
        "",
        f"Killed after {k['killed_after']:,} rows written, resumed in {k['resume_s']:.0f} s "
        f"(wrote {k['resume'].get('written')}, skipped {k['resume'].get('skipped')}): "
        f"{k['rows']:,} rows, {k['lost']} lost, {k['duplicated']} duplicated, every row "
        f"written by the head: {k['one_head']}.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    raise SystemExit(main())
