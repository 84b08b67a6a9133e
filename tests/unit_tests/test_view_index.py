"""ViewIndex (exact device top-k) and ViewEngine over an in-memory ArraySource."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from _views_helpers import make_head, unit_rows

from gst_integrations.core.errors import (
    DimensionMismatchError,
    EncoderMismatchError,
    StoreError,
    UnknownViewError,
)
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.index import ViewIndex
from gst_integrations.core.views.source import ArraySource


def brute_topk(X: np.ndarray, q: np.ndarray, k: int, cosine: bool = True) -> list[int]:
    if cosine:
        X = X / np.linalg.norm(X, axis=1, keepdims=True)
        q = q / np.linalg.norm(q)
    return np.argsort(-(X @ q), kind="stable")[:k].tolist()


@pytest.mark.parametrize("metric", ["cosine", "ip"])
def test_index_search_matches_brute_force(metric):
    X = np.random.default_rng(0).standard_normal((500, 8)).astype(np.float32)
    ix = ViewIndex(8, metric=metric, device="cpu")
    ix.add([f"d{i}" for i in range(300)], X[:300])
    ix.add([f"d{i}" for i in range(300, 500)], X[300:])  # grows the buffer
    q = np.random.default_rng(1).standard_normal(8).astype(np.float32)
    scores, rows = ix.search(q, 10)
    assert rows[0].tolist() == brute_topk(X, q, 10, cosine=metric == "cosine")
    assert torch.all(scores[0][:-1] >= scores[0][1:])
    assert ix.nbytes >= 500 * 8 * 4 and len(ix) == 500


def test_index_remove_replace_and_mask():
    X = np.random.default_rng(0).standard_normal((50, 4)).astype(np.float32)
    ids = [f"d{i}" for i in range(50)]
    ix = ViewIndex(4, device="cpu")
    ix.add(ids, X, payload=np.arange(50))
    assert ix.remove(["d3", "d7", "nope"]) == 2
    assert len(ix) == 48 and "d3" not in ix and ix.ids[3] == "d4"
    assert ix.payload[3] == 4  # payload follows its row through compaction
    np.testing.assert_allclose(
        ix.matrix[ix.row_of(["d10"])[0]].numpy(), X[10] / np.linalg.norm(X[10]), rtol=1e-5
    )
    assert ix.add(["d10"], X[11:12]) == 0  # replaced in place
    np.testing.assert_allclose(
        ix.matrix[ix.row_of(["d10"])[0]].numpy(), X[11] / np.linalg.norm(X[11]), rtol=1e-5
    )
    mask = torch.zeros(48, dtype=torch.bool)
    mask[[0, 5]] = True
    _, rows = ix.search(X[0], 10, candidate_mask=mask)
    assert sorted(rows[0].tolist()) == [0, 5]  # k' = number of candidates
    with pytest.raises(ValueError):
        ix.search(X[0], 0)
    with pytest.raises(DimensionMismatchError):
        ix.add(["x"], np.zeros((1, 5), np.float32))


def _engine(n=200, d=16, heads=None, **kw):
    X = unit_rows(n, d)
    ids = [f"doc{i}" for i in range(n)]
    metas = [{"group": "even" if i % 2 == 0 else "odd", "i": i} for i in range(n)]
    docs = [f"text {i}" for i in range(n)]
    src = ArraySource(ids, X, docs, metas)
    heads = heads or {f"v{j}": make_head(d=d, seed=j, name=f"v{j}") for j in range(3)}
    return src, ViewEngine(src, heads, device="cpu", **kw), X


def test_engine_views_switch_and_match_brute_force():
    src, eng, X = _engine()
    q = unit_rows(1, 16, seed=9)[0]
    tops = {}
    for name in eng.views():
        hits = eng.search(q, name, k=5)
        head = eng.head(name)
        expected = brute_topk(head.transform(X), head.transform(q[None])[0], 5)
        assert [h.id for h in hits] == [f"doc{i}" for i in expected]
        assert hits[0].view == name and hits[0].document.startswith("text")
        tops[name] = [h.id for h in hits]
    assert len({tuple(t) for t in tops.values()}) == 3  # three different views
    generic = eng.search(q, None, k=5)
    assert [h.id for h in generic] == [f"doc{i}" for i in brute_topk(X, q, 5)]
    ids, M = eng.view_matrix("v0")
    assert M.shape == (200, 8) and len(ids) == 200


def test_engine_incremental_refresh_and_filters():
    src, eng, X = _engine()
    assert eng.refresh("v0").added == 200
    new = unit_rows(10, 16, seed=5)
    src.add(
        [f"new{i}" for i in range(10)],
        new,
        [f"new {i}" for i in range(10)],
        [{"group": "new", "i": 1000 + i} for i in range(10)],
    )
    src.delete(["doc0", "doc1"])
    stats = eng.refresh("v0")
    assert (stats.added, stats.removed, stats.total) == (10, 2, 208)
    assert eng.refresh("v0").added == 0  # nothing left to do
    hits = eng.search(new[3], "v0", k=3, where={"group": "new"})
    assert hits[0].id == "new3" and all(h.metadata["group"] == "new" for h in hits)
    # a search refreshes first once the last refresh is older than max_staleness
    eng.max_staleness = 0
    src.add(["late"], unit_rows(1, 16, seed=77), ["late doc"], [{"group": "late"}])
    assert [h.id for h in eng.search(unit_rows(1, 16, seed=77)[0], "v0", k=1)] == ["late"]
    hits = eng.search(X[10], "v0", k=50, where={"$and": [{"group": "even"}, {"i": {"$lt": 20}}]})
    assert sorted(int(h.id[3:]) for h in hits) == list(range(2, 20, 2))  # doc0 was deleted
    hits = eng.search(X[10], "v0", k=5, where_document={"$contains": "text 1"})
    assert all("text 1" in h.document for h in hits)


def test_engine_bad_input():
    src, eng, X = _engine()
    with pytest.raises(UnknownViewError, match="known views: v0, v1, v2"):
        eng.search(X[0], "nope")
    with pytest.raises(ValueError):
        eng.search(X[0], "v0", k=0)
    with pytest.raises(DimensionMismatchError):
        eng.search(np.ones(5, np.float32), "v0")
    eng.register("wide", make_head(d=32, name="wide"))
    with pytest.raises(DimensionMismatchError, match="16-d vectors"):
        eng.search(X[0], "wide")
    assert len(eng.search(X[0], "v1", k=2)) == 2  # other views unaffected
    with pytest.raises(StoreError, match="empty"):
        ViewEngine(ArraySource([], np.zeros((0, 4))), {}, device="cpu").search(
            np.ones(4, np.float32), None
        )
    # A named view over an empty store says so too, instead of returning nothing.
    empty = ViewEngine(ArraySource([], np.zeros((0, 16))), {"v": make_head()}, device="cpu")
    with pytest.raises(StoreError, match="empty.*view 'v'"):
        empty.search(np.ones(16, np.float32), "v")


def test_engine_fingerprint_mismatch():
    fp_a = {"name": "enc-a", "dim": 16, "probes": [[1.0] + [0.0] * 15]}
    fp_b = {"name": "enc-b", "dim": 16, "probes": [[0.0, 1.0] + [0.0] * 14]}
    X = unit_rows(20, 16)
    src = ArraySource([str(i) for i in range(20)], X, fingerprint=fp_a)
    eng = ViewEngine(
        src, {"ok": make_head(fingerprint=fp_a), "bad": make_head(fingerprint=fp_b)}, device="cpu"
    )
    assert len(eng.search(X[0], "ok", k=3)) == 3
    with pytest.raises(EncoderMismatchError, match="cannot read this store"):
        eng.search(X[0], "bad")


def test_store_filled_after_an_empty_check_is_checked_again():
    """A pass on an empty store must not cover the encoder that fills it later."""
    fp_a = {"name": "enc-a", "dim": 16, "probes": [[1.0] + [0.0] * 15]}
    fp_b = {"name": "enc-b", "dim": 16, "probes": [[0.0, 1.0] + [0.0] * 14]}
    src = ArraySource([], np.zeros((0, 16), np.float32))
    eng = ViewEngine(src, {"a": make_head(fingerprint=fp_a)}, device="cpu")
    with pytest.raises(StoreError, match="empty"):
        eng.search(np.ones(16, np.float32), "a")
    src._fp = fp_b  # another encoder fills the store and records itself
    src.add(["x"], unit_rows(1, 16), ["doc"], [{}])
    with pytest.raises(EncoderMismatchError, match="cannot read this store"):
        eng.search(np.ones(16, np.float32), "a")


def test_mlp_head_view_and_concurrent_add_during_refresh():
    mlp = make_head(family="mlp", name="m")
    src, eng, X = _engine(heads={"m": mlp})
    real_pages = src.iter_pages

    def pages_and_add(page_size=1000, include_vectors=True):  # a writer adds while we read
        for i, page in enumerate(real_pages(page_size, include_vectors)):
            if i == 0:
                src.add(["during"], unit_rows(1, 16, seed=3), ["d"], [{}])
            yield page

    src.iter_pages = pages_and_add
    assert eng.refresh("m").added == 200
    assert eng.refresh("m").added == 1  # the id added mid-refresh is not lost
    assert "during" in eng.view_matrix("m")[0]


def test_register_while_checking_views_is_thread_safe():
    """register() rebuilds the compatibility memo while searches add to it."""
    import sys
    import threading
    import time

    head = make_head()
    names = [f"v{i}" for i in range(300)]
    engine = ViewEngine(
        ArraySource(["a", "b"], unit_rows(2, 16)), {n: head for n in names}, device="cpu"
    )
    errors: list[Exception] = []
    stop = time.time() + 0.7

    def run(fn):
        try:
            while time.time() < stop:
                fn()
        except Exception as exc:  # any error fails the test
            errors.append(exc)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)

    def check_all():
        for n in names:
            engine.check_compatible(n)

    def re_register():
        engine.register(names[0], head)

    try:
        threads = [threading.Thread(target=run, args=(f,)) for f in (check_all, re_register)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    assert errors == []
