"""Reading a whole embedded Chroma collection fast: its persisted segments, checked.

Why: ``collection.get`` returns vectors as Python lists of floats. Building those lists and
turning them back into a float32 matrix costs about 80% of a paged read, so the API tops
out at a few thousand rows/s however it is paged or threaded (the work holds the GIL).
An embedded collection (``PersistentClient``) keeps everything a full read needs on
disk, in two places this module reads directly:

* vectors: the collection's persisted HNSW segment (``data_level0.bin`` holds each
  element's vector next to its links and label, ``length.bin`` each vector's norm for the
  cosine space, where the stored vector is unit length, ``index_metadata.pickle`` the id
  -> label map, a plain dict read by an unpickler that refuses every class), plus the
  write-ahead log (``embeddings_queue`` in ``chroma.sqlite3``) for the writes the segment
  has not persisted yet (every write after the segment's ``max_seq_id``);
* ids, documents and metadata: the metadata segment's tables in ``chroma.sqlite3``, read
  in one read-only transaction.

This is Chroma's own on-disk layout, not its API, so the read proves itself before it is
used: the metadata segment must be up to date with the log, the vector side must hold
exactly the metadata side's ids, and a sample of rows must equal what ``collection.get``
returns. Anything unexpected (a client/server collection, another layout version, a write
racing the read) makes ``iter_collection_pages`` fall back to the API's paged read, with a
log line saying why. ``GST_CHROMA_FAST_READ=0`` switches the fast read off.
"""

from __future__ import annotations

import io
import json
import os
import pickle
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gst_integrations.core.feedback import logger
from gst_integrations.core.views.source import Page

__all__ = ["FAST_READ_ENV", "FastReadUnavailable", "iter_collection_pages", "read_segments"]

FAST_READ_ENV = "GST_CHROMA_FAST_READ"
#: Rows of the sample compared with ``collection.get`` before a fast read is trusted.
VERIFY_SAMPLE = 32
_DOCUMENT_KEY = "chroma:document"
# Write-ahead-log operations (chromadb's Operation enum as stored in embeddings_queue).
_ADD, _UPDATE, _UPSERT, _DELETE = 0, 1, 2, 3
_HEADER_VERSION = 1
_HEADER_BYTES = 100


class FastReadUnavailable(Exception):
    """The fast read does not apply or could not be trusted; the API read is used."""


class _PlainUnpickler(pickle.Unpickler):
    """Reads dicts, lists, strings and numbers; refuses any class or function."""

    def find_class(self, module: str, name: str) -> Any:
        raise FastReadUnavailable(f"index metadata refers to {module}.{name}")


@dataclass
class Snapshot:
    """A consistent read of a collection: parallel lists, and vectors on demand."""

    ids: list[str]
    documents: list[str | None]
    metadatas: list[dict[str, Any]]
    vectors: Callable[[np.ndarray], np.ndarray] | None  # positions -> (n, d) float32
    order: np.ndarray | None = None  # the order to read positions in (None: as listed)


@dataclass
class _Hnsw:
    data: np.memmap  # (elements, bytes per element) uint8
    lengths: np.ndarray | None  # per-element norms (cosine space), else None
    offset: int  # byte offset of the vector in an element
    dim: int
    row_of_label: np.ndarray  # label -> element row (-1: none)
    id_to_label: dict[str, int]


def _local_paths(collection: Any) -> tuple[Path, Path]:
    """chroma.sqlite3 and the persist directory of an embedded collection."""
    try:
        settings = collection._client.get_settings()
    except AttributeError as exc:
        raise FastReadUnavailable("not a chromadb collection") from exc
    if not settings.is_persistent or "rust" not in str(settings.chroma_api_impl).lower():
        raise FastReadUnavailable("not an embedded PersistentClient collection")
    root = Path(settings.persist_directory)
    db = root / "chroma.sqlite3"
    if not db.is_file():
        raise FastReadUnavailable(f"no {db}")
    return db, root


def _metadata_value(s: Any, i: Any, f: Any, b: Any) -> Any:
    if s is not None:
        return s
    if i is not None:
        return int(i)
    if f is not None:
        return float(f)
    if b is not None:
        return bool(b)
    return None


