"""Base stores read in shards by Ray tasks: each shard is read in pages, in the worker.

A source here is a small picklable description (a path, a URI, a collection name), not an
open client: every Ray worker opens its own client once and reads its shards.

* ``ChromaShards``: an embedded Chroma collection (``PersistentClient`` path). The driver
  lists the ids (ids only: cheap) and cuts them into shards; workers read their ids in
  pages with ``collection.get`` (concurrent readers of one persisted collection are fine).
* ``MilvusShards``: a Milvus collection (a server, a cluster, or a Lite ``.db`` that no
  other process holds open), read with ``query_iterator``; shards split the primary keys
  by a hash-free range filter when asked for more than one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gst_integrations.core.views.source import Page

__all__ = ["ChromaShards", "MilvusShards", "ShardedSource", "page_to_batch"]


@runtime_checkable
class ShardedSource(Protocol):
    """A base store as Ray reads it: shards planned on the driver, read in workers."""

    def count(self) -> int: ...

    def shards(self, n: int) -> list[Any]:
        """Up to ``n`` picklable shard descriptions that together cover every row once."""
        ...

    def read(self, shard: Any, page_size: int) -> Iterator[Page]:
        """The rows of one shard, in pages (ids, documents, metadata, base vectors)."""
        ...

    def contains(self, ids: Sequence[str]) -> set[str]:
        """Those of ``ids`` the store still holds."""
        ...


def page_to_batch(page: Page) -> dict[str, np.ndarray]:
    """A Ray Data batch (numpy columns) of a page; metadata travels as JSON text."""
    return {
        "id": np.asarray(page.ids, dtype=object),
        "document": np.asarray(page.documents, dtype=object),
        "metadata": np.asarray(
            [json.dumps(m, sort_keys=True, default=str) for m in page.metadatas], dtype=object
        ),
        "vector": np.ascontiguousarray(page.vectors, np.float32),
    }


@lru_cache(maxsize=4)
def _chroma_collection(path: str, name: str) -> Any:
    from gst_integrations.stores.chroma.collection import chroma_client

    return chroma_client(path).get_collection(name, embedding_function=None)


@dataclass(frozen=True)
class ChromaShards:
    """An embedded Chroma collection at ``path`` named ``collection``."""

    path: str
    collection: str

    def _col(self) -> Any:
        return _chroma_collection(str(self.path), self.collection)

    def count(self) -> int:
        return int(self._col().count())

    def shards(self, n: int) -> list[list[str]]:
        from gst_integrations.stores.chroma.source import ChromaSource

        ids = [i for page in ChromaSource(self._col()).list_ids(50_000) for i in page]
        n = max(1, min(n, len(ids)))
        step = -(-len(ids) // n) if ids else 1
        return [ids[s : s + step] for s in range(0, len(ids), step)]

    def read(self, shard: list[str], page_size: int) -> Iterator[Page]:
        from gst_integrations.stores.chroma.source import ChromaSource

        source = ChromaSource(self._col())
        for s in range(0, len(shard), page_size):
            page = source.get(list(shard[s : s + page_size]))
            if len(page):
                yield page

    def contains(self, ids: Sequence[str]) -> set[str]:
        return set(self._col().get(ids=list(ids), include=[])["ids"]) if ids else set()


@dataclass(frozen=True)
class MilvusShards:
    """A Milvus collection of base vectors (e.g. written by ``langchain_milvus.Milvus``).

    Fields: the primary key ``id_field``, the base vector ``vector_field``, the text
    ``text_field`` (None: no documents); every other field (dynamic ones included) is the
    row's metadata.
    """

    uri: str
    collection: str
    id_field: str = "pk"
    vector_field: str = "vector"
    text_field: str | None = "text"
    client_kwargs: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def _client(self) -> Any:
        from pymilvus import MilvusClient

        return MilvusClient(self.uri, **self.client_kwargs)

    def count(self) -> int:
        client = self._client()
        got = client.query(self.collection, filter="", output_fields=["count(*)"])
        return int(got[0]["count(*)"])

    def shards(self, n: int) -> list[None]:
        return [None]  # one query_iterator stream; a cluster can shard by partition

    def read(self, shard: Any, page_size: int) -> Iterator[Page]:
        client = self._client()
        it = client.query_iterator(
            self.collection, batch_size=page_size, filter="", output_fields=["*"]
        )
        try:
            while True:
                rows = it.next()
                if not rows:
                    return
                yield self._page(rows)
        finally:
            it.close()

    def _page(self, rows: list[dict[str, Any]]) -> Page:
        ids, docs, metas, vecs = [], [], [], []
        for row in rows:
            row = dict(row)
            ids.append(str(row.pop(self.id_field)))
            vecs.append(row.pop(self.vector_field))
            docs.append(row.pop(self.text_field, None) if self.text_field else None)
            metas.append(row)
        return Page(ids, docs, metas, np.asarray(vecs, np.float32))

    def contains(self, ids: Sequence[str]) -> set[str]:
        if not ids:
            return set()
        got = self._client().get(self.collection, ids=list(ids), output_fields=[self.id_field])
        return {str(r[self.id_field]) for r in got}
