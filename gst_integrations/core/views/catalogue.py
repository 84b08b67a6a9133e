"""The documents and metadata of a store, by id, in rows that every view points to."""

from __future__ import annotations

from typing import Any

import numpy as np

from gst_integrations.core.views.filters import MetadataColumns, where_document_mask, where_mask
from gst_integrations.core.views.source import Page


class Catalogue:
    """Documents and metadata by id, in rows that views point to (host-side)."""

    def __init__(self) -> None:
        self.ids: list[str] = []
        self.row: dict[str, int] = {}
        self.docs: list[str | None] = []
        self.metas: list[dict[str, Any]] = []
        self.alive = np.zeros(0, dtype=bool)
        self._columns: MetadataColumns | None = None

    def upsert(self, page: Page) -> np.ndarray:
        """Store a page's documents and metadata; returns their catalogue rows."""
        rows = np.empty(len(page), dtype=np.int64)
        new_alive = 0
        for j, (id_, doc, meta) in enumerate(
            zip(page.ids, page.documents, page.metadatas, strict=True)
        ):
            r = self.row.get(id_)
            if r is None:
                r = len(self.ids)
                self.row[id_] = r
                self.ids.append(id_)
                self.docs.append(doc)
                self.metas.append(meta or {})
                new_alive += 1
            else:
                self.docs[r], self.metas[r] = doc, meta or {}
            rows[j] = r
        if new_alive:
            self.alive = np.concatenate([self.alive, np.ones(new_alive, dtype=bool)])
        self.alive[rows] = True
        self._columns = None
        return rows

    def remove(self, ids: set[str]) -> None:
        for id_ in ids:
            r = self.row.get(id_)
            if r is not None:
                self.alive[r] = False
                self.docs[r], self.metas[r] = None, {}
        if ids:
            self._columns = None

    @property
    def columns(self) -> MetadataColumns:
        if self._columns is None:
            self._columns = MetadataColumns(self.metas)
        return self._columns

    def mask(self, where: dict[str, Any] | None, where_document: dict[str, Any] | None):
        """Catalogue rows passing both filters (documents are only checked where needed)."""
        mask = self.alive.copy()
        if where:
            mask &= where_mask(self.columns, where)
        if where_document:
            rows = np.flatnonzero(mask)
            ok = where_document_mask([self.docs[r] for r in rows], where_document)
            mask[rows[~ok]] = False
        return mask
