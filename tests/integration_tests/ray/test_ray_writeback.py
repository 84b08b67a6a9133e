"""Ray Data write-back into Milvus Lite, killed midway and resumed: nothing lost, nothing
duplicated, every row written by the head, and the engine's own sync agrees.

The job runs in its own process group (driver, local Ray cluster, Milvus Lite server) so
the test can kill all of it at once, as a crashed job would die.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("ray.data")
pytest.importorskip("milvus_lite")
sys.path.insert(0, str(Path(__file__).parents[2] / "unit_tests"))
from _views_helpers import make_head  # noqa: E402

pytestmark = pytest.mark.integration

N = 5000
JOB = Path(__file__).with_name("ray_job.py")


def _run(args: list[str], kill_after: int | None = None) -> list[str]:
    """Run the job; with ``kill_after``, SIGKILL its whole process group once it reports
    that many written rows. Returns its stdout lines."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "GST_PROGRESS": "0"}
    proc = subprocess.Popen(
        [sys.executable, str(JOB), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
        start_new_session=True,
    )
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.strip())
            if kill_after and line.startswith("written") and int(line.split()[1]) >= kill_after:
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait(timeout=600)
    finally:
        try:  # nothing of the job's group may outlive it
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return lines


def test_a_killed_ray_write_resumes_with_nothing_lost_or_duplicated(tmp_path):
    from pymilvus import MilvusClient

    from gst_integrations.core.views.engine import ViewEngine
    from gst_integrations.stores import ChromaSource, chroma_client
    from gst_integrations.stores.milvus import write_view_to_milvus
    from gst_integrations.stores.writeback import head_key

    X = np.random.default_rng(0).standard_normal((N, 16)).astype(np.float32)
    col = chroma_client(tmp_path / "chroma").create_collection("base", embedding_function=None)
    for s in range(0, N, 1000):
        col.add(
            ids=[f"d{i}" for i in range(s, s + 1000)],
            embeddings=X[s : s + 1000],
            documents=[f"text {i}" for i in range(s, s + 1000)],
            metadatas=[{"group": i % 3} for i in range(s, s + 1000)],
        )
    head = make_head(seed=0)
    head_file = str(head.save(tmp_path / "head.safetensors"))
    db = str(tmp_path / "view.db")
    args = [str(tmp_path / "chroma"), "base", head_file, db, "view_v", "500"]

    first = _run(args, kill_after=1500)
    assert not any(line.startswith("done") for line in first)  # killed midway
    second = _run(args)
    done = [line for line in second if line.startswith("done")]
    assert done, second
    written, skipped, deleted, total = map(int, done[0].split()[1:])
    assert total == N and deleted == 0 and 0 < written < N and written + skipped == N

    client = MilvusClient(db)
    try:
        client.load_collection("view_v")  # a new process: the collection starts released
        rows = client.query(
            "view_v", filter="", output_fields=["id", "vector", "gst_head", "document"], limit=N
        )
        ids = [r["id"] for r in rows]
        assert len(ids) == len(set(ids)) == N  # nothing lost, nothing duplicated
        key = head_key(head, "cosine")
        assert {r["gst_head"] for r in rows} == {key}
        Z = head.transform(X)
        Z /= np.linalg.norm(Z, axis=1, keepdims=True)
        got = np.asarray([r["vector"] for r in rows])
        want = Z[[int(i[1:]) for i in ids]]
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        assert rows[0]["document"] == f"text {ids[0][1:]}"
        # the engine's own sync follows the same rules: nothing left to write
        engine = ViewEngine(ChromaSource(col), {"v": head}, device="cpu")
        stats = write_view_to_milvus(engine, "v", client, "view_v", show_progress=False)
        assert (stats.written, stats.skipped, stats.deleted) == (0, N, 0)
    finally:
        client.close()
