"""Write a view with Ray Data: the base store read in shards, the head applied by a pool of
stateful workers (GPU actors where the cluster has GPUs, CPU workers otherwise), the view
written into Milvus under the rules of the one write-back sync (``stores.writeback``).

    read shards (tasks) -> filter + transform (actors, map_batches) -> upsert (Milvus)

* Each worker loads the head once (from its safetensors bytes: nothing is unpickled) and
  drops the rows the target already holds from the same source row (signature) by the
  same head (content hash), so only rows to (re)write are transformed: a rerun after a
  kill resumes, a refit or a rollback rewrites exactly the other head's rows, and upserts
  by primary key never duplicate. What the target holds is read once on the driver and
  shared through the object store (``held="map"``), or asked per batch by each worker
  from a Milvus server (``held="query"``, for stores too large for one map).
* Writes go through the driver (``writers=0``: the only option for Milvus Lite, whose
  ``.db`` one process holds), or through ``writers`` actors that each hold a client to a
  Milvus server or cluster.
* Ids the target holds that the source no longer has are deleted at the end.

Install the extra: ``pip install 'gst-integrations[ray]'`` (Ray Data) and ``[milvus]``.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from gst_integrations.core.feedback import progress
from gst_integrations.core.views.source import row_signature
from gst_integrations.stores.milvus.writeback import MilvusViewSink, pymilvus_module
from gst_integrations.stores.ray.sources import ShardedSource, page_to_batch
from gst_integrations.stores.writeback import (
    PROGRESS_MIN_ROWS,
    ViewRows,
    WriteBackStats,
    delete_gone,
    head_key,
    read_held,
    rows_to_write,
)

__all__ = ["write_view_ray"]

_INSTALL = "pip install 'gst-integrations[ray,milvus]'"


def _ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        raise ImportError(f"writing views with Ray needs Ray Data: {_INSTALL}") from exc
    return ray


def _head_bytes(head: Any) -> bytes:
    with tempfile.TemporaryDirectory() as tmp:
        return Path(head.save(Path(tmp) / "head.safetensors")).read_bytes()


class _ReadShards:
    """Ray map_batches function: shard descriptions in, pages of rows out."""

    def __init__(self, source: ShardedSource, page_size: int) -> None:
        self.source = source
        self.page_size = page_size

    def __call__(self, batch: dict[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        for shard in batch["shard"]:
            for page in self.source.read(json.loads(shard), self.page_size):
                yield page_to_batch(page)


class _ViewTransform:
    """Ray actor: drops rows already written right, applies the head to the rest."""

    def __init__(
        self,
        head_file: bytes,
        metric: str,
        key: str,
        held: Any = None,
        target: tuple[str, str] | None = None,
        device: str = "cpu",
    ) -> None:
        from gst_integrations.core.heads.head import load_head

        self.tmp = tempfile.mkdtemp(prefix="gst-ray-head-")
        path = Path(self.tmp) / "head.safetensors"
        path.write_bytes(head_file)
        self.head = load_head(path, device=device)
        self.metric, self.key = metric, key
        if held is not None and not isinstance(held, dict):
            held = _ray().get(held)
        self.held = held
        self.sink = None
        if target is not None:  # held="query": ask the Milvus server per batch
            self.sink = MilvusViewSink(pymilvus_module().MilvusClient(target[0]), target[1])

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        ids = [str(i) for i in batch["id"]]
        docs = list(batch["document"])
        metas = [json.loads(m) for m in batch["metadata"]]
        sigs = [row_signature(d, m) for d, m in zip(docs, metas, strict=True)]
        held = self.held if self.held is not None else self.sink.held(ids)  # type: ignore[union-attr]
        todo = np.asarray(rows_to_write(ids, sigs, held, self.key), dtype=np.int64)
        if not len(todo):
            Z = np.zeros((0, self.head.out_dim), np.float32)
        else:
            Z = self.head.transform(np.asarray(batch["vector"], np.float32)[todo])
        if self.metric == "cosine":
            Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
        return {
            "id": np.asarray([ids[j] for j in todo], dtype=object),
            "document": np.asarray([docs[j] for j in todo], dtype=object),
            "metadata": np.asarray([batch["metadata"][j] for j in todo], dtype=object),
            "sig": np.asarray([sigs[j] for j in todo], dtype=np.int64),
            "vector": np.ascontiguousarray(Z, np.float32),
        }


def _view_rows(batch: dict[str, np.ndarray], key: str) -> ViewRows:
    return ViewRows(
        ids=[str(i) for i in batch["id"]],
        vectors=np.asarray(batch["vector"], np.float32),
        documents=[None if d is None else str(d) for d in batch["document"]],
        metadatas=[json.loads(m) for m in batch["metadata"]],
        signatures=[int(s) for s in batch["sig"]],
        head=key,
    )


class _MilvusWriter:
    """Ray actor writing batches into a Milvus server (``writers`` > 0)."""

    def __init__(self, uri: str, name: str, key: str) -> None:
        self.sink = MilvusViewSink(pymilvus_module().MilvusClient(uri), name)
        self.key = key

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        if len(batch["id"]):
            self.sink.upsert(_view_rows(batch, self.key))
        return {"written": np.asarray([len(batch["id"])], dtype=np.int64)}


def write_view_ray(
    source: ShardedSource,
    head: Any,
    view: str,
    uri: str,
    collection_name: str,
    metric: str = "cosine",
    *,
    batch_size: int = 2000,
    page_size: int = 2000,
    read_tasks: int | None = None,
    workers: int | None = None,
    use_gpu: bool | None = None,
    held: str = "map",
    writers: int = 0,
    index_params: Any = None,
    show_progress: bool | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> WriteBackStats:
    """Write view ``view`` (``head`` over ``source``'s base vectors) into Milvus with Ray.

    ``workers``: transform actors (default: one per GPU with ``use_gpu``, else the cluster's
    CPUs less one, at least 1). ``use_gpu`` None: GPU actors when the cluster has GPUs.
    ``on_batch(n_written_so_far)`` runs on the driver after each written batch. Returns
    what was written, skipped (already right) and deleted. Call ``ray.init`` first to
    choose the cluster (a local one is started otherwise).
    """
    ray = _ray()
    if metric not in ("cosine", "ip"):
        raise ValueError(f"metric must be 'cosine' or 'ip', got {metric!r}")
    if held not in ("map", "query"):
        raise ValueError("held must be 'map' or 'query'")
    if writers < 0 or batch_size < 1 or page_size < 1:
        raise ValueError("writers must be >= 0, batch_size and page_size >= 1")
    t0 = time.perf_counter()
    sink = MilvusViewSink(pymilvus_module().MilvusClient(uri), collection_name, index_params)
    sink.prepare(view, head, metric)
    key = head_key(head, metric)
    target_held = read_held(sink, max(batch_size, 1000)) if held == "map" else None
    if not ray.is_initialized():
        ray.init(include_dashboard=False, log_to_driver=False)
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    use_gpu = gpus > 0 if use_gpu is None else use_gpu
    if workers is None:
        workers = gpus if use_gpu else max(1, int(resources.get("CPU", 1)) - 1)
    shards = source.shards(read_tasks or max(2 * workers, 2))
    total = source.count()
    ds = ray.data.from_items([{"shard": json.dumps(s)} for s in shards])
    ds = ds.map_batches(
        _ReadShards,
        fn_constructor_kwargs={"source": source, "page_size": page_size},
        batch_size=1,
        concurrency=max(1, min(len(shards), workers)),
    )
    ds = ds.map_batches(
        _ViewTransform,
        fn_constructor_kwargs={
            "head_file": _head_bytes(head),
            "metric": metric,
            "key": key,
            "held": ray.put(target_held) if target_held is not None else None,
            "target": (uri, collection_name) if held == "query" else None,
            "device": "cuda" if use_gpu else "cpu",
        },
        batch_size=batch_size,
        batch_format="numpy",
        concurrency=workers,
        num_gpus=1 if use_gpu else 0,
    )
    written = 0
    bar = progress(
        total=total,
        desc=f"write view {view} -> {sink.label} (ray)",
        unit="row",
        show=show_progress,
        min_total=PROGRESS_MIN_ROWS,
    )
    with bar:
        if writers:
            ds = ds.map_batches(
                _MilvusWriter,
                fn_constructor_kwargs={"uri": uri, "name": collection_name, "key": key},
                concurrency=writers,
                batch_size=batch_size,
                batch_format="numpy",
            )
            for out in ds.iter_batches(batch_size=None, batch_format="numpy"):
                written += int(out["written"].sum())
                bar.update(int(out["written"].sum()))
                if on_batch is not None:
                    on_batch(written)
        else:
            for batch in ds.iter_batches(batch_size=batch_size, batch_format="numpy"):
                if len(batch["id"]):
                    sink.upsert(_view_rows(batch, key))
                    written += len(batch["id"])
                    bar.update(len(batch["id"]))
                    if on_batch is not None:
                        on_batch(written)
    held_ids = (
        list(target_held)
        if target_held is not None
        else [i for page in sink.scan(10_000) for i, _, _ in page]
    )
    deleted = delete_gone(sink, held_ids, source.contains, max(batch_size, 1000))
    sink.finish(view, head, key, changed=bool(written or deleted))
    return WriteBackStats(
        written=written,
        skipped=max(total - written, 0),
        deleted=deleted,
        total=sink.count(),
        seconds=time.perf_counter() - t0,
    )
