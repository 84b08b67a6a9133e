"""The documents and metadata of a store, in the rows every view of an engine points to.

Metadata filters run as numpy masks over columns built from it (``MetadataColumns``), so a
filtered search costs no per-row Python once the columns exist; they are rebuilt after a
change, lazily, on the next filtered search.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np

from gst_integrations.core.hits import SearchHit
from gst_integrations.core.views.filters import (
    MetadataColumns,
    check_where,
    check_where_document,
    where_document_mask,
    where_mask,
)
from gst_integrations.core.views.source import REV_KEY


class Catalogue:
    """Documents and metadata by row (revision keys are bookkeeping and left out)."""

    def __init__(self) -> None:
        self.docs: list[str | None] = []
        self.metas: list[dict[str, Any]] = []
        self._columns: MetadataColumns | None = None

    def write(self, rows: np.ndarray, docs: list[str | None], metas: list[dict[str, Any]]) -> None:
        need = int(rows.max()) + 1 if len(rows) else 0
        if need > len(self.docs):
            self.docs.extend([None] * (need - len(self.docs)))
            self.metas.extend({} for _ in range(need - len(self.metas)))
        for r, doc, meta in zip(rows.tolist(), docs, metas, strict=True):
            self.docs[r] = doc
            self.metas[r] = {k: v for k, v in (meta or {}).items() if k != REV_KEY}
        self._columns = None

    def clear(self, rows: np.ndarray) -> None:
        for r in rows.tolist():
            if r < len(self.docs):
                self.docs[r], self.metas[r] = None, {}
        self._columns = None

    def take(self, rows: np.ndarray) -> None:
        """Keep only ``rows``, in that order (compaction)."""
        self.docs = [self.docs[r] for r in rows.tolist()]
        self.metas = [self.metas[r] for r in rows.tolist()]
        self._columns = None

    def nbytes(self) -> int:
        """Approximate bytes of the Python objects held (documents, metadata dicts)."""
        total = sys.getsizeof(self.docs) + sys.getsizeof(self.metas)
        for doc, meta in zip(self.docs, self.metas, strict=True):
            total += sys.getsizeof(doc) + sys.getsizeof(meta)
            total += sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in meta.items())
        return total

    def mask(
        self, n: int, where: dict[str, Any] | None, where_document: dict[str, Any] | None
    ) -> np.ndarray:
        """Rows (of the first ``n``) passing both filters; documents checked only where needed."""
        if len(self.docs) < n:
            self.write(
                np.arange(len(self.docs), n),
                [None] * (n - len(self.docs)),
                [{}] * (n - len(self.docs)),
            )
        mask = np.ones(n, bool)
        if where:
            if self._columns is None or self._columns.n != n:
                self._columns = MetadataColumns(self.metas[:n])
            mask &= where_mask(self._columns, where)
        if where_document:
            rows = np.flatnonzero(mask)
            ok = where_document_mask([self.docs[r] for r in rows], where_document)
            mask[rows[~ok]] = False
        return mask


class StoreCatalogue:
    """Documents and metadata read from the store, for the rows a search returns
    (``catalogue="store"``: nothing held in memory; filters run in the store)."""

    def __init__(self, source: Any) -> None:
        self.source = source

    def rows(self, ids: list[str]) -> dict[str, tuple[str | None, dict[str, Any]]]:
        """id -> (document, metadata) of the ids the store still holds."""
        page = self.source.get(ids, include_documents=True)
        return {
            i: (d, {k: v for k, v in (m or {}).items() if k != REV_KEY})
            for i, d, m in zip(page.ids, page.documents, page.metadatas, strict=True)
        }

    def hits(
        self, ids: list[str], scores: list[float], label: str | None, vectors: Any = None
    ) -> list[SearchHit]:
        """Hits for ranked ids, documents read now; ids deleted since are left out."""
        found = self.rows(ids)
        keep = [j for j, i in enumerate(ids) if i in found]
        return make_hits(
            [ids[j] for j in keep],
            [found[ids[j]][0] for j in keep],
            [found[ids[j]][1] for j in keep],
            [scores[j] for j in keep],
            label,
            None if vectors is None else vectors[keep],
        )

    def ids_where(self, where: Any, where_document: Any) -> set[str] | None:
        """Ids passing the filters, evaluated by the store (None: no filter)."""
        if not (where or where_document):
            return None
        check_where(where)  # refused here as in memory, not as the store words it
        check_where_document(where_document)
        return self.source.ids_where(where or None, where_document or None)


def make_hits(
    ids: list[str],
    docs: list[str | None],
    metas: list[dict[str, Any]],
    scores: list[float],
    label: str | None,
    vectors: np.ndarray | None = None,
) -> list[SearchHit]:
    """``SearchHit``s from aligned columns (``vectors``: each hit's view vector, or None)."""
    return [
        SearchHit(i, d, m, s, label, None if vectors is None else vectors[j])
        for j, (i, d, m, s) in enumerate(zip(ids, docs, metas, scores, strict=True))
    ]
