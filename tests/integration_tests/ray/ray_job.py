"""A write-back job run as its own process (so a test can kill it, Ray cluster and all).

    python ray_job.py CHROMA_PATH COLLECTION HEAD_FILE MILVUS_DB VIEW_COLLECTION [BATCH]

Prints ``written N`` after every written batch and ``done <stats>`` at the end.
"""

from __future__ import annotations

import sys

import ray

from gst_integrations.core.heads.head import load_head
from gst_integrations.stores.ray import ChromaShards, write_view_ray


def main(argv: list[str]) -> None:
    chroma_path, collection, head_file, db, name = argv[:5]
    batch = int(argv[5]) if len(argv) > 5 else 500
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=256 * 2**20)
    stats = write_view_ray(
        ChromaShards(chroma_path, collection),
        load_head(head_file, device="cpu"),
        "v",
        db,
        name,
        batch_size=batch,
        page_size=batch,
        on_batch=lambda n: print(f"written {n}", flush=True),
    )
    print(f"done {stats.written} {stats.skipped} {stats.deleted} {stats.total}", flush=True)
    ray.shutdown()


if __name__ == "__main__":
    main(sys.argv[1:])
