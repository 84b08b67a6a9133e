"""The fast first read of an embedded Chroma collection equals the API's paged read.

Collections are built through the ordinary chromadb API with what makes the on-disk
state awkward: rows past the HNSW segment's last persist (only in the write-ahead log),
deletes, upserts with new vectors, metadata-only updates, every metadata type, rows
without documents, each distance space.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

chromadb = pytest.importorskip("chromadb")

from gst_integrations.stores.chroma import ChromaSource, chroma_client  # noqa: E402
from gst_integrations.stores.chroma.reader import (  # noqa: E402
    FAST_READ_ENV,
    FastReadUnavailable,
    read_segments,
)


def _by_id(pages) -> dict:
    out = {}
    for p in pages:
        for j, i in enumerate(p.ids):
            assert i not in out, f"id {i} read twice"
            out[i] = (p.documents[j], p.metadatas[j], p.vectors[j].copy())
    return out


def _assert_same(fast: dict, api: dict) -> None:
    assert fast.keys() == api.keys()
    for i, (doc, meta, vec) in api.items():
        assert fast[i][0] == doc, i
        assert fast[i][1] == meta, i
        np.testing.assert_allclose(fast[i][2], vec, rtol=1e-6, atol=1e-6, err_msg=i)


def _fill(col, n: int, d: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32) * 2
    for s in range(0, n, 700):
        e = min(s + 700, n)
        col.add(
            ids=[f"r{i}" for i in range(s, e)],
            embeddings=X[s:e],
            documents=[None if i % 11 == 0 else f"text {i}" for i in range(s, e)],
            metadatas=[
                {"group": i % 7, "w": i / 3, "flag": i % 2 == 0, "name": f"n{i}"} if i % 5 else None
                for i in range(s, e)
            ],
        )
    return X


@pytest.mark.parametrize("space", ["cosine", "l2", "ip"])
def test_fast_read_equals_the_api_read(tmp_path, space, caplog):
    client = chroma_client(tmp_path / "chroma")
    col = client.create_collection("rows", embedding_function=None, metadata={"hnsw:space": space})
    _fill(col, 2600, 12, seed=1)  # past two persists; the rest only in the log
    col.add(  # a small batch: stays in the write-ahead log, past the segment's last persist
        ids=[f"late{i}" for i in range(300)],
        embeddings=np.random.default_rng(9).standard_normal((300, 12)).astype(np.float32),
        documents=[f"late {i}" for i in range(300)],
    )
    col.delete(ids=["r3", "r1500", "r2599", "late5"])
    col.upsert(
        ids=["r4", "new1"],
        embeddings=np.full((2, 12), 0.5, np.float32),
        documents=["changed", "brand new"],
        metadatas=[{"tags": ["a", "b"]}, {"nums": [1, 2, 3]}],
    )
    col.update(ids=["r7"], metadatas=[{"group": 99}])  # a metadata-only update
    source = ChromaSource(col)
    snap = read_segments(col)  # the fast read applies (raises otherwise)
    assert snap.order is not None and len(snap.ids) > 2600
    assert len(snap.ids) == col.count()
    api = _by_id(source._pages(500, True))
    with caplog.at_level(logging.INFO, logger="gst_integrations"):
        fast = _by_id(source.iter_pages(500))
    assert "fast read" not in caplog.text  # it was used, not fallen back from
    _assert_same(fast, api)
    _assert_same(
        _by_id(source.iter_pages(500, include_vectors=False)),
        {i: (d, m, np.zeros(0, np.float32)) for i, (d, m, _) in api.items()},
    )


def test_a_collection_never_persisted_is_read_from_the_log(tmp_path):
    col = chroma_client(tmp_path / "chroma").create_collection("tiny", embedding_function=None)
    _fill(col, 40, 8, seed=2)
    source = ChromaSource(col)
    _assert_same(_by_id(source.iter_pages(16)), _by_id(source._pages(16, True)))


def test_an_ephemeral_or_switched_off_read_falls_back_to_the_api(tmp_path, monkeypatch, caplog):
    col = chromadb.EphemeralClient().get_or_create_collection("mem_rows", embedding_function=None)
    _fill(col, 30, 8, seed=3)
    with pytest.raises(FastReadUnavailable):
        read_segments(col)
    with caplog.at_level(logging.INFO, logger="gst_integrations"):
        pages = _by_id(ChromaSource(col).iter_pages(7))
    assert "fast read" in caplog.text and len(pages) == 30

    persisted = chroma_client(tmp_path / "chroma").create_collection(
        "rows", embedding_function=None
    )
    _fill(persisted, 30, 8, seed=3)
    monkeypatch.setenv(FAST_READ_ENV, "0")
    source = ChromaSource(persisted)
    _assert_same(_by_id(source.iter_pages(7)), _by_id(source._pages(7, True)))


def test_a_segment_that_disagrees_with_the_api_is_not_trusted(tmp_path, monkeypatch, caplog):
    """A sample that differs from collection.get (a write racing the read, a layout this
    reader misreads) sends the read back to the API."""
    import gst_integrations.stores.chroma.reader as reader

    col = chroma_client(tmp_path / "chroma").create_collection("rows", embedding_function=None)
    _fill(col, 1200, 8, seed=4)
    real = reader.read_segments

    def corrupt(collection, include_vectors=True):
        snap = real(collection, include_vectors)
        good = snap.vectors
        snap.vectors = lambda pos: good(pos) + 1.0
        return snap

    monkeypatch.setattr(reader, "read_segments", corrupt)
    source = ChromaSource(col)
    with caplog.at_level(logging.INFO, logger="gst_integrations"):
        got = _by_id(source.iter_pages(500))
    assert "differs from the API" in caplog.text
    _assert_same(got, _by_id(source._pages(500, True)))
