"""Write a view into its own Milvus collection, resumably, and keep it in sync.

The Milvus counterpart of ``stores.chroma.writeback``: the written collection holds a
view's vectors under the same ids, with the same documents and metadata, so Milvus (Lite,
standalone or a cluster) indexes the view with its own ANN and scales it out.

Writing is a sync. Each row records the signature of the source row it was written from
(``gst_sig``) and the identity of the head that wrote it (``gst_head``: its weights and the
engine's metric), so a rerun skips rows that are already right, rewrites rows whose
document changed or whose head was refitted, finishes an interrupted write where it
stopped (upserts never duplicate), and deletes ids the view no longer holds.

Schema: ``id`` (VARCHAR primary key), ``vector`` (FLOAT_VECTOR, the view's dimension),
``document`` (VARCHAR, nullable), ``metadata`` (JSON: filter with
``metadata["condition"] == "Acne"``), ``gst_sig`` (INT64) and ``gst_head`` (VARCHAR). The
collection's properties record the view, its dimension and metric. The index is
``AUTOINDEX`` with the view's metric (COSINE for cosine views, IP for inner-product ones)
unless ``index_params`` says otherwise.

pymilvus is imported only inside these functions: the package imports without the
``milvus`` extra, and a call without pymilvus says how to install it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from tqdm.auto import tqdm

from gst_integrations.core.errors import DimensionMismatchError, StoreError
from gst_integrations.stores.chroma.writeback import WriteBackStats, _head_key

ID_FIELD = "id"
VECTOR_FIELD = "vector"
DOCUMENT_FIELD = "document"
METADATA_FIELD = "metadata"
SIG_FIELD = "gst_sig"
HEAD_FIELD = "gst_head"

#: Collection properties that record what a written collection holds.
VIEW_PROP = "gst_view"
DIM_PROP = "gst_view_dim"
METRIC_PROP = "gst_view_metric"

#: Milvus VARCHAR fields hold at most this many bytes (UTF-8).
MAX_VARCHAR = 65535

_INSTALL = "pip install 'gst-integrations[milvus]'"


def _pymilvus() -> Any:
    try:
        import pymilvus
    except ImportError as exc:
        raise ImportError(
            f"writing views to Milvus needs pymilvus (and milvus-lite for a local .db file): "
            f"{_INSTALL}"
        ) from exc
    return pymilvus


def _milvus_metric(engine_metric: str) -> str:
    return "COSINE" if engine_metric == "cosine" else "IP"


def _create_collection(engine: Any, view: str, client: Any, name: str, index_params: Any) -> None:
    DataType = _pymilvus().DataType
    head = engine.head(view)
    schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
    schema.add_field(ID_FIELD, DataType.VARCHAR, is_primary=True, max_length=MAX_VARCHAR)
    schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=int(head.out_dim))
    schema.add_field(DOCUMENT_FIELD, DataType.VARCHAR, max_length=MAX_VARCHAR, nullable=True)
    schema.add_field(METADATA_FIELD, DataType.JSON)
    schema.add_field(SIG_FIELD, DataType.INT64)
    schema.add_field(HEAD_FIELD, DataType.VARCHAR, max_length=64)
    if index_params is None:
        index_params = client.prepare_index_params()
        index_params.add_index(
            VECTOR_FIELD, index_type="AUTOINDEX", metric_type=_milvus_metric(engine.metric)
        )
    client.create_collection(
        name,
        schema=schema,
        index_params=index_params,
        consistency_level="Strong",
        properties={
            VIEW_PROP: view,
            DIM_PROP: str(int(head.out_dim)),
            METRIC_PROP: engine.metric,
        },
    )


def _target_collection(engine: Any, view: str, client: Any, name: str, index_params: Any) -> None:
    """Create the collection, or check that an existing one holds this view."""
    head = engine.head(view)
    try:
        exists = client.has_collection(name)
        if not exists:
            _create_collection(engine, view, client, name, index_params)
            return
        info = client.describe_collection(name)
    except (StoreError, ImportError):
        raise
    except Exception as exc:
        raise StoreError(f"cannot open or create Milvus collection {name!r}: {exc}") from exc
    props = info.get("properties") or {}
    recorded = props.get(VIEW_PROP)
    if recorded is None:
        raise StoreError(
            f"Milvus collection {name!r} was not written by write_view_to_milvus; choose "
            "another name"
        )
    if recorded != view:
        raise StoreError(
            f"collection {name!r} holds view {recorded!r}, not {view!r}; choose another name"
        )
    dims = [
        int((f.get("params") or {}).get("dim", 0))
        for f in info.get("fields", [])
        if f.get("name") == VECTOR_FIELD
    ]
    if dims and dims[0] != int(head.out_dim):
        raise DimensionMismatchError(
            f"collection {name!r} holds {dims[0]}-d vectors; view {view!r} has {head.out_dim}"
        )
    if props.get(METRIC_PROP, engine.metric) != engine.metric:
        raise StoreError(
            f"collection {name!r} was written for metric {props[METRIC_PROP]!r} and is "
            f"indexed for it; this engine's metric is {engine.metric!r}: choose another name"
        )


def _written_rows(client: Any, name: str, batch_size: int) -> dict[str, tuple[int, str]]:
    """id -> (source signature, head key) of every row already in the collection."""
    out: dict[str, tuple[int, str]] = {}
    it = client.query_iterator(
        name, batch_size=max(batch_size, 1000), filter="", output_fields=[SIG_FIELD, HEAD_FIELD]
    )
    try:
        while True:
            page = it.next()
            if not page:
                break
            for row in page:
                out[str(row[ID_FIELD])] = (int(row[SIG_FIELD]), str(row[HEAD_FIELD]))
    finally:
        it.close()
    return out


def _count(client: Any, name: str) -> int:
    return int(client.query(name, filter="", output_fields=["count(*)"])[0]["count(*)"])


def _document(doc: str | None, row_id: str) -> str | None:
    if doc is not None and len(doc.encode("utf-8")) > MAX_VARCHAR:
        raise StoreError(
            f"document {row_id!r} is {len(doc.encode('utf-8'))} bytes; a Milvus VARCHAR field "
            f"holds at most {MAX_VARCHAR}: split long documents into chunks before writing"
        )
    return doc


def write_view_to_milvus(
    engine: Any,
    view: str,
    client: Any,
    collection_name: str,
    batch_size: int = 1000,
    show_progress: bool = True,
    *,
    index_params: Any = None,
    on_batch: Callable[[int], None] | None = None,
) -> WriteBackStats:
    """Write (or bring up to date) view ``view`` of ``engine`` as a Milvus collection.

    ``client`` is a ``pymilvus.MilvusClient`` (a Milvus Lite ``.db`` path, a server or a
    cluster). The collection is created on first use; later calls sync it: unchanged rows
    are skipped, updated documents and rows of a refitted head are rewritten, ids gone from
    the store are deleted. Resumable: rerunning after an interruption finishes the job
    without duplicates. ``index_params`` (``client.prepare_index_params()``) replaces the
    default AUTOINDEX on ``vector``. ``on_batch(n_written_so_far)`` is called after each
    batch (progress hooks, tests). The collection is flushed at the end.
    """
    _pymilvus()
    t0 = time.perf_counter()
    if not collection_name:
        raise ValueError("pass the name of the Milvus collection to write")
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    _target_collection(engine, view, client, collection_name, index_params)
    key = _head_key(engine, view)
    engine.refresh(view)
    ids, Z = engine.view_matrix(view)
    sigs = engine.signatures(ids)
    written = _written_rows(client, collection_name, batch_size)
    in_view = set(ids)
    stale = sorted(set(written) - in_view)
    for s in range(0, len(stale), batch_size):
        client.delete(collection_name, ids=stale[s : s + batch_size])
    todo = [
        j for j, (i, sig) in enumerate(zip(ids, sigs, strict=True)) if written.get(i) != (sig, key)
    ]
    n_written = 0
    bar = tqdm(
        total=len(todo),
        desc=f"write view {view} -> milvus:{collection_name}",
        disable=not show_progress,
    )
    try:
        for s in range(0, len(todo), batch_size):
            rows = todo[s : s + batch_size]
            batch_ids = [ids[j] for j in rows]
            docs, metas = engine.documents(batch_ids)
            client.upsert(
                collection_name,
                [
                    {
                        ID_FIELD: ids[j],
                        VECTOR_FIELD: Z[j].tolist(),
                        DOCUMENT_FIELD: _document(doc, ids[j]),
                        METADATA_FIELD: dict(meta or {}),
                        SIG_FIELD: int(sigs[j]),
                        HEAD_FIELD: key,
                    }
                    for j, doc, meta in zip(rows, docs, metas, strict=True)
                ],
            )
            n_written += len(rows)
            bar.update(len(rows))
            if on_batch is not None:
                on_batch(n_written)
    finally:
        bar.close()
    if n_written or stale:
        client.flush(collection_name)
    return WriteBackStats(
        written=n_written,
        skipped=len(ids) - len(todo),
        deleted=len(stale),
        total=_count(client, collection_name),
        seconds=time.perf_counter() - t0,
    )


def sync_view_to_milvus(
    engine: Any,
    view: str,
    client: Any,
    collection_name: str,
    batch_size: int = 1000,
    show_progress: bool = False,
) -> WriteBackStats:
    """Incrementally sync a written view (``write_view_to_milvus`` without a progress bar)."""
    return write_view_to_milvus(engine, view, client, collection_name, batch_size, show_progress)
