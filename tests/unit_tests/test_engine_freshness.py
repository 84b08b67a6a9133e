"""The engine on a live store: updates, deletes, faults, shared base vectors, concurrency."""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np
import pytest
from _views_helpers import make_head, unit_rows

from gst_integrations import ArraySource, ViewEngine
from gst_integrations.core.errors import DimensionMismatchError, StaleDataWarning, StoreError
from gst_integrations.core.views.source import Page


def _store(n: int = 100, d: int = 16) -> tuple[ArraySource, np.ndarray]:
    X = unit_rows(n, d)
    ids = [f"doc{i}" for i in range(n)]
    metas = [{"group": "even" if i % 2 == 0 else "odd", "i": i} for i in range(n)]
    return ArraySource(ids, X, [f"text {i}" for i in range(n)], metas), X


def _engine(src: ArraySource, **kw) -> ViewEngine:
    heads = {f"v{j}": make_head(d=16, seed=j, name=f"v{j}") for j in range(2)}
    return ViewEngine(src, heads, device="cpu", **kw)


class CountingSource(ArraySource):
    """Counts full reads of the store (the cost a view switch must not pay again)."""

    full_reads = 0

    def iter_pages(self, page_size=1000, include_vectors=True):
        if include_vectors:
            self.full_reads += 1
        return super().iter_pages(page_size, include_vectors)


@pytest.mark.parametrize("record_revision", [True, False])
def test_an_update_reaches_every_view_catalogue_and_filter(record_revision: bool) -> None:
    src, X = _store()
    eng = _engine(src, max_staleness=0, reconcile_every=0 if not record_revision else 300)
    assert eng.search(X[5], "v0", k=1)[0].document == "text 5"
    new = unit_rows(1, 16, seed=99)
    src.upsert(["doc5"], new, ["text 5, rewritten"], [{"group": "new"}], record_revision)
    for view in (None, "v0", "v1"):
        hit = eng.search(new[0], view, k=1)[0]
        assert (hit.id, hit.document) == ("doc5", "text 5, rewritten")
        assert hit.metadata == {"group": "new"}
    assert [h.id for h in eng.search(new[0], "v1", k=3, where={"group": "new"})] == ["doc5"]
    assert "doc5" not in {h.id for h in eng.search(X[5], None, k=5, where={"group": "odd"})}


def test_revisions_make_a_refresh_read_only_the_changes() -> None:
    src, X = _store()
    eng = _engine(src)
    eng.refresh()
    src.upsert(["doc1", "doc2"], unit_rows(2, 16, seed=7), ["a", "b"], [{}, {}])
    stats = eng.refresh()
    assert (stats.added, stats.updated, stats.removed, stats.full) == (0, 2, 0, False)
    src.delete(["doc3"])
    src.upsert(["fresh"], unit_rows(1, 16, seed=8), ["c"], [{}])
    stats = eng.refresh()
    assert (stats.added, stats.removed, stats.total) == (1, 1, 100)


def test_without_a_change_feed_reconciliation_finds_writes_without_revisions() -> None:
    src, X = _store()
    src = ArraySource([f"doc{i}" for i in range(100)], X, change_feed=False)
    eng = _engine(src, max_staleness=0, reconcile_every=300)
    eng.search(X[0], None, k=1)
    src.upsert(["doc9"], unit_rows(1, 16, seed=3), ["quiet update"], [{}], record_revision=False)
    eng.search(X[0], None, k=1)  # an automatic refresh within the period: revisions only
    assert eng.documents(["doc9"])[0] == [None]
    stats = eng.refresh()  # a user's refresh means current: it reconciles
    assert (stats.updated, stats.full, stats.how) == (1, True, "reconcile")
    assert eng.documents(["doc9"])[0] == ["quiet update"]


def test_a_change_feed_finds_writes_without_revisions_in_o_changes() -> None:
    src, X = _store()
    eng = _engine(src, max_staleness=0)
    eng.search(X[0], None, k=1)
    src.upsert(["doc9"], unit_rows(1, 16, seed=3), ["quiet update"], [{}], record_revision=False)
    src.delete(["doc3"])
    src.upsert(["new"], unit_rows(1, 16, seed=4), ["added"], [{}], record_revision=False)
    assert eng.search(unit_rows(1, 16, seed=3)[0], None, k=1)[0].document == "quiet update"
    assert eng.documents(["doc3", "new"])[0] == [None, "added"]
    stats = eng.refresh()
    assert (stats.updated, stats.added, stats.removed, stats.how) == (0, 0, 0, "feed")


def test_a_view_switch_reads_the_store_once() -> None:
    X = unit_rows(50, 16)
    src = CountingSource([str(i) for i in range(50)], X)
    eng = _engine(src)
    eng.search(X[0], "v0")
    eng.search(X[0], "v1")  # a second view: one transform of the held base vectors
    eng.register("v2", make_head(d=16, seed=5, name="v2"))
    eng.search(X[0], "v2")  # and a refit or a new view too
    assert src.full_reads == 1
    light = CountingSource([str(i) for i in range(50)], X)
    eng = _engine(light, keep_base=False)
    eng.search(X[0], "v0")
    eng.search(X[0], "v1")
    assert light.full_reads == 3  # memory-light: no base matrix, each new view reads again
    assert "base matrix" not in eng.memory()
    np.testing.assert_array_equal(
        [h.id for h in eng.search(X[3], "v1", k=5)],
        [h.id for h in _engine(src).search(X[3], "v1", k=5)],
    )


