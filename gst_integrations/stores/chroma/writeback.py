"""Write a view into its own Chroma collection, resumably, and keep it in sync.

The written collection holds the view vectors under the same ids, with the same documents
and metadata, so any vector database can index a view with its own ANN and scale it out.
Writing is a sync: rows already written from the same source row by the same head are
skipped (each row records its source row's signature, so an interrupted write resumes where
it stopped, an updated document is rewritten, and upserts never duplicate), ids the view
lacks are deleted, and only the remaining rows are written, in batches with a progress bar.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from gst_integrations.core.errors import DimensionMismatchError, StoreError
from gst_integrations.core.hits import VIEW_KEY as VIEW_META
from gst_integrations.stores.chroma.collection import settable_metadata
from gst_integrations.stores.chroma.source import ChromaSource

HEAD_META = "gst_head_key"
#: Row metadata: the signature of the source row a view row was written from.
SIG_META = "gst_sig"


def _head_key(engine: Any, view: str) -> str:
    """Identity of the vectors a view writes: its head's weights and the engine's metric."""
    h = hashlib.sha256(str(engine.metric).encode())
    for name, t in sorted(engine.head(view).module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


@dataclass
class WriteBackStats:
    """What a write-back or sync did."""

    written: int
    skipped: int
    deleted: int
    total: int
    seconds: float


def _target_collection(engine: Any, view: str, client: Any, name: str) -> Any:
    head = engine.head(view)
    metadata = {
        VIEW_META: view,
        "gst_instruction": head.instruction,
        "gst_view_dim": int(head.out_dim),
        "gst_view_metric": engine.metric,
        HEAD_META: _head_key(engine, view),
        "hnsw:space": "cosine" if engine.metric == "cosine" else "ip",
    }
    try:
        collection = client.get_or_create_collection(
            name, embedding_function=None, metadata=metadata
        )
    except Exception as exc:
        raise StoreError(f"cannot open or create Chroma collection {name!r}: {exc}") from exc
    recorded = (collection.metadata or {}).get(VIEW_META)
    if recorded not in (None, view):
        raise StoreError(
            f"collection {name!r} holds view {recorded!r}, not {view!r}; choose another name"
        )
    if (collection.metadata or {}).get("gst_view_dim", head.out_dim) != head.out_dim:
        raise DimensionMismatchError(
            f"collection {name!r} holds {collection.metadata['gst_view_dim']}-d vectors; "
            f"view {view!r} has {head.out_dim}"
        )
    return collection


def write_view_collection(
    engine: Any,
    view: str,
    client: Any,
    name: str | None = None,
    batch_size: int = 1000,
    show_progress: bool = True,
    on_batch: Callable[[int], None] | None = None,
) -> WriteBackStats:
    """Write (or bring up to date) view ``view`` of ``engine`` as Chroma collection ``name``.

    Resumable: ids already present are skipped and rows are upserted, so rerunning after an
    interruption finishes the job without duplicates. ``on_batch(n_written_so_far)`` is
    called after each batch (progress hooks, tests).
    """
    t0 = time.perf_counter()
    if name is None and getattr(engine.source, "name", None):
        name = f"{engine.source.name}.{view}"
    if not name:
        raise ValueError("pass the name of the collection to write")
    collection = _target_collection(engine, view, client, name)
    key = _head_key(engine, view)
    recorded_key = (collection.metadata or {}).get(HEAD_META)
    engine.refresh(view)
    ids, Z = engine.view_matrix(view)
    sigs = engine.signatures(ids)
    written_sig: dict[str, Any] = {}
    for page in ChromaSource(collection).iter_pages(max(batch_size, 1000), include_vectors=False):
        written_sig.update(
            (i, m.get(SIG_META)) for i, m in zip(page.ids, page.metadatas, strict=True)
        )
    # Skip rows written by this head from the same source row (same signature); rewrite
    # updated rows, and every row after a refit (another head key).
    same_head = recorded_key == key
    in_view = set(ids)
    stale = sorted(set(written_sig) - in_view)
    for s in range(0, len(stale), batch_size):
        collection.delete(ids=stale[s : s + batch_size])
    todo = np.array(
        [
            j
            for j, (i, sig) in enumerate(zip(ids, sigs, strict=True))
            if not (same_head and i in written_sig and written_sig[i] == sig)
        ],
        dtype=np.int64,
    )
    written = 0
    bar = tqdm(total=len(todo), desc=f"write view {view} -> {name}", disable=not show_progress)
    for s in range(0, len(todo), batch_size):
        rows = todo[s : s + batch_size]
        batch_ids = [ids[j] for j in rows]
        docs, metas = engine.documents(batch_ids)
        collection.upsert(
            ids=batch_ids,
            embeddings=Z[rows],
            documents=docs if any(d is not None for d in docs) else None,
            metadatas=[{**(m or {}), SIG_META: sigs[j]} for m, j in zip(metas, rows, strict=True)],
        )
        written += len(rows)
        bar.update(len(rows))
        if on_batch is not None:
            on_batch(written)
    bar.close()
    if recorded_key != key:  # only once every row holds this head's vectors
        meta = settable_metadata(collection.metadata)
        meta.update({HEAD_META: key, "gst_instruction": engine.head(view).instruction})
        collection.modify(metadata=meta)
    return WriteBackStats(
        written=written,
        skipped=len(ids) - len(todo),
        deleted=len(stale),
        total=int(collection.count()),
        seconds=time.perf_counter() - t0,
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