def _read_sql(db: Path, collection_id: str, include_documents: bool) -> dict[str, Any]:
    """Ids, documents, metadata and the log tail of one collection, in one transaction."""
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        con.execute("BEGIN")
        segments = dict(
            con.execute(
                "SELECT scope, id FROM segments WHERE collection = ?", (collection_id,)
            ).fetchall()
        )
        meta_seg, vec_seg = segments.get("METADATA"), segments.get("VECTOR")
        if meta_seg is None or vec_seg is None:
            raise FastReadUnavailable(f"segments {sorted(segments)}")
        seqs = dict(
            con.execute(
                "SELECT segment_id, seq_id FROM max_seq_id WHERE segment_id IN (?, ?)",
                (meta_seg, vec_seg),
            ).fetchall()
        )
        topic_like = f"%/{collection_id}"
        queue_max = con.execute(
            "SELECT max(seq_id) FROM embeddings_queue WHERE topic LIKE ?", (topic_like,)
        ).fetchone()[0]
        if queue_max is not None and int(seqs.get(meta_seg, -1)) < int(queue_max):
            raise FastReadUnavailable("the metadata segment is behind the write-ahead log")
        rows = con.execute(
            "SELECT id, embedding_id FROM embeddings WHERE segment_id = ? ORDER BY id",
            (meta_seg,),
        ).fetchall()
        pos = {r: j for j, (r, _) in enumerate(rows)}
        ids = [e for _, e in rows]
        docs: list[str | None] = [None] * len(ids)
        metas: list[dict[str, Any]] = [{} for _ in ids]
        for r, key, s, i, f, b in con.execute(
            "SELECT m.id, m.key, m.string_value, m.int_value, m.float_value, m.bool_value "
            "FROM embedding_metadata m JOIN embeddings e ON e.id = m.id "
            "WHERE e.segment_id = ?",
            (meta_seg,),
        ):
            j = pos[r]
            if key == _DOCUMENT_KEY:
                if include_documents:
                    docs[j] = s
            elif key.startswith("chroma:"):
                continue
            else:
                metas[j][key] = _metadata_value(s, i, f, b)
        arrays: dict[tuple[int, str], list[Any]] = {}
        for r, key, s, i, f, b in con.execute(
            "SELECT a.id, a.key, a.string_value, a.int_value, a.float_value, a.bool_value "
            "FROM embedding_metadata_array a JOIN embeddings e ON e.id = a.id "
            "WHERE e.segment_id = ? ORDER BY a.rowid",
            (meta_seg,),
        ):
            arrays.setdefault((pos[r], key), []).append(_metadata_value(s, i, f, b))
        for (j, key), values in arrays.items():
            metas[j][key] = values
        tail = con.execute(
            "SELECT seq_id, operation, id, vector, encoding FROM embeddings_queue "
            "WHERE topic LIKE ? AND seq_id > ? ORDER BY seq_id",
            (topic_like, int(seqs.get(vec_seg, -1))),
        ).fetchall()
        con.execute("COMMIT")
    except sqlite3.Error as exc:
        raise FastReadUnavailable(f"sqlite: {exc}") from exc
    finally:
        con.close()
    id_pos = {e: j for j, e in enumerate(ids)}
    return {
        "ids": ids,
        "docs": docs,
        "metas": metas,
        "tail": tail,
        "vec_seg": vec_seg,
        "pos": id_pos,
    }


