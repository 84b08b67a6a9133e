"""Chroma as the home of base vectors: open a collection, embed into it once, read it in pages.

``ChromaSource`` implements ``core.source.VectorSource`` over a chromadb ``Collection`` (an
embedded ``PersistentClient`` by default, an ``HttpClient`` for a ``chroma run`` server).
It reads with ``collection.get(limit=, offset=)`` pages, never the whole collection at once.
The base encoder's fingerprint is recorded in the collection's metadata (scalar values only:
``gst_encoder_name``, ``gst_encoder_dim``, ``gst_encoder_key`` and the JSON fingerprint in
``gst_encoder_fingerprint``) so views can refuse vectors of another encoder.

Chroma's default embedding function downloads a model, so every collection here is opened
with ``embedding_function=None``: vectors always come from our own encoder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from ..core.encoder import EncoderFingerprint
from ..core.errors import DimensionMismatchError, EncoderMismatchError, StoreError
from ..core.query_side import Candidate
from ..core.source import Page
from ..core.vector_cache import CachedEncoder

FP_JSON = "gst_encoder_fingerprint"
FP_NAME = "gst_encoder_name"
FP_DIM = "gst_encoder_dim"
FP_KEY = "gst_encoder_key"


def fingerprint_metadata(fp: EncoderFingerprint) -> dict[str, Any]:
    """Collection-metadata entries (scalars) that record a base encoder."""
    return {
        FP_NAME: fp.name,
        FP_DIM: int(fp.dim),
        FP_KEY: fp.key,
        FP_JSON: json.dumps(fp.to_dict(), separators=(",", ":")),
    }


def read_fingerprint(metadata: dict[str, Any] | None) -> dict[str, Any] | None:
    """The fingerprint dict recorded in collection metadata, or None."""
    raw = (metadata or {}).get(FP_JSON)
    if not raw:
        return None
    try:
        return dict(json.loads(raw))
    except (TypeError, ValueError) as exc:
        raise StoreError(f"the collection's {FP_JSON} metadata is not valid JSON: {exc}") from exc


def chroma_client(
    path: str | os.PathLike[str] | None = None, host: str | None = None, port: int | None = None
) -> Any:
    """A ``PersistentClient(path)``, or an ``HttpClient`` when ``host`` is given."""
    import chromadb

    try:
        if host is not None:
            client = chromadb.HttpClient(host=host, port=int(port or 8000))
            client.heartbeat()
            return client
        return chromadb.PersistentClient(path=str(path or "./chroma"))
    except Exception as exc:  # chromadb raises ValueError, httpx errors, ...
        where = f"server {host}:{port or 8000}" if host is not None else f"path {path!r}"
        raise StoreError(f"cannot reach Chroma at {where}: {exc}") from exc


def _clean_collection_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    # hnsw:* keys are index configuration; modify() cannot change them.
    return {k: v for k, v in (metadata or {}).items() if not k.startswith("hnsw:")}


def open_chroma_collection(
    name: str,
    path: str | os.PathLike[str] | None = None,
    host: str | None = None,
    port: int | None = None,
    create: bool = False,
    encoder_fingerprint: EncoderFingerprint | dict[str, Any] | None = None,
    client: Any = None,
    space: str | None = None,
) -> Any:
    """Open (or with ``create=True`` create) a collection without any embedding function.

    With ``encoder_fingerprint`` a new collection records it, and an existing collection
    that recorded another encoder raises ``EncoderMismatchError``.
    """
    client = client if client is not None else chroma_client(path, host, port)
    fp = (
        EncoderFingerprint.from_dict(encoder_fingerprint)
        if isinstance(encoder_fingerprint, dict)
        else encoder_fingerprint
    )
    try:
        if create:
            metadata = fingerprint_metadata(fp) if fp is not None else None
            if space is not None:
                metadata = {**(metadata or {}), "hnsw:space": space}
            collection = client.get_or_create_collection(
                name, embedding_function=None, metadata=metadata
            )
        else:
            collection = client.get_collection(name, embedding_function=None)
    except Exception as exc:
        if type(exc).__name__ == "NotFoundError" or "does not exist" in str(exc):
            try:
                known = sorted(
                    c if isinstance(c, str) else c.name for c in client.list_collections()
                )
            except Exception:  # pragma: no cover - listing is best effort
                known = []
            raise StoreError(
                f"Chroma has no collection {name!r} (collections: {', '.join(known) or 'none'}); "
                "pass create=True to create it"
            ) from exc
        raise StoreError(f"cannot open Chroma collection {name!r}: {exc}") from exc
    if fp is not None:
        recorded = read_fingerprint(collection.metadata)
        if recorded is None:
            if collection.count() == 0:
                record_fingerprint(collection, fp)
        else:
            why = EncoderFingerprint.from_dict(recorded).mismatch(fp)
            if why:
                raise EncoderMismatchError(
                    f"collection {name!r} holds vectors of another base encoder: {why}"
                )
    return collection


def record_fingerprint(collection: Any, fp: EncoderFingerprint) -> None:
    """Store the encoder fingerprint in the collection metadata (keeping other entries)."""
    meta = _clean_collection_metadata(collection.metadata)
    meta.update(fingerprint_metadata(fp))
    collection.modify(metadata=meta)


def embed_into_chroma(
    collection: Any,
    texts: Sequence[str],
    ids: Sequence[str],
    metadatas: Sequence[dict[str, Any] | None] | None = None,
    encoder: Any = None,
    batch_size: int = 256,
    show_progress: bool = False,
) -> int:
    """Embed texts once with the base encoder (through its cache) and upsert them.

    Records the encoder fingerprint in the collection metadata; a collection that recorded
    another encoder raises ``EncoderMismatchError`` before anything is written. Returns the
    number of rows written.
    """
    texts, ids = list(texts), [str(i) for i in ids]
    if len(texts) != len(ids) or (metadatas is not None and len(metadatas) != len(ids)):
        raise ValueError("texts, ids and metadatas must have the same length")
    if len(set(ids)) != len(ids):
        raise ValueError("ids must be unique")
    enc = encoder if isinstance(encoder, CachedEncoder) else CachedEncoder(encoder)
    fp = enc.fingerprint()
    recorded = read_fingerprint(collection.metadata)
    if recorded is not None:
        why = EncoderFingerprint.from_dict(recorded).mismatch(fp)
        if why:
            raise EncoderMismatchError(
                f"collection {collection.name!r} holds vectors of another base encoder: {why}"
            )
    elif collection.count() > 0:
        raise EncoderMismatchError(
            f"collection {collection.name!r} already holds vectors of an unrecorded encoder; "
            "embed into a new collection"
        )
    else:
        record_fingerprint(collection, fp)
    written = 0
    bar = tqdm(total=len(ids), desc=f"embed into {collection.name}", disable=not show_progress)
    for s in range(0, len(ids), batch_size):
        chunk = slice(s, s + batch_size)
        vecs = enc.encode(texts[chunk])
        metas = [dict(m) if m else None for m in metadatas[chunk]] if metadatas else None
        collection.upsert(ids=ids[chunk], embeddings=vecs, documents=texts[chunk], metadatas=metas)
        written += len(vecs)
        bar.update(len(vecs))
    bar.close()
    return written


class ChromaSource:
    """``VectorSource`` over a chromadb Collection, read in pages."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self._dim: int | None = None

    @property
    def name(self) -> str:
        return str(self.collection.name)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:
            raise StoreError(f"Chroma {what} on collection {self.name!r} failed: {exc}") from exc

    def fingerprint_info(self) -> dict[str, Any] | None:
        return read_fingerprint(self.collection.metadata)

    def dim(self) -> int | None:
        if self._dim is None:
            meta = self.collection.metadata or {}
            if FP_DIM in meta:
                recorded = int(meta[FP_DIM])
            else:
                recorded = None
            got = self._call("get", self.collection.get, limit=1, include=["embeddings"])
            emb = got.get("embeddings")
            if emb is None or len(emb) == 0:
                return recorded
            actual = int(np.asarray(emb[0]).shape[-1])
            if recorded is not None and recorded != actual:
                raise DimensionMismatchError(
                    f"collection {self.name!r} records {recorded}-d vectors but holds "
                    f"{actual}-d vectors"
                )
            self._dim = actual
        return self._dim

    def count(self) -> int:
        return int(self._call("count", self.collection.count))

    def list_ids(self, page_size: int = 1000) -> Iterator[list[str]]:
        offset = 0
        while True:
            got = self._call("get", self.collection.get, limit=page_size, offset=offset, include=[])
            ids = list(got["ids"])
            if not ids:
                return
            yield ids
            offset += len(ids)
            if len(ids) < page_size:
                return

    def _page(self, got: dict[str, Any], include_documents: bool) -> Page:
        ids = list(got["ids"])
        emb = got.get("embeddings")
        vectors = (
            np.asarray(emb, dtype=np.float32).reshape(len(ids), -1)
            if emb is not None and len(ids)
            else np.zeros((0, self._dim or 0), np.float32)
        )
        docs = got.get("documents") if include_documents else None
        metas = got.get("metadatas") or [None] * len(ids)
        return Page(
            ids=ids,
            documents=list(docs) if docs is not None else [None] * len(ids),
            metadatas=[dict(m) if m else {} for m in metas],
            vectors=vectors,
        )

    def _include(self, include_documents: bool) -> list[str]:
        return ["embeddings", "metadatas"] + (["documents"] if include_documents else [])

    def get(self, ids: Sequence[str], include_documents: bool = True) -> Page:
        ids = list(ids)
        if not ids:
            return Page([], [], [], np.zeros((0, self.dim() or 0), np.float32))
        got = self._call(
            "get", self.collection.get, ids=ids, include=self._include(include_documents)
        )
        return self._page(got, include_documents)

    def iter_pages(self, page_size: int = 1000) -> Iterator[Page]:
        offset = 0
        while True:
            got = self._call(
                "get",
                self.collection.get,
                limit=page_size,
                offset=offset,
                include=self._include(True),
            )
            page = self._page(got, True)
            if not len(page):
                return
            yield page
            offset += len(page)
            if len(page) < page_size:
                return


