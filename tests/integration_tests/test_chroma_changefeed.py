"""The Chroma change feed's guards: read-only, schema-checked, and None when unsure."""

from __future__ import annotations

import shutil
import sqlite3

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from gst_integrations.core.errors import StoreError
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.stores import ChromaSource
from gst_integrations.stores.chroma.changefeed import ChromaChangeFeed, feed_for

pytestmark = [pytest.mark.integration, pytest.mark.filterwarnings("ignore::UserWarning")]


def _col(path, name="feed-test", n=20):
    client = chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False)
    )
    col = client.get_or_create_collection(name, embedding_function=None)
    X = np.random.default_rng(0).standard_normal((n, 8)).astype(np.float32)
    col.add(ids=[f"d{i}" for i in range(n)], embeddings=X, documents=[f"t{i}" for i in range(n)])
    return client, col, X


def test_every_operation_is_named_and_other_collections_are_not(tmp_path) -> None:
    client, col, X = _col(tmp_path)
    other = client.get_or_create_collection("other-one", embedding_function=None)
    feed = feed_for(col)
    assert feed is not None
    c0 = feed.cursor()
    col.add(ids=["a"], embeddings=X[:1], documents=["added"])
    col.update(ids=["d1"], embeddings=X[2:3], documents=["updated"])
    col.upsert(ids=["d2", "b"], embeddings=X[:2], documents=["u", "v"])
    col.delete(ids=["d3"])
    other.add(ids=["x"], embeddings=X[:1])
    cs = feed.changes_since(c0)
    assert cs is not None and cs.deletes_known
    assert cs.upserted == {"a", "d1", "d2", "b"} and cs.deleted == {"d3"}
    assert feed.changes_since(cs.cursor).upserted == frozenset()  # nothing since
    assert sorted(feed.ids()) == sorted(col.get(include=[])["ids"])


def test_the_file_is_never_written(tmp_path) -> None:
    _, col, X = _col(tmp_path)
    db = tmp_path / "chroma.sqlite3"
    before = (db.stat().st_mtime_ns, db.read_bytes())
    feed = feed_for(col)
    for _ in range(3):
        feed.changes_since(feed.cursor())
        feed.ids()
    assert (db.stat().st_mtime_ns, db.read_bytes()) == before
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        feed._connect().execute("DELETE FROM embeddings_queue")


def test_an_unknown_schema_version_gives_no_feed_and_the_engine_reconciles(tmp_path) -> None:
    _, col, X = _col(tmp_path)
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(tmp_path / "chroma.sqlite3", copy / "chroma.sqlite3")
    with sqlite3.connect(copy / "chroma.sqlite3") as conn:
        conn.execute("INSERT INTO migrations VALUES ('metadb', 99, 'future.sql', '', '')")
    feed = ChromaChangeFeed(copy / "chroma.sqlite3", str(col.id))
    assert "metadb version 99" in feed.unsupported()
    with sqlite3.connect(copy / "chroma.sqlite3") as conn:
        conn.execute("DELETE FROM migrations WHERE version = 99")
        conn.execute("ALTER TABLE embeddings_queue RENAME COLUMN operation TO op")
    assert "lacks ['operation']" in feed.unsupported()

    src = ChromaSource(col)
    src._feed = None  # as feed_for answers for such a file
    engine = ViewEngine(src, {}, device="cpu", max_staleness=3600)
    engine.search_by_vector(X[0], None, k=1)
    col.update(ids=["d4"], embeddings=X[5:6], documents=["quiet"])
    stats = engine.refresh()  # means current: without a feed, a full reconciliation
    assert (stats.how, stats.updated) == ("reconcile", 1)
    assert engine.health().mode == "revisions + reconciliation"


def test_a_deleted_collection_is_a_store_error(tmp_path) -> None:
    client, col, _ = _col(tmp_path)
    feed = feed_for(col)
    c = feed.cursor()
    client.delete_collection("feed-test")
    with pytest.raises(StoreError, match="deleted"):
        feed.changes_since(c)


def test_a_cursor_from_nowhere_asks_for_reconciliation(tmp_path) -> None:
    _, col, _ = _col(tmp_path)
    feed = feed_for(col)
    assert feed.changes_since(None) is None
    assert feed.changes_since(feed.cursor() + 1000) is None  # ahead of the store: rebuilt?


def test_writes_during_the_first_read_lose_no_row(tmp_path) -> None:
    """Offset paging shifts when a writer deletes rows between pages: rows that did not
    change would be skipped. With a feed the load sees the cursor move and settles ids."""
    _, col, X = _col(tmp_path, n=300)

    class WriterBetweenPages(ChromaSource):
        def iter_pages(self, page_size=1000, include_vectors=True):
            for j, page in enumerate(super().iter_pages(page_size, include_vectors)):
                yield page
                if j == 0 and include_vectors:  # another writer, between two pages
                    col.delete(ids=[f"d{i}" for i in range(10)])
                    col.add(ids=["late"], embeddings=X[:1], documents=["late"])

    engine = ViewEngine(WriterBetweenPages(col), {}, device="cpu", page_size=50)
    engine.search_by_vector(X[0], None, k=1)
    engine.refresh()  # what the feed names (the deletes, the add) is read here in any case
    ids, _ = engine.view_matrix(None)
    assert sorted(ids) == sorted(col.get(include=[])["ids"])  # and no unchanged row is lost


def test_a_locked_file_is_a_transient_store_error_not_a_reconciliation(
    tmp_path, monkeypatch
) -> None:
    import gst_integrations.stores.chroma.changefeed as changefeed
    from gst_integrations.core.errors import StaleDataWarning

    _, col, X = _col(tmp_path)
    engine = ViewEngine(ChromaSource(col), {}, device="cpu", max_staleness=0)
    engine.search_by_vector(X[0], None, k=1)
    monkeypatch.setattr(changefeed, "BUSY_TIMEOUT_S", 0.1)
    locker = sqlite3.connect(tmp_path / "chroma.sqlite3", isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")  # a writer holding the file (nothing is written)
    try:
        with pytest.raises(StoreError, match="locked"):
            engine.source.change_feed.changes_since(1)
        with pytest.raises(StoreError, match="locked"):
            feed_for(col)  # a new source asks again later rather than give up its feed
        with pytest.warns(StaleDataWarning, match="locked"):
            engine.search_by_vector(X[0], None, k=1)
        assert engine.health().last_error and "locked" in engine.health().last_error
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    engine.search_by_vector(X[0], None, k=1)
    assert engine.health().ok and engine.health().mode == "change feed"
