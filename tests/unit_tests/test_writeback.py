"""Write-back of a view into its own Chroma collection (small, on the CPU)."""

from __future__ import annotations

import numpy as np
import pytest
from _views_helpers import make_head, unit_rows

from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.source import ArraySource

chromadb = pytest.importorskip("chromadb")


def test_refitted_head_rewrites_the_written_view(tmp_path):
    """Rows written by an earlier head are replaced, not skipped as already present."""
    from gst_integrations.stores import chroma_client, write_view_collection

    ids = [f"d{i}" for i in range(12)]
    source = ArraySource(ids, unit_rows(12, 16), documents=[f"text {i}" for i in ids])
    engine = ViewEngine(source, {"v": make_head(seed=0)}, device="cpu")
    client = chroma_client(tmp_path / "chroma")
    first = write_view_collection(engine, "v", client, "out", show_progress=False)
    assert (first.written, first.skipped) == (12, 0)
    again = write_view_collection(engine, "v", client, "out", show_progress=False)
    assert (again.written, again.skipped) == (0, 12)  # resumable: nothing to redo

    engine.register("v", make_head(seed=1))  # refit: same name and dimension, new weights
    stats = write_view_collection(engine, "v", client, "out", show_progress=False)
    assert (stats.written, stats.skipped, stats.total) == (12, 0, 12)
    got = client.get_collection("out", embedding_function=None).get(include=["embeddings"])
    view_ids, Z = engine.view_matrix("v")
    row = {i: r for r, i in enumerate(view_ids)}
    np.testing.assert_allclose(
        np.asarray(got["embeddings"]), Z[[row[i] for i in got["ids"]]], rtol=1e-5, atol=1e-6
    )
    after = write_view_collection(engine, "v", client, "out", show_progress=False)
    assert (after.written, after.skipped) == (0, 12)


def _written_vs_view(client, name, engine, view):
    """Rows of the written collection whose vector is not the engine's view vector."""
    got = client.get_collection(name, embedding_function=None).get(include=["embeddings"])
    view_ids, Z = engine.view_matrix(view)
    row = {i: r for r, i in enumerate(view_ids)}
    E = np.asarray(got["embeddings"])
    return int((np.abs(E - Z[[row[i] for i in got["ids"]]]).max(axis=1) > 1e-5).sum())


def test_a_rollback_after_an_interrupted_refit_rewrites_the_other_heads_rows(tmp_path):
    """Head A written; a refit to B interrupted halfway; rollback to A: the half that B
    wrote must be rewritten, not skipped because the collection says "A"."""
    from gst_integrations.stores import chroma_client, write_view_collection

    n = 1000
    ids = [f"d{i}" for i in range(n)]
    source = ArraySource(ids, unit_rows(n, 16), documents=[f"text {i}" for i in ids])
    old, new = make_head(seed=0), make_head(seed=1)
    engine = ViewEngine(source, {"v": old}, device="cpu")
    client = chroma_client(tmp_path / "chroma")
    write_view_collection(engine, "v", client, "out", batch_size=100, show_progress=False)

    def stop_halfway(written: int) -> None:
        if written >= n // 2:
            raise KeyboardInterrupt

    engine.register("v", new)
    with pytest.raises(KeyboardInterrupt):
        write_view_collection(
            engine, "v", client, "out", batch_size=100, show_progress=False, on_batch=stop_halfway
        )
    engine.register("v", old)  # roll back
    stats = write_view_collection(engine, "v", client, "out", batch_size=100, show_progress=False)
    assert (stats.written, stats.skipped, stats.total) == (n // 2, n // 2, n)
    assert _written_vs_view(client, "out", engine, "v") == 0
    # every row records the head that wrote it
    metas = client.get_collection("out").get(include=["metadatas"])["metadatas"]
    assert len({m["gst_head"] for m in metas}) == 1


def test_langchain_reads_the_written_view(tmp_path):
    """The written collection is an ordinary Chroma collection: langchain-chroma serves it."""
    langchain_chroma = pytest.importorskip("langchain_chroma")
    from gst_integrations.stores import chroma_client, write_view_collection

    ids = [f"d{i}" for i in range(50)]
    source = ArraySource(ids, unit_rows(50, 16), documents=[f"text {i}" for i in ids])
    engine = ViewEngine(source, {"v": make_head(seed=0)}, device="cpu", metric="ip")
    client = chroma_client(tmp_path / "chroma")
    write_view_collection(engine, "v", client, "out", show_progress=False)
    store = langchain_chroma.Chroma(client=client, collection_name="out")
    qz = engine.query_vector(unit_rows(1, 16, seed=5)[0], "v")
    got = store.similarity_search_by_vector(qz.tolist(), k=5)
    want = engine.search_by_vector(unit_rows(1, 16, seed=5)[0], "v", k=5)
    assert [d.id for d in got] == [h.id for h in want]
    assert got[0].page_content == want[0].document
