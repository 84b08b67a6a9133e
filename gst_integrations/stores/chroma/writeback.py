"""Write a view into its own Chroma collection, resumably, and keep it in sync.

The sync itself (what to skip, rewrite or delete) is ``stores.writeback.sync_view``; this
module is the Chroma schema and I/O. The written collection holds the view vectors under
the same ids, with the same documents and metadata plus two keys per row: ``gst_sig``
(the signature of the source row) and ``gst_head`` (the content hash of the head that
wrote the row). The collection's metadata records the view, its instruction, dimension and
metric, and the head of the last complete write (``gst_head_key``, for information: the
sync decides per row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from gst_integrations.core.errors import DimensionMismatchError, StoreError
from gst_integrations.core.hits import VIEW_KEY as VIEW_META
from gst_integrations.stores.chroma.collection import settable_metadata
from gst_integrations.stores.writeback import Held, ViewRows, WriteBackStats, sync_view

__all__ = ["ChromaViewSink", "WriteBackStats", "sync_view_collection", "write_view_collection"]

#: Collection metadata: the head of the last complete write.
HEAD_META = "gst_head_key"
#: Row metadata: the signature of the source row a view row was written from.
SIG_META = "gst_sig"
#: Row metadata: the content hash of the head that wrote the row.
ROW_HEAD_META = "gst_head"


class ChromaViewSink:
    """``ViewSink`` over a Chroma collection named ``name`` in ``client``."""

    def __init__(self, client: Any, name: str) -> None:
        self.client = client
        self.name = name
        self.label = f"chroma:{name}"
        self.collection: Any = None

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise StoreError(
                f"Chroma {what} on view collection {self.name!r} failed: {exc}"
            ) from exc

    def prepare(self, view: str, head: Any, metric: str) -> None:
        metadata = {
            VIEW_META: view,
            "gst_instruction": head.instruction,
            "gst_view_dim": int(head.out_dim),
            "gst_view_metric": metric,
            "hnsw:space": "cosine" if metric == "cosine" else "ip",
        }
        try:
            self.collection = self.client.get_or_create_collection(
                self.name, embedding_function=None, metadata=metadata
            )
        except Exception as exc:
            raise StoreError(
                f"cannot open or create Chroma collection {self.name!r}: {exc}"
            ) from exc
        recorded = self.collection.metadata or {}
        if recorded.get(VIEW_META) not in (None, view):
            raise StoreError(
                f"collection {self.name!r} holds view {recorded[VIEW_META]!r}, not {view!r}; "
                "choose another name"
            )
        if recorded.get("gst_view_dim", head.out_dim) != head.out_dim:
            raise DimensionMismatchError(
                f"collection {self.name!r} holds {recorded['gst_view_dim']}-d vectors; "
                f"view {view!r} has {head.out_dim}"
            )

    @staticmethod
    def _held(meta: dict[str, Any] | None) -> Held:
        meta = meta or {}
        sig = meta.get(SIG_META)
        return (None if sig is None else int(sig), meta.get(ROW_HEAD_META))

    def scan(self, page_size: int) -> Iterator[list[tuple[str, int | None, str | None]]]:
        offset = 0
        while True:
            got = self._call(
                "get", self.collection.get, limit=page_size, offset=offset, include=["metadatas"]
            )
            ids = list(got["ids"])
            if not ids:
                return
            metas = got.get("metadatas") or [None] * len(ids)
            yield [(i, *self._held(m)) for i, m in zip(ids, metas, strict=True)]
            offset += len(ids)
            if len(ids) < page_size:
                return

    def held(self, ids: Sequence[str]) -> dict[str, Held]:
        if not ids:
            return {}
        got = self._call("get", self.collection.get, ids=list(ids), include=["metadatas"])
        metas = got.get("metadatas") or [None] * len(got["ids"])
        return {i: self._held(m) for i, m in zip(got["ids"], metas, strict=True)}

    def delete(self, ids: Sequence[str]) -> None:
        self._call("delete", self.collection.delete, ids=list(ids))

    def upsert(self, rows: ViewRows) -> None:
        self._call(
            "upsert",
            self.collection.upsert,
            ids=rows.ids,
            embeddings=rows.vectors,
            documents=rows.documents if any(d is not None for d in rows.documents) else None,
            metadatas=[
                {**m, SIG_META: sig, ROW_HEAD_META: rows.head}
                for m, sig in zip(rows.metadatas, rows.signatures, strict=True)
            ],
        )

    def finish(self, view: str, head: Any, key: str, changed: bool) -> None:
        meta = self.collection.metadata or {}
        if meta.get(HEAD_META) != key or meta.get("gst_instruction") != head.instruction:
            new = settable_metadata(meta)
            new.update({HEAD_META: key, "gst_instruction": head.instruction})
            self._call("modify", self.collection.modify, metadata=new)

    def count(self) -> int:
        return int(self._call("count", self.collection.count))


def write_view_collection(
    engine: Any,
    view: str,
    client: Any,
    name: str | None = None,
    batch_size: int = 1000,
    show_progress: bool | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> WriteBackStats:
    """Write (or bring up to date) view ``view`` of ``engine`` as Chroma collection ``name``.

    ``name`` defaults to ``"<source collection>.<view>"``. Resumable: rows already written
    from the same source row by the same head are skipped, and rows are upserted, so
    rerunning after an interruption finishes the job without duplicates; a refit, or a
    rollback to an earlier head, rewrites every row another head wrote.
    ``on_batch(n_written_so_far)`` is called after each batch (progress hooks, tests).
    """
    if name is None and getattr(engine.source, "name", None):
        name = f"{engine.source.name}.{view}"
    if not name:
        raise ValueError("pass the name of the collection to write")
    return sync_view(
        engine, view, ChromaViewSink(client, name), batch_size, show_progress, on_batch
    )


def sync_view_collection(
    engine: Any,
    view: str,
    client: Any,
    name: str | None = None,
    batch_size: int = 1000,
    show_progress: bool = False,
) -> WriteBackStats:
    """Incrementally sync a written view: add ids new to the store, delete removed ones."""
    return write_view_collection(engine, view, client, name, batch_size, show_progress)