def chroma_search_base(collection: Any, where: dict[str, Any] | None = None):
    """A base-index search function for ``QuerySideSearcher`` over Chroma's HNSW index.

    Returns candidates with their base vectors, so cosine views can be re-ranked exactly.
    """

    def search(vector: np.ndarray, n: int) -> list[Candidate]:
        n = min(int(n), max(collection.count(), 1))
        try:
            got = collection.query(
                query_embeddings=[np.asarray(vector, np.float32)],
                n_results=n,
                where=where,
                include=["embeddings", "metadatas", "documents", "distances"],
            )
        except Exception as exc:
            raise StoreError(f"Chroma query on {collection.name!r} failed: {exc}") from exc
        ids = got["ids"][0]
        emb = got["embeddings"][0] if got.get("embeddings") is not None else [None] * len(ids)
        docs = got["documents"][0] if got.get("documents") is not None else [None] * len(ids)
        metas = got["metadatas"][0] if got.get("metadatas") is not None else [None] * len(ids)
        dists = got["distances"][0] if got.get("distances") is not None else [None] * len(ids)
        return [
            Candidate(
                id=i,
                document=d,
                metadata=dict(m) if m else {},
                vector=np.asarray(e, np.float32) if e is not None else None,
                score=-float(s) if s is not None else None,
            )
            for i, d, m, e, s in zip(ids, docs, metas, emb, dists, strict=True)
        ]

    return search
