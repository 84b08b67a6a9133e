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
