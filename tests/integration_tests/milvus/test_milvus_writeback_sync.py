"""The write-back sync against Milvus Lite: reruns in a new server process, head rollback.

Small random base vectors (the sync's bookkeeping is what is tested, not view quality).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "unit_tests"))
from _views_helpers import make_head, unit_rows  # noqa: E402

from gst_integrations.core.views.engine import ViewEngine  # noqa: E402
from gst_integrations.core.views.source import ArraySource  # noqa: E402

N = 600


def _engine(head) -> ViewEngine:
    ids = [f"d{i}" for i in range(N)]
    source = ArraySource(ids, unit_rows(N, 16), documents=[f"text {i}" for i in ids])
    return ViewEngine(source, {"v": head}, device="cpu")


def _restart(client, db: str):
    """A new process's view of the same .db: the Lite server restarts, collections released."""
    from milvus_lite.server_manager import server_manager_instance
    from pymilvus import MilvusClient

    client.close()
    server_manager_instance.release_server(db)
    return MilvusClient(db)


def _wrong_rows(client, engine) -> int:
    ids, Z = engine.view_matrix("v")
    got = client.get("out", ids=ids, output_fields=["vector"])
    assert len(got) == len(ids)
    by_id = {r["id"]: np.asarray(r["vector"]) for r in got}
    return sum(int(np.abs(by_id[i] - z).max() > 1e-5) for i, z in zip(ids, Z, strict=True))


def test_a_rerun_after_a_restart_loads_the_collection_and_resumes(lite_db):
    from pymilvus import MilvusClient

    from gst_integrations.stores.milvus import write_view_to_milvus

    engine = _engine(make_head(seed=0))
    client = MilvusClient(lite_db)

    def stop(written: int) -> None:
        if written >= 200:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_view_to_milvus(engine, "v", client, "out", 100, show_progress=False, on_batch=stop)
    client.flush("out")
    client = _restart(client, lite_db)  # the collection is now released
    try:
        stats = write_view_to_milvus(engine, "v", client, "out", 100, show_progress=False)
        assert (stats.written, stats.skipped, stats.total) == (N - 200, 200, N)
        assert _wrong_rows(client, engine) == 0
    finally:
        client.close()


def test_a_rollback_after_an_interrupted_refit_rewrites_the_other_heads_rows(lite_db):
    from pymilvus import MilvusClient

    from gst_integrations.stores.milvus import write_view_to_milvus

    old, new = make_head(seed=0), make_head(seed=1)
    engine = _engine(old)
    client = MilvusClient(lite_db)
    try:
        write_view_to_milvus(engine, "v", client, "out", 100, show_progress=False)
        engine.register("v", new)

        def stop(written: int) -> None:
            if written >= N // 2:
                raise KeyboardInterrupt

        with pytest.raises(KeyboardInterrupt):
            write_view_to_milvus(engine, "v", client, "out", 100, False, on_batch=stop)
        engine.register("v", old)
        stats = write_view_to_milvus(engine, "v", client, "out", 100, show_progress=False)
        assert (stats.written, stats.skipped, stats.total) == (N // 2, N // 2, N)
        assert _wrong_rows(client, engine) == 0
        heads = {
            r["gst_head"]
            for r in client.query("out", filter="", output_fields=["gst_head"], limit=N)
        }
        assert len(heads) == 1
    finally:
        client.close()
