"""Write a view into a store of its own and keep it in sync: the algorithm, once.

A written view holds the view vectors under the source's ids, with the same documents and
metadata, so any vector database can index the view with its own ANN and scale it out.
Every written row records two things: the signature of the source row it was written
from (``row_signature`` of its document and metadata) and the content hash of the head
that wrote it (``head_key``: the head's weights and the engine's metric). Writing is a
sync against what the target holds:

* ids the target holds that the source no longer has are deleted;
* a row is written when the target lacks it, or holds it with another signature (the
  document changed) or another head (a refit, or a rollback to an older head);
* every other row is skipped.

Because the decision is per row, a write interrupted at any point (a refit half written, a
killed job) finishes on the next run, and upserts never duplicate. Stores implement only
``ViewSink``: schema and I/O (``stores.chroma.writeback``, ``stores.milvus.writeback``).
The distributed writer (``stores.ray_writeback``) applies the same rule per batch.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gst_integrations.core.feedback import progress

#: What the target holds for one id: (source-row signature, head key); None where unknown.
Held = tuple[int | None, str | None]

#: Show a progress bar from this many rows to write (about two seconds of writing).
PROGRESS_MIN_ROWS = 10_000


@dataclass
class WriteBackStats:
    """What a write-back or sync did."""

    written: int
    skipped: int
    deleted: int
    total: int
    seconds: float


@dataclass
class ViewRows:
    """A batch of view rows to write: vectors (n, z) float32, and per row what wrote it."""

    ids: list[str]
    vectors: np.ndarray
    documents: list[str | None]
    metadatas: list[dict[str, Any]]
    signatures: list[int]
    head: str

    def __len__(self) -> int:
        return len(self.ids)


@runtime_checkable
class ViewSink(Protocol):
    """A store that holds one written view: schema and I/O, no sync logic."""

    #: How progress bars and errors name the target ("chroma:reviews.condition").
    label: str

    def prepare(self, view: str, head: Any, metric: str) -> None:
        """Create the target, or check that it holds this view; make it readable."""
        ...

    def scan(self, page_size: int) -> Iterator[list[tuple[str, int | None, str | None]]]:
        """Every (id, signature, head key) the target holds, in pages."""
        ...

    def held(self, ids: Sequence[str]) -> dict[str, Held]:
        """(signature, head key) of those of ``ids`` the target holds."""
        ...

    def delete(self, ids: Sequence[str]) -> None: ...

    def upsert(self, rows: ViewRows) -> None: ...

    def finish(self, view: str, head: Any, key: str, changed: bool) -> None:
        """After a complete sync (flush, record what the target now holds)."""
        ...

    def count(self) -> int: ...


def head_key(head: Any, metric: str) -> str:
    """Content hash of the vectors a head writes: its weights and the engine's metric."""
    h = hashlib.sha256(str(metric).encode())
    for name, t in sorted(head.module.state_dict().items()):
        h.update(name.encode())
        h.update(t.detach().cpu().float().contiguous().numpy().tobytes())
    return h.hexdigest()[:32]


def rows_to_write(
    ids: Sequence[str], signatures: Sequence[int | None], held: Mapping[str, Held], key: str
) -> list[int]:
    """Positions of the rows to (re)write: the target lacks them, or holds them from
    another source row (signature) or another head (key). The one rule of every sync."""
    return [
        j
        for j, (i, sig) in enumerate(zip(ids, signatures, strict=True))
        if held.get(i) != (None if sig is None else int(sig), key)
    ]


def read_held(sink: ViewSink, page_size: int) -> dict[str, Held]:
    """Everything the target holds: id -> (signature, head key)."""
    out: dict[str, Held] = {}
    for page in sink.scan(page_size):
        out.update((i, (sig, head)) for i, sig, head in page)
    return out


def delete_gone(
    sink: ViewSink, held_ids: Iterable[str], alive: Callable[[list[str]], set[str]], batch: int
) -> int:
    """Delete the ids the target holds that ``alive`` (a batch -> ids still in the source)
    no longer knows; returns how many."""
    deleted = 0
    chunk: list[str] = []

    def flush() -> None:
        nonlocal deleted
        gone = sorted(set(chunk) - alive(chunk))
        if gone:
            sink.delete(gone)
            deleted += len(gone)
        chunk.clear()

    for i in held_ids:
        chunk.append(i)
        if len(chunk) >= batch:
            flush()
    if chunk:
        flush()
    return deleted


def sync_view(
    engine: Any,
    view: str,
    sink: ViewSink,
    batch_size: int = 1000,
    show_progress: bool | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> WriteBackStats:
    """Write (or bring up to date) view ``view`` of ``engine`` into ``sink``.

    Resumable: rows already written from the same source row by the same head are skipped,
    so rerunning after an interruption finishes the job without duplicates.
    ``on_batch(n_written_so_far)`` is called after each batch (progress hooks, tests).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    t0 = time.perf_counter()
    head = engine.head(view)
    sink.prepare(view, head, engine.metric)
    key = head_key(head, engine.metric)
    engine.refresh(view)
    ids, Z = engine.view_matrix(view)
    sigs = engine.signatures(ids)
    held = read_held(sink, max(batch_size, 1000))
    in_view = set(ids)
    deleted = delete_gone(sink, held, lambda chunk: in_view.intersection(chunk), batch_size)
    todo = rows_to_write(ids, sigs, held, key)
    written = 0
    with progress(
        total=len(todo),
        desc=f"write view {view} -> {sink.label}",
        unit="row",
        show=show_progress,
        min_total=PROGRESS_MIN_ROWS,
    ) as bar:
        for s in range(0, len(todo), batch_size):
            rows = todo[s : s + batch_size]
            batch_ids = [ids[j] for j in rows]
            docs, metas = engine.documents(batch_ids)
            sink.upsert(
                ViewRows(
                    ids=batch_ids,
                    vectors=np.ascontiguousarray(Z[rows], np.float32),
                    documents=list(docs),
                    metadatas=[dict(m or {}) for m in metas],
                    signatures=[int(sigs[j]) for j in rows],
                    head=key,
                )
            )
            written += len(rows)
            bar.update(len(rows))
            if on_batch is not None:
                on_batch(written)
    sink.finish(view, head, key, changed=bool(written or deleted))
    return WriteBackStats(
        written=written,
        skipped=len(ids) - len(todo),
        deleted=deleted,
        total=sink.count(),
        seconds=time.perf_counter() - t0,
    )
