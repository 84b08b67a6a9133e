"""``ChromaSource``: the ``VectorSource`` over a chromadb collection, read in pages.

Over a ``PersistentClient`` it is also a ``ChangeFeed``: Chroma's own write log tells a
refresh which ids any writer changed (``stores.chroma.changefeed``). Over an
``HttpClient`` server there is no feed, and refreshes reconcile instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from gst_integrations.core.errors import DimensionMismatchError, StoreError
from gst_integrations.core.views.source import REV_KEY, ChangeSet, Page
from gst_integrations.stores.chroma.changefeed import ChromaChangeFeed, feed_for
from gst_integrations.stores.chroma.collection import FP_DIM, read_fingerprint
from gst_integrations.stores.chroma.reader import iter_collection_pages

_UNSET = object()


class ChromaSource:
    """``VectorSource`` over a chromadb Collection, read in pages."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection
        self._dim: int | None = None
        self._feed: Any = _UNSET

    # -- ChangeFeed -----------------------------------------------------------------------
    @property
    def change_feed(self) -> ChromaChangeFeed | None:
        """The collection's change feed (None over a server or an unsupported file)."""
        if self._feed is _UNSET:
            self._feed = feed_for(self.collection)
        return self._feed

    def cursor(self) -> int | None:
        feed = self.change_feed
        return feed.cursor() if feed is not None else None

    def changes_since(self, cursor: Any) -> ChangeSet | None:
        feed = self.change_feed
        return feed.changes_since(cursor) if feed is not None else None

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
        feed = self.change_feed
        ids = feed.ids() if feed is not None else None
        if ids is not None:  # from the file: no pages of API calls
            for s in range(0, len(ids), page_size):
                yield ids[s : s + page_size]
            return
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

    def _page(self, got: dict[str, Any], include_documents: bool, vectors: bool = True) -> Page:
        ids = list(got["ids"])
        emb = got.get("embeddings") if vectors else None
        if emb is not None and len(ids):
            matrix = np.asarray(emb, dtype=np.float32).reshape(len(ids), -1)
        elif vectors:
            matrix = np.zeros((0, self._dim or 0), np.float32)
        else:  # vectors not asked for
            matrix = np.zeros((len(ids), 0), np.float32)
        docs = got.get("documents") if include_documents else None
        metas = got.get("metadatas") or [None] * len(ids)
        return Page(
            ids=ids,
            documents=list(docs) if docs is not None else [None] * len(ids),
            metadatas=[dict(m) if m else {} for m in metas],
            vectors=matrix,
        )

    def _include(self, include_documents: bool, vectors: bool = True) -> list[str]:
        return (
            (["embeddings"] if vectors else [])
            + ["metadatas"]
            + (["documents"] if include_documents else [])
        )

    def get(self, ids: Sequence[str], include_documents: bool = True) -> Page:
        ids = list(ids)
        if not ids:
            return Page([], [], [], np.zeros((0, self.dim() or 0), np.float32))
        got = self._call(
            "get", self.collection.get, ids=ids, include=self._include(include_documents)
        )
        return self._page(got, include_documents)

    def _pages(
        self, page_size: int, vectors: bool, where: dict[str, Any] | None = None
    ) -> Iterator[Page]:
        offset = 0
        while True:
            got = self._call(
                "get",
                self.collection.get,
                where=where,
                limit=page_size,
                offset=offset,
                include=self._include(True, vectors),
            )
            page = self._page(got, True, vectors)
            if not len(page):
                return
            yield page
            offset += len(page)
            if len(page) < page_size:
                return

    def iter_pages(self, page_size: int = 1000, include_vectors: bool = True) -> Iterator[Page]:
        return iter_collection_pages(
            self.collection,
            page_size,
            include_vectors,
            lambda: self._pages(page_size, include_vectors),
        )

    def changed_since(self, revision: int, page_size: int = 1000) -> Iterator[Page]:
        """Rows written with a revision newer than ``revision`` (by ``embed_into_chroma``)."""
        return self._pages(page_size, True, where={REV_KEY: {"$gt": int(revision)}})

    def ids_where(
        self, where: dict[str, Any] | None, where_document: dict[str, Any] | None
    ) -> set[str]:
        """Ids passing a filter, evaluated by Chroma itself."""
        got = self._call(
            "get", self.collection.get, where=where, where_document=where_document, include=[]
        )
        return set(got["ids"])
