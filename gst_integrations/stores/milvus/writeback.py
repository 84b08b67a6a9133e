"""Write a view into its own Milvus collection, resumably, and keep it in sync.

The Milvus counterpart of ``stores.chroma.writeback``: the sync (what to skip, rewrite or
delete) is ``stores.writeback.sync_view``; this module is the Milvus schema and I/O. The
written collection holds a view's vectors under the same ids, with the same documents and
metadata, so Milvus (Lite, standalone or a cluster) indexes the view with its own ANN and
scales it out. A collection found released (a new process, a restarted server) is loaded
before it is read.

Schema: ``id`` (VARCHAR primary key), ``vector`` (FLOAT_VECTOR, the view's dimension),
``document`` (VARCHAR, nullable), ``metadata`` (JSON: filter with
``metadata["condition"] == "Acne"``), ``gst_sig`` (INT64, the source row's signature) and
``gst_head`` (VARCHAR, the content hash of the head that wrote the row). The collection's
properties record the view, its dimension and metric. The index is ``AUTOINDEX`` with the
view's metric (COSINE for cosine views, IP for inner-product ones) unless ``index_params``
says otherwise.

pymilvus is imported only inside these functions: the package imports without the
``milvus`` extra, and a call without pymilvus says how to install it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gst_integrations.core.errors import DimensionMismatchError, StoreError
from gst_integrations.stores.writeback import Held, ViewRows, WriteBackStats, sync_view

__all__ = ["MilvusViewSink", "WriteBackStats", "sync_view_to_milvus", "write_view_to_milvus"]

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


def pymilvus_module() -> Any:
    """pymilvus, or an ImportError that names the extra to install."""
    try:
        import pymilvus
    except ImportError as exc:
        raise ImportError(
            f"writing views to Milvus needs pymilvus (and milvus-lite for a local .db file): "
            f"{_INSTALL}"
        ) from exc
    return pymilvus


def milvus_metric(engine_metric: str) -> str:
    return "COSINE" if engine_metric == "cosine" else "IP"


def _document(doc: str | None, row_id: str) -> str | None:
    if doc is not None and len(doc.encode("utf-8")) > MAX_VARCHAR:
        raise StoreError(
            f"document {row_id!r} is {len(doc.encode('utf-8'))} bytes; a Milvus VARCHAR field "
            f"holds at most {MAX_VARCHAR}: split long documents into chunks before writing"
        )
    return doc


class MilvusViewSink:
    """``ViewSink`` over Milvus collection ``name`` of a ``pymilvus.MilvusClient``."""

    def __init__(self, client: Any, name: str, index_params: Any = None) -> None:
        if not name:
            raise ValueError("pass the name of the Milvus collection to write")
        self.client = client
        self.name = name
        self.index_params = index_params
        self.label = f"milvus:{name}"

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(self.name, *args, **kwargs)
        except Exception as exc:
            raise StoreError(f"Milvus {what} on collection {self.name!r} failed: {exc}") from exc

    # -- schema -------------------------------------------------------------------------------
    def _create(self, view: str, head: Any, metric: str) -> None:
        DataType = pymilvus_module().DataType
        client = self.client
        schema = client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field(ID_FIELD, DataType.VARCHAR, is_primary=True, max_length=MAX_VARCHAR)
        schema.add_field(VECTOR_FIELD, DataType.FLOAT_VECTOR, dim=int(head.out_dim))
        schema.add_field(DOCUMENT_FIELD, DataType.VARCHAR, max_length=MAX_VARCHAR, nullable=True)
        schema.add_field(METADATA_FIELD, DataType.JSON)
        schema.add_field(SIG_FIELD, DataType.INT64)
        schema.add_field(HEAD_FIELD, DataType.VARCHAR, max_length=64)
        index_params = self.index_params
        if index_params is None:
            index_params = client.prepare_index_params()
            index_params.add_index(
                VECTOR_FIELD, index_type="AUTOINDEX", metric_type=milvus_metric(metric)
            )
        self._call(
            "create_collection",
            client.create_collection,
            schema=schema,
            index_params=index_params,
            consistency_level="Strong",
            properties={VIEW_PROP: view, DIM_PROP: str(int(head.out_dim)), METRIC_PROP: metric},
        )

    def _check(self, info: dict[str, Any], view: str, head: Any, metric: str) -> None:
        props = info.get("properties") or {}
        recorded = props.get(VIEW_PROP)
        if recorded is None:
            raise StoreError(
                f"Milvus collection {self.name!r} was not written by write_view_to_milvus; "
                "choose another name"
            )
        if recorded != view:
            raise StoreError(
                f"collection {self.name!r} holds view {recorded!r}, not {view!r}; choose "
                "another name"
            )
        dims = [
            int((f.get("params") or {}).get("dim", 0))
            for f in info.get("fields", [])
            if f.get("name") == VECTOR_FIELD
        ]
        if dims and dims[0] != int(head.out_dim):
            raise DimensionMismatchError(
                f"collection {self.name!r} holds {dims[0]}-d vectors; view {view!r} has "
                f"{head.out_dim}"
            )
        if props.get(METRIC_PROP, metric) != metric:
            raise StoreError(
                f"collection {self.name!r} was written for metric {props[METRIC_PROP]!r} and "
                f"is indexed for it; this engine's metric is {metric!r}: choose another name"
            )

    def prepare(self, view: str, head: Any, metric: str) -> None:
        """Create the collection, or check it holds this view; load it when released."""
        pymilvus = pymilvus_module()
        if not self._call("has_collection", self.client.has_collection):
            self._create(view, head, metric)
        else:
            self._check(self._call("describe", self.client.describe_collection), view, head, metric)
        state = self._call("get_load_state", self.client.get_load_state).get("state")
        if state != pymilvus.client.types.LoadState.Loaded:
            self._call("load_collection", self.client.load_collection)

    # -- I/O ----------------------------------------------------------------------------------
    def scan(self, page_size: int) -> Iterator[list[tuple[str, int | None, str | None]]]:
        it = self._call(
            "query_iterator",
            self.client.query_iterator,
            batch_size=page_size,
            filter="",
            output_fields=[SIG_FIELD, HEAD_FIELD],
        )
        try:
            while True:
                page = it.next()
                if not page:
                    return
                yield [(str(r[ID_FIELD]), int(r[SIG_FIELD]), str(r[HEAD_FIELD])) for r in page]
        finally:
            it.close()

    def held(self, ids: Sequence[str]) -> dict[str, Held]:
        if not ids:
            return {}
        got = self._call(
            "get", self.client.get, ids=list(ids), output_fields=[SIG_FIELD, HEAD_FIELD]
        )
        return {str(r[ID_FIELD]): (int(r[SIG_FIELD]), str(r[HEAD_FIELD])) for r in got}

    def delete(self, ids: Sequence[str]) -> None:
        self._call("delete", self.client.delete, ids=list(ids))

    def upsert(self, rows: ViewRows) -> None:
        data = [
            {
                ID_FIELD: i,
                VECTOR_FIELD: v,
                DOCUMENT_FIELD: _document(doc, i),
                METADATA_FIELD: meta,
                SIG_FIELD: int(sig),
                HEAD_FIELD: rows.head,
            }
            for i, v, doc, meta, sig in zip(
                rows.ids,
                rows.vectors.tolist(),
                rows.documents,
                rows.metadatas,
                rows.signatures,
                strict=True,
            )
        ]
        self._call("upsert", self.client.upsert, data)

    def finish(self, view: str, head: Any, key: str, changed: bool) -> None:
        if changed:
            self._call("flush", self.client.flush)

    def count(self) -> int:
        got = self._call("count", self.client.query, filter="", output_fields=["count(*)"])
        return int(got[0]["count(*)"])


def write_view_to_milvus(
    engine: Any,
    view: str,
    client: Any,
    collection_name: str,
    batch_size: int = 1000,
    show_progress: bool | None = None,
    *,
    index_params: Any = None,
    on_batch: Callable[[int], None] | None = None,
) -> WriteBackStats:
    """Write (or bring up to date) view ``view`` of ``engine`` as a Milvus collection.

    ``client`` is a ``pymilvus.MilvusClient`` (a Milvus Lite ``.db`` path, a server or a
    cluster). The collection is created on first use; later calls sync it: unchanged rows
    are skipped, updated documents and rows another head wrote are rewritten, ids gone from
    the store are deleted. Resumable: rerunning after an interruption (in this process or a
    new one) finishes the job without duplicates. ``index_params``
    (``client.prepare_index_params()``) replaces the default AUTOINDEX on ``vector``.
    ``on_batch(n_written_so_far)`` is called after each batch. The collection is flushed at
    the end.
    """
    pymilvus_module()
    sink = MilvusViewSink(client, collection_name, index_params)
    return sync_view(engine, view, sink, batch_size, show_progress, on_batch)


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
