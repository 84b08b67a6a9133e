"""A persistent content-hash cache of base vectors, so no text is ever encoded twice.

Keys are (encoder fingerprint key, sha256 of the text); values are float32 bytes in SQLite
(WAL mode, one connection per thread), which makes the cache safe to share between
threads and processes. ``CachedEncoder`` puts it in front of any base encoder.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from gst_integrations.core.encoders.base import BaseEncoder, EncoderBase
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.validation import check_text


def text_key(text: str) -> str:
    """The cache key of a text (InvalidTextError for text that is not valid Unicode)."""
    return hashlib.sha256(check_text(text).encode("utf-8")).hexdigest()


class VectorCache:
    """Base vectors by text hash, namespaced by encoder fingerprint; None path = memory only."""

    def __init__(self, path: str | os.PathLike[str] | None = None, memory_items: int = 10_000):
        self.path = Path(path) if path is not None else None
        self._local = threading.local()
        self._lock = threading.Lock()
        self._memory: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._memory_items = memory_items
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self._connect() as conn:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS vectors (namespace TEXT, key TEXT, dim INTEGER,"
                    " data BLOB, PRIMARY KEY (namespace, key))"
                )

    def _connect(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(str(self.path), timeout=30.0)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self._local.conn = conn
        return conn

    def get_many(self, namespace: str, keys: Sequence[str]) -> dict[str, np.ndarray]:
        """The cached vectors among ``keys``."""
        found: dict[str, np.ndarray] = {}
        missing: list[str] = []
        with self._lock:
            for key in keys:
                vec = self._memory.get((namespace, key))
                if vec is None:
                    missing.append(key)
                else:
                    self._memory.move_to_end((namespace, key))
                    found[key] = vec
        if missing and self.path is not None:
            conn = self._connect()
            for start in range(0, len(missing), 500):
                chunk = missing[start : start + 500]
                marks = ",".join("?" * len(chunk))
                rows = conn.execute(
                    f"SELECT key, data FROM vectors WHERE namespace=? AND key IN ({marks})",
                    [namespace, *chunk],
                ).fetchall()
                for key, data in rows:
                    found[key] = np.frombuffer(data, dtype=np.float32).copy()
            self._remember(namespace, {k: found[k] for k in missing if k in found})
        return found

    def put_many(self, namespace: str, items: dict[str, np.ndarray]) -> None:
        if not items:
            return
        self._remember(namespace, items)
        if self.path is not None:
            conn = self._connect()
            with conn:
                conn.executemany(
                    "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?, ?)",
                    [
                        (namespace, k, int(v.shape[-1]), np.asarray(v, np.float32).tobytes())
                        for k, v in items.items()
                    ],
                )

    def _remember(self, namespace: str, items: dict[str, np.ndarray]) -> None:
        with self._lock:
            for key, vec in items.items():
                self._memory[(namespace, key)] = vec
                self._memory.move_to_end((namespace, key))
            while len(self._memory) > self._memory_items:
                self._memory.popitem(last=False)

    def __len__(self) -> int:
        if self.path is None:
            return len(self._memory)
        return int(self._connect().execute("SELECT COUNT(*) FROM vectors").fetchone()[0])


class CachedEncoder(EncoderBase):
    """A base encoder behind a VectorCache: each distinct text is encoded once."""

    def __init__(
        self, encoder: object = None, cache: VectorCache | str | os.PathLike[str] | None = None
    ):
        self.base_encoder: BaseEncoder = as_encoder(encoder)
        if cache is None or isinstance(cache, (str, os.PathLike)):
            cache = VectorCache(cache)
        self.cache = cache
        self.name = self.base_encoder.name
        self.n_encoded = 0

    @property
    def dim(self) -> int:
        return self.base_encoder.dim

    def fingerprint(self) -> EncoderFingerprint:
        return self.base_encoder.fingerprint()

    def _encode(self, texts: list[str]) -> np.ndarray:
        return self.encode(texts)

    def _encode_query(self, texts: list[str]) -> np.ndarray:
        return self.encode_query(texts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors, encoding only texts not cached before (duplicates once)."""
        return self._cached(texts, query=False)

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors, cached apart from documents when the encoder is asymmetric."""
        return self._cached(texts, query=True)

    def _cached(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if isinstance(texts, str):  # else each character would be encoded as a text
            raise TypeError("encode() takes a list of texts, not a single string")
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        fp = self.fingerprint()
        query = query and fp.asymmetric
        namespace = fp.key + (":query" if query else "")
        keys = [text_key(t) for t in texts]
        found = self.cache.get_many(namespace, list(dict.fromkeys(keys)))
        todo = {k: t for k, t in zip(keys, texts, strict=True) if k not in found}
        if todo:
            encode = self.base_encoder.encode_query if query else self.base_encoder.encode
            fresh = encode(list(todo.values()))
            self.n_encoded += len(todo)
            new = dict(zip(todo.keys(), fresh, strict=True))
            self.cache.put_many(namespace, new)
            found.update(new)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)


def cached_encoder(encoder: object = None, cache: VectorCache | str | None = None) -> CachedEncoder:
    """``encoder`` behind a vector cache, reusing a cache that already wraps it.

    A ``CachedEncoder`` is returned as is, and our framework embeddings (``GSTEmbeddings``,
    ``GSTEmbedding``) give the cached encoder they hold, so an index or store, its
    retriever and the query embeddings share one cache. Anything else is wrapped anew.
    """
    if isinstance(encoder, CachedEncoder):
        return encoder
    inner = getattr(encoder, "base_encoder", None)
    if isinstance(inner, CachedEncoder):
        return inner
    return CachedEncoder(encoder, cache=cache)
