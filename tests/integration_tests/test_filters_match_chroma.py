"""Our filters speak exactly Chroma's dialect: a differential test against Chroma itself."""

from __future__ import annotations

import itertools
import random

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from gst_integrations.core.views.filters import (
    FilterError,
    MetadataColumns,
    matches_where,
    matches_where_document,
    where_document_mask,
    where_mask,
)

pytestmark = pytest.mark.integration

KEYS = ("n", "s", "b", "f")
VALUES = {"n": [0, 1, 2, 5], "s": ["a", "b", "zz"], "b": [True, False], "f": [0.5, 1.5, 2.0]}
DOCS = ["red apple", "green apple pie", "blue sky", None, "apple"]


def _rows(n: int = 60) -> list[dict]:
    rng = random.Random(0)
    rows = []
    for _ in range(n):  # every key is missing from some rows
        rows.append({k: rng.choice(VALUES[k]) for k in KEYS if rng.random() < 0.7})
    return rows


def _clauses(rng: random.Random) -> list[dict]:
    out: list[dict] = []
    for key in KEYS + ("missing",):
        vals = VALUES.get(key, [1])
        v = rng.choice(vals)
        out += [{key: v}, {key: {"$eq": v}}, {key: {"$ne": v}}]
        out += [{key: {"$in": rng.sample(vals, min(2, len(vals)))}}, {key: {"$nin": [v]}}]
        out += [{key: {op: rng.choice([0, 1, 1.5, 5])}} for op in ("$gt", "$gte", "$lt", "$lte")]
    # what Chroma refuses: multi-key dicts, one-element logic, mixed or empty lists, text ranges
    out += [{"n": 1, "s": "a"}, {"$and": [{"n": 1}]}, {"$or": [{"n": 1}]}, {"n": {"$in": []}}]
    out += [{"n": {"$in": [1, "a"]}}, {"s": {"$gt": "a"}}, {"n": {"$gt": 1, "$lt": 3}}]
    out += [{"n": {"$gt": True}}, {"$not": [{"n": 1}, {"n": 2}]}, {"n": [1, 2]}]
    return out


@pytest.fixture(scope="module")
def collection(tmp_path_factory):
    # A persistent client in a temp dir: an EphemeralClient is a per-process singleton, and
    # other tests open it with other settings.
    client = chromadb.PersistentClient(
        path=str(tmp_path_factory.mktemp("filters")),
        settings=Settings(anonymized_telemetry=False),
    )
    col = client.get_or_create_collection("filters-diff", embedding_function=None)
    rows = _rows()
    ids = [str(i) for i in range(len(rows))]
    docs = [DOCS[i % len(DOCS)] or "" for i in range(len(rows))]
    col.add(
        ids=ids,
        embeddings=np.random.default_rng(0).random((len(rows), 4)).tolist(),
        metadatas=[r or None for r in rows],
        documents=docs,
    )
    return col, ids, rows, docs


def _chroma(col, **kw) -> set[str] | None:
    try:
        return set(col.get(include=[], **kw)["ids"])
    except Exception:  # Chroma refuses the filter
        return None


def test_where_filters_agree_with_chroma(collection) -> None:
    col, ids, rows, _ = collection
    rng = random.Random(1)
    singles = _clauses(rng)
    valid = [c for c in singles if _chroma(col, where=c) is not None]
    combos = [
        {op: list(pair)} for op in ("$and", "$or") for pair in itertools.combinations(valid[:12], 2)
    ]
    nested = [{"$or": [combos[0], combos[-1]]}, {"$and": [combos[3], valid[5], valid[9]]}]
    columns = MetadataColumns(rows)
    checked = refused = 0
    for where in singles + combos + nested:
        theirs = _chroma(col, where=where)
        if theirs is None:
            with pytest.raises(FilterError):
                matches_where(rows[0], where)
            with pytest.raises(FilterError):
                where_mask(columns, where)
            refused += 1
            continue
        ours = {i for i, r in zip(ids, rows, strict=True) if matches_where(r, where)}
        assert ours == theirs, where
        mask = where_mask(columns, where)
        assert {ids[j] for j in np.flatnonzero(mask)} == theirs, where
        checked += 1
    assert checked > 80 and refused >= 9


def test_where_document_filters_agree_with_chroma(collection) -> None:
    col, ids, _, docs = collection
    filters = [
        {"$contains": "apple"},
        {"$not_contains": "apple"},
        {"$regex": "^gr"},
        {"$not_regex": "e$"},
        {"$and": [{"$contains": "apple"}, {"$not_contains": "pie"}]},
        {"$or": [{"$contains": "sky"}, {"$regex": "^red"}]},
        {"$and": [{"$contains": "apple"}]},
        {"$contains": "a", "$regex": "b"},
    ]
    for flt in filters:
        theirs = _chroma(col, where_document=flt)
        if theirs is None:
            with pytest.raises(FilterError):
                where_document_mask(docs, flt)
            continue
        ours = {i for i, d in zip(ids, docs, strict=True) if matches_where_document(d, flt)}
        assert ours == theirs, flt