def _read_hnsw(folder: Path, cosine: bool) -> _Hnsw | None:
    """The persisted HNSW segment, or None when nothing was persisted yet."""
    header_path = folder / "header.bin"
    if not header_path.exists():
        return None
    header = np.fromfile(header_path, dtype=np.uint8)
    if len(header) != _HEADER_BYTES:
        raise FastReadUnavailable(f"HNSW header of {len(header)} bytes")

    def u64(at: int) -> int:
        return int(header[at : at + 8].view(np.uint64)[0])

    version = int(header[0:4].view(np.int32)[0])
    count, size, label_at, data_at = u64(0x14), u64(0x1C), u64(0x24), u64(0x2C)
    if version != _HEADER_VERSION or u64(0x04) != 0:
        raise FastReadUnavailable(f"HNSW layout version {version}")
    dim4 = label_at - data_at
    if dim4 <= 0 or dim4 % 4 or size != label_at + 8:
        raise FastReadUnavailable("unexpected HNSW element layout")
    data_path = folder / "data_level0.bin"
    if data_path.stat().st_size < count * size:
        raise FastReadUnavailable("HNSW data shorter than its header says")
    data = np.memmap(data_path, dtype=np.uint8, mode="r", shape=(count, size))
    labels = np.ascontiguousarray(data[:, label_at:size]).view(np.uint64).ravel()
    deleted = (np.asarray(data[:, 2]) & 1).astype(bool)
    lengths = None
    if cosine:
        lengths = np.fromfile(folder / "length.bin", dtype=np.float32)
        if len(lengths) < count:
            raise FastReadUnavailable("HNSW norms shorter than its data")
    with open(folder / "index_metadata.pickle", "rb") as fh:
        meta = _PlainUnpickler(io.BytesIO(fh.read())).load()
    id_to_label = meta.get("id_to_label") if isinstance(meta, dict) else None
    if not isinstance(id_to_label, dict):
        raise FastReadUnavailable("index metadata without id_to_label")
    top = int(labels.max()) + 1 if count else 1
    row_of_label = np.full(top, -1, np.int64)
    live = np.flatnonzero(~deleted)
    row_of_label[labels[live].astype(np.int64)] = live
    return _Hnsw(data, lengths, data_at, dim4 // 4, row_of_label, id_to_label)


def _space(collection: Any) -> str:
    config = getattr(collection, "configuration_json", None) or {}
    space = (config.get("hnsw") or {}).get("space")
    if space is None:
        space = (collection.metadata or {}).get("hnsw:space", "l2")
    return str(space)


def read_segments(collection: Any, include_vectors: bool = True) -> Snapshot:
    """Everything in an embedded collection, read from its segments (see the module doc).

    Raises ``FastReadUnavailable`` when the read does not apply or cannot be trusted.
    """
    db, root = _local_paths(collection)
    sql = _read_sql(db, str(collection.id), include_documents=True)
    ids: list[str] = sql["ids"]
    if not include_vectors:
        return Snapshot(ids, sql["docs"], sql["metas"], None)
    cosine = _space(collection) == "cosine"
    hnsw = _read_hnsw(root / sql["vec_seg"], cosine)
    # The log tail, replayed in order: id -> vector (None: deleted).
    replay: dict[str, np.ndarray | None] = {}
    for _seq, op, id_, blob, encoding in sql["tail"]:
        if op == _DELETE:
            replay[id_] = None
            continue
        if blob is None:
            continue  # a metadata-only update
        if encoding != "FLOAT32":
            raise FastReadUnavailable(f"log vector encoding {encoding!r}")
        known = replay.get(id_) is not None or (
            id_ not in replay and hnsw is not None and id_ in hnsw.id_to_label
        )
        if op == _ADD and known:
            continue  # adding an existing id changes nothing
        if op == _UPDATE and not known:
            continue
        replay[id_] = np.frombuffer(blob, dtype="<f4")
    # Where each id's vector lives: an HNSW element row, or the log (row -1).
    rows = np.full(len(ids), -1, np.int64)
    logged: dict[int, np.ndarray] = {}
    if hnsw is not None:
        id_to_label, rol = hnsw.id_to_label, hnsw.row_of_label
        labels = np.fromiter((id_to_label.get(i, -1) for i in ids), np.int64, len(ids))
        known = (labels >= 0) & (labels < len(rol))
        rows[known] = rol[labels[known]]
    for id_, vec in replay.items():
        if vec is not None:
            continue
        if id_ in sql["pos"]:
            raise FastReadUnavailable(f"id {id_!r} deleted in the log but still listed")
    for id_, vec in replay.items():
        j = sql["pos"].get(id_)
        if vec is not None and j is not None:
            logged[j] = vec
            rows[j] = -1
    missing = int(np.count_nonzero(rows < 0)) - len(logged)
    if missing:
        raise FastReadUnavailable(f"{missing} ids have no vector in the segment")
    # The vector side holds exactly the listed ids: as many live ones as listed.
    live = sum(1 for v in replay.values() if v is not None)
    if hnsw is not None:
        alive_labels = np.fromiter(
            (label for i, label in hnsw.id_to_label.items() if i not in replay), np.int64
        )
        alive_labels = alive_labels[alive_labels < len(hnsw.row_of_label)]
        live += int(np.count_nonzero(hnsw.row_of_label[alive_labels] >= 0))
    if live != len(ids):
        raise FastReadUnavailable(
            f"the vector segment holds {live} ids, the metadata segment {len(ids)}"
        )
    dims = {len(v) for v in logged.values()} | ({hnsw.dim} if hnsw is not None else set())
    if len(dims) > 1:
        raise FastReadUnavailable(f"vectors of several dimensions {sorted(dims)}")
    dim = dims.pop() if dims else 0

    def vectors(positions: np.ndarray) -> np.ndarray:
        out = np.empty((len(positions), dim), np.float32)
        r = rows[positions]
        seg = np.flatnonzero(r >= 0)
        if len(seg):
            assert hnsw is not None
            order = np.argsort(r[seg], kind="stable")  # sequential reads of the memmap
            el = r[seg][order]
            raw = np.ascontiguousarray(hnsw.data[el, hnsw.offset : hnsw.offset + 4 * dim])
            block = raw.view("<f4").reshape(len(el), dim)
            if hnsw.lengths is not None:
                block = block * hnsw.lengths[el][:, None]
            out[seg[order]] = block
        for k in np.flatnonzero(r < 0):
            out[k] = logged[int(positions[k])]
        return out

    # Pages follow the segment's element order (logged rows last): sequential reads.
    order = np.argsort(np.where(rows < 0, np.iinfo(np.int64).max, rows), kind="stable")
    return Snapshot(ids, sql["docs"], sql["metas"], vectors, order)


def _verify(collection: Any, snap: Snapshot, include_vectors: bool) -> None:
    """Compare a sample of the snapshot with ``collection.get``; raise on any difference."""
    n = len(snap.ids)
    if n == 0:
        return
    picks = np.unique(np.linspace(0, n - 1, min(VERIFY_SAMPLE, n)).astype(np.int64))
    want_ids = [snap.ids[j] for j in picks]
    include = ["metadatas", "documents"] + (["embeddings"] if include_vectors else [])
    got = collection.get(ids=want_ids, include=include)
    by_id = {i: k for k, i in enumerate(got["ids"])}
    if len(by_id) != len(want_ids) or int(collection.count()) != n:
        raise FastReadUnavailable("the store changed during the read")
    mine = snap.vectors(picks) if include_vectors and snap.vectors is not None else None
    for k, j in enumerate(picks):
        g = by_id[snap.ids[j]]
        if (got["documents"][g] or None) != (snap.documents[j] or None):
            raise FastReadUnavailable(f"document of {snap.ids[j]!r} differs from the API's")
        if dict(got["metadatas"][g] or {}) != snap.metadatas[j]:
            raise FastReadUnavailable(f"metadata of {snap.ids[j]!r} differs from the API's")
        if mine is not None:
            theirs = np.asarray(got["embeddings"][g], np.float32)
            if theirs.shape != mine[k].shape or not np.allclose(
                theirs, mine[k], rtol=1e-5, atol=1e-6
            ):
                raise FastReadUnavailable(f"vector of {snap.ids[j]!r} differs from the API's")


def _fast_enabled() -> bool:
    return os.environ.get(FAST_READ_ENV, "1").strip().lower() not in ("0", "false", "off", "no")


def iter_collection_pages(
    collection: Any,
    page_size: int,
    include_vectors: bool,
    api_pages: Callable[[], Iterator[Page]],
) -> Iterator[Page]:
    """Every row of ``collection`` in pages: from its segments when that read is possible
    and checks out, else from ``api_pages()`` (the paged ``collection.get``)."""
    snap: Snapshot | None = None
    if _fast_enabled():
        try:
            snap = read_segments(collection, include_vectors)
            _verify(collection, snap, include_vectors)
        except FastReadUnavailable as exc:
            logger.info("Chroma fast read of %r not used: %s", collection.name, exc)
            snap = None
        except (OSError, ValueError, KeyError, json.JSONDecodeError) as exc:
            logger.info(
                "Chroma fast read of %r failed (%s); reading through the API", collection.name, exc
            )
            snap = None
    if snap is None:
        yield from api_pages()
        return
    order = snap.order if snap.order is not None else np.arange(len(snap.ids))
    for s in range(0, len(order), page_size):
        pos = order[s : s + page_size]
        vectors = (
            snap.vectors(pos)
            if include_vectors and snap.vectors is not None
            else np.zeros((len(pos), 0), np.float32)
        )
        yield Page(
            ids=[snap.ids[j] for j in pos],
            documents=[snap.documents[j] for j in pos],
            metadatas=[dict(snap.metadatas[j]) for j in pos],
            vectors=vectors,
        )