def test_catalogue_in_the_store_gives_the_same_hits() -> None:
    src, X = _store()
    mem, store = _engine(src), _engine(src, catalogue="store")
    for where in (None, {"group": "odd"}, {"i": {"$gte": 50}}):
        a = mem.search(X[7], "v0", k=5, where=where)
        b = store.search(X[7], "v0", k=5, where=where)
        assert [(h.id, h.document, h.metadata) for h in a] == [
            (h.id, h.document, h.metadata) for h in b
        ]
    assert "catalogue" not in store.memory() and "catalogue" in mem.memory()


def test_half_precision_base_matrix_ranks_like_float32() -> None:
    import torch

    src, X = _store(200)
    full, half = _engine(src), _engine(src, dtype=torch.bfloat16)
    for q in X[:5]:
        assert full.search(q, "v0", k=1)[0].id == half.search(q, "v0", k=1)[0].id


def test_a_wrong_dimension_names_the_id_and_changes_nothing() -> None:
    src, X = _store()
    eng = _engine(src, max_staleness=0)
    before = [h.id for h in eng.search(X[0], "v0", k=5)]

    def bad_get(ids, include_documents=True):
        return Page(["doc0"], ["x"], [{}], np.ones((1, 8), np.float32))

    src.upsert(["doc0"], X[:1], ["x"], [{}])
    src.get = bad_get
    with pytest.raises(DimensionMismatchError, match="doc0"):
        eng.refresh()
    with pytest.warns(StaleDataWarning, match="serving the last snapshot"):
        assert [h.id for h in eng.search(X[0], "v0", k=5)] == before


def test_a_store_failing_mid_refresh_leaves_the_last_snapshot_serving() -> None:
    src, X = _store()
    eng = _engine(src, max_staleness=0, reconcile_every=0)
    before = [h.id for h in eng.search(X[0], "v0", k=5)]
    src.upsert(["doc0"], unit_rows(1, 16, seed=4), ["changed"], [{}])
    real = src.get

    def broken(ids, include_documents=True):
        raise StoreError("the store went away")

    src.get = broken  # fails after the id pages were read: nothing may be applied
    with pytest.warns(StaleDataWarning, match="went away"):
        assert [h.id for h in eng.search(X[0], "v0", k=5)] == before
    src.get = real  # the next refresh recovers
    assert eng.search(unit_rows(1, 16, seed=4)[0], "v0", k=1)[0].document == "changed"
    assert eng.refresh().total == 100


def test_blends_weigh_views_and_the_generic_vectors() -> None:
    src, X = _store()
    eng = _engine(src)
    q = X[11]
    s0 = {h.id: h.score for h in eng.search(q, "v0", k=100)}
    s1 = {h.id: h.score for h in eng.search(q, "v1", k=100)}
    sg = {h.id: h.score for h in eng.search(q, None, k=100)}
    hits = eng.search(q, {"v0": 0.5, "v1": 0.3, None: 0.2}, k=10)
    for h in hits:
        assert h.score == pytest.approx(0.5 * s0[h.id] + 0.3 * s1[h.id] + 0.2 * sg[h.id], abs=1e-5)
    assert hits[0].view == "v0*0.5+v1*0.3+generic*0.2"
    assert [h.id for h in eng.search(q, {"v0": 1.0}, k=5)] == [
        h.id for h in eng.search(q, "v0", k=5)
    ]
    with pytest.raises(ValueError, match="positive"):
        eng.search(q, {"v0": 0.0})
    with pytest.raises(ValueError, match=">= 0"):
        eng.search(q, {"v0": -1.0})


def test_concurrent_writer_loses_no_id_and_serves_within_the_bound() -> None:
    src, X = _store(300)
    bound = 0.05
    eng = _engine(src, max_staleness=bound)
    eng.refresh()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the toy store records no encoder: warned once
        eng.search(X[0], None, k=1)
    history: dict[str, list[tuple[float, str | None]]] = {
        f"doc{i}": [(0.0, f"text {i}")] for i in range(300)
    }
    lock = threading.Lock()
    stop = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        rng = np.random.default_rng(0)
        n = 0
        while not stop.is_set() and n < 400:
            i = int(rng.integers(0, 300))
            with lock:
                if rng.random() < 0.2:
                    src.delete([f"doc{i}"])
                    history[f"doc{i}"].append((time.monotonic(), None))
                else:
                    text = f"text {i} v{n}"
                    src.upsert([f"doc{i}"], unit_rows(1, 16, seed=n + 1000), [text], [{}])
                    history[f"doc{i}"].append((time.monotonic(), text))
            n += 1
            time.sleep(0.001)

    def reader(seed: int) -> None:
        rng = np.random.default_rng(seed)
        try:
            while not stop.is_set():
                start = time.monotonic()
                hits = eng.search(X[int(rng.integers(0, 300))], "v0", k=5)
                end = time.monotonic()
                with lock:
                    for h in hits:
                        versions = history[h.id]
                        # the text served was current at some time in [start - bound, end]
                        ok = any(
                            text == h.document
                            and t <= end
                            and (j + 1 == len(versions) or versions[j + 1][0] >= start - bound)
                            for j, (t, text) in enumerate(versions)
                        )
                        assert ok, (h.id, h.document, versions[-3:])
        except BaseException as exc:  # surfaced in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=reader, args=(s,)) for s in range(2)
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no refresh may fail
        for t in threads:
            t.start()
        threads[0].join(timeout=60)
        stop.set()
        for t in threads[1:]:
            t.join(timeout=60)
    assert not errors, errors[0]
    eng.refresh()
    ids, _ = eng.view_matrix("v0")
    live = {i for i, v in history.items() if v[-1][1] is not None}
    assert set(ids) == live  # no id lost, none kept after its delete
    docs, _ = eng.documents(sorted(live))
    assert docs == [history[i][-1][1] for i in sorted(live)]
