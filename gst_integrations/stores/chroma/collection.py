"""Chroma collections that record the base encoder which filled them.

The fingerprint lives in the collection's metadata (scalar values only: ``gst_encoder_name``,
``gst_encoder_dim``, ``gst_encoder_key`` and the JSON fingerprint in
``gst_encoder_fingerprint``) so views can refuse vectors of another encoder. Clients are the
embedded ``PersistentClient`` by default and an ``HttpClient`` for a ``chroma run`` server.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import numpy as np

from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import EncoderMismatchError, StoreError

FP_JSON = "gst_encoder_fingerprint"

#: The file an embedded (``PersistentClient``) Chroma database keeps in its directory.
CHROMA_DB_FILE = "chroma.sqlite3"


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


def settable_metadata(metadata: dict[str, Any] | None) -> dict[str, Any]:
    """Collection metadata that ``modify()`` accepts: ``hnsw:*`` index settings removed."""
    return {k: v for k, v in (metadata or {}).items() if not k.startswith("hnsw:")}


def _require_database(name: str, path: str | os.PathLike[str] | None) -> None:
    """StoreError, before any client touches the directory, when it holds no Chroma database."""
    db_dir = os.fspath(path or "./chroma")
    if os.path.isfile(os.path.join(db_dir, CHROMA_DB_FILE)):
        return
    why = "does not exist" if not os.path.exists(db_dir) else f"holds no {CHROMA_DB_FILE}"
    raise StoreError(
        f"no Chroma database at {db_dir!r} (it {why}); pass create=True to create "
        f"collection {name!r} there"
    )


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
    that recorded another encoder raises ``EncoderMismatchError``. Opening (not creating)
    from an embedded directory that holds no Chroma database raises ``StoreError`` and
    leaves the directory as it was (a ``PersistentClient`` would create a database there).
    """
    if client is None and host is None and not create:
        _require_database(name, path)
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
    meta = settable_metadata(collection.metadata)
    meta.update(fingerprint_metadata(fp))
    collection.modify(metadata=meta)


#: Stored rows re-encoded to confirm which encoder filled a collection.
ADOPT_PROBES = 3


def adopt_fingerprint(
    collection: Any,
    encoder: Any,
    embed_text: Callable[[str | None, dict[str, Any]], str | None] | None = None,
) -> bool:
    """Record ``encoder``'s fingerprint on a collection a framework writer filled through it.

    LangChain's and LlamaIndex's writers record nothing, so heads fitted on such a store
    would say "unknown encoder". When the collection records no fingerprint, a few stored
    rows are re-encoded (``embed_text(document, metadata)`` gives the text the writer
    embedded; default: the document) and compared with their stored vectors; only if they
    match (cosine >= 0.999) is the fingerprint recorded. Returns whether it was recorded.
    """
    if read_fingerprint(collection.metadata) is not None:
        return False
    try:
        got = collection.get(limit=ADOPT_PROBES, include=["embeddings", "documents", "metadatas"])
    except Exception as exc:
        raise StoreError(f"cannot read collection {collection.name!r}: {exc}") from exc
    stored = got.get("embeddings")
    if stored is None or len(stored) == 0:
        return False
    texts = [
        (embed_text or (lambda d, m: d))(d, dict(m or {}))
        for d, m in zip(got["documents"], got["metadatas"] or [None] * len(stored), strict=True)
    ]
    if any(t is None for t in texts):
        return False
    fresh = np.asarray(encoder.encode(texts), np.float64)
    kept = np.asarray(stored, np.float64)
    if fresh.shape != kept.shape:
        return False
    cos = (fresh * kept).sum(1) / (
        np.linalg.norm(fresh, axis=1) * np.linalg.norm(kept, axis=1) + 1e-300
    )
    if float(cos.min()) < 0.999:
        return False
    record_fingerprint(collection, encoder.fingerprint())
    return True
