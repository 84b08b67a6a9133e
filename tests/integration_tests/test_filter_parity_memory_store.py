"""One filter, one answer: the memory catalogue, the store catalogue and Chroma itself agree on
list metadata, NaN and tuple operands, non-string keys and regexes (catastrophic ones too)."""

from __future__ import annotations

import time

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.filters import FilterError, matches_where, matches_where_document
from gst_integrations.stores.chroma import ChromaSource

pytestmark = pytest.mark.integration

METAS = [
    {"n": 1, "tags": ["x", "y"], "s": "x"},
    {"n": 2.5, "tags": ["y"], "s": "y", "fl": [1.0, 2.5]},
    {"n": 3, "nums": [1, 2], "s": "xyz"},
    {"b": True, "flags": [True, False], "n": True},
    {"n": 7},
]
DOCS = ["a" * 28 + "!", "café au lait", "abc 123", "aaa", "x"]

WHERES = [
    {"tags": {"$contains": "x"}},
    {"tags": {"$contains": "y"}},
    {"tags": {"$not_contains": "x"}},
    {"nums": {"$contains": 1}},
    {"nums": {"$contains": 1.0}},
    {"fl": {"$contains": 1}},
    {"fl": {"$contains": 2.5}},
    {"flags": {"$contains": True}},
    {"flags": {"$contains": 1}},
    {"s": {"$contains": "x"}},
    {"s": {"$not_contains": "x"}},
    {"missing": {"$not_contains": "x"}},
    {"tags": "x"},
    {"tags": {"$ne": "x"}},
    {"n": {"$in": [1, 2]}},
    {"n": {"$in": [1.0]}},
    {"n": {"$in": (1, 2)}},
    {"n": {"$nin": (1,)}},
    {"n": float("nan")},
    {"n": {"$in": [float("nan")]}},
    {"n": {"$gt": float("nan")}},
    {"n": {"$ne": float("nan")}},
    {"n": {"$lt": float("inf")}},
    {5: 1},
    {"tags": {"$contains": ["x"]}},
    {"$and": [{"tags": {"$contains": "y"}}, {"n": {"$gt": 2}}]},
]
REGEXES = ["(a+)+$", "(a+)+!", r"\d+", "é+", "(?i)CAFÉ", "^caf", "(?=a)b", "(?<!a)b", r"(a)\1", "["]


@pytest.fixture(scope="module")
def chroma(tmp_path_factory):
    client = chromadb.PersistentClient(
        path=str(tmp_path_factory.mktemp("parity")), settings=Settings(anonymized_telemetry=False)
    )
    col = client.get_or_create_collection("parity", embedding_function=None)
    X = np.eye(5, 8, dtype=np.float32) + 0.05
    col.add(ids=list("abcde"), embeddings=X.tolist(), metadatas=METAS, documents=DOCS)
    engines = {
        cat: ViewEngine(ChromaSource(col), {}, device="cpu", catalogue=cat, max_staleness=0)
        for cat in ("memory", "store")
    }
    return col, X, engines


def _chroma(col, **kw):
    try:
        return sorted(col.get(include=[], **kw)["ids"])
    except Exception:
        return None


def _engine(engine, X, **kw):
    try:
        return sorted(h.id for h in engine.search_by_vector(X[0], None, k=5, **kw))
    except FilterError:
        return None


@pytest.mark.parametrize("where", WHERES, ids=str)
def test_where_same_in_memory_store_and_chroma(chroma, where) -> None:
    col, X, engines = chroma
    theirs = _chroma(col, where=where)
    if theirs is None:
        with pytest.raises(FilterError):
            matches_where(METAS[0], where)
    else:
        assert (
            sorted(i for i, m in zip("abcde", METAS, strict=True) if matches_where(m, where))
            == theirs
        )
    assert _engine(engines["memory"], X, where=where) == theirs
    assert _engine(engines["store"], X, where=where) == theirs


@pytest.mark.parametrize("pattern", REGEXES)
def test_regex_same_in_memory_store_and_chroma_and_fast(chroma, pattern) -> None:
    col, X, engines = chroma
    t = time.perf_counter()
    theirs = _chroma(col, where_document={"$regex": pattern})
    chroma_s = time.perf_counter() - t
    assert chroma_s < 2.0  # Chroma's own engine (Rust regex) is linear time too
    if theirs is None:
        with pytest.raises(FilterError, match="regular expression"):
            matches_where_document(DOCS[0], {"$regex": pattern})
    for cat in ("memory", "store"):
        t = time.perf_counter()
        assert _engine(engines[cat], X, where_document={"$regex": pattern}) == theirs, cat
        assert time.perf_counter() - t < 2.0
