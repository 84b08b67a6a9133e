"""Client/server mode: a real ``chroma run`` server, searched through HttpClient."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest

from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.errors import StaleDataWarning
from gst_integrations.core.heads.store import HeadStore
from gst_integrations.core.heads.training import fit_head
from gst_integrations.core.search.query_side import QuerySideSearcher
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.stores import (
    ChromaSource,
    chroma_client,
    chroma_search_base,
    embed_into_chroma,
    open_chroma_collection,
)

pytestmark = [pytest.mark.integration, pytest.mark.server]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ChromaServer:
    """A ``chroma run`` process (from this venv) on a free port, which a test can stop."""

    def __init__(self, path: Path) -> None:
        self.exe = Path(sys.executable).parent / "chroma"
        self.path = path
        self.port = _free_port()
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        log = open(self.path / "chroma.log", "ab")
        self.proc = subprocess.Popen(
            [str(self.exe), "run", "--path", str(self.path / "db"), "--port", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.time() + 60
        while True:
            try:
                chroma_client(host="localhost", port=self.port)
                return
            except Exception:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError(
                        "chroma run did not start: "
                        + (self.path / "chroma.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.3)

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


@pytest.fixture()
def server(tmp_path):
    """A started ``chroma run`` server; stopped afterwards."""
    srv = ChromaServer(tmp_path)
    if not srv.exe.exists():
        pytest.skip(f"no chroma CLI next to {sys.executable}")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


@pytest.fixture()
def chroma_server(server):
    return server.port


def test_view_search_through_http_client(chroma_server, tmp_path, encoder, drug_reviews):
    cached = CachedEncoder(encoder)
    idx = [i for i, c in enumerate(drug_reviews.facets["condition"]) if c in ("Acne", "Pain")]
    sub = drug_reviews.subset(idx[:30])
    col = open_chroma_collection(
        "reviews",
        host="localhost",
        port=chroma_server,
        create=True,
        encoder_fingerprint=cached.fingerprint(),
    )
    embed_into_chroma(col, sub.texts, sub.ids, sub.metadata, cached, batch_size=10)
    X = cached.encode(sub.texts)
    store = HeadStore(tmp_path / "heads", device="cpu")
    store.save(
        "condition",
        fit_head(
            "which condition?",
            X,
            sub.facets["condition"],
            encoder=cached,
            device="cpu",
            family="linear",
            z_dim=16,
            max_epochs=20,
        ),
    )
    engine = ViewEngine(
        ChromaSource(col),
        store,
        encoder=cached,
        device="cpu",
        metric="ip",
        page_size=8,
        max_staleness=0,
    )
    hits = engine.search("my acne cleared up", "condition", k=5, where={"condition": "Acne"})
    assert len(hits) == 5 and all(h.metadata["condition"] == "Acne" for h in hits)
    # query-side search through the server's own index agrees with the materialised view
    side = QuerySideSearcher(store.get("condition"), chroma_search_base(col), metric="ip")
    q = cached.encode(["back pain all day"])[0]
    assert [h.id for h in side.search(q, k=5)] == [
        h.id for h in engine.search("back pain all day", "condition", k=5)
    ]
    # with max_staleness=0, a document added on the server enters the view on the next search
    embed_into_chroma(
        col, ["A brand new review about acne."], ["new-1"], [{"condition": "Acne"}], cached
    )
    top = engine.search("A brand new review about acne.", None, k=1)[0]
    assert top.id == "new-1" and np.isclose(top.score, 1.0, atol=1e-4)


def test_a_server_that_goes_away_leaves_the_last_snapshot_serving(server, tmp_path, encoder):
    cached = CachedEncoder(encoder)
    texts = [
        f"review {i}: the {w} cleared up after a week"
        for i, w in enumerate(["acne", "rash", "pain", "cough", "fever", "itch"] * 3)
    ]
    col = open_chroma_collection(
        "live",
        host="localhost",
        port=server.port,
        create=True,
        encoder_fingerprint=cached.fingerprint(),
    )
    embed_into_chroma(col, texts, [f"r{i}" for i in range(len(texts))], None, cached)
    engine = ViewEngine(ChromaSource(col), {}, encoder=cached, device="cpu", max_staleness=0)
    before = [h.id for h in engine.search("my acne cleared up", None, k=3)]
    server.stop()
    with pytest.warns(StaleDataWarning, match="serving the last snapshot"):
        assert [h.id for h in engine.search("my acne cleared up", None, k=3)] == before
    server.start()  # the same port and data: the next refresh recovers
    embed_into_chroma(col, ["my acne cleared up"], ["new"], None, cached)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hits = engine.search("my acne cleared up", None, k=3)
    assert hits[0].id == "new"
    stats = engine.refresh(full=True)  # nothing lost, nothing duplicated
    assert stats.total == len(texts) + 1 == col.count()
    ids, _ = engine.view_matrix(None)
    assert sorted(ids) == sorted(col.get(include=[])["ids"])


def test_a_server_has_no_change_feed_and_reconciles_within_its_cost_bound(server, tmp_path):
    """Over HttpClient there is no write log to read: a user's refresh() reconciles, and
    automatic refreshes reconcile on a period bounded by the reconciliation's own cost."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 16)).astype(np.float32)
    col = chroma_client(host="localhost", port=server.port).get_or_create_collection(
        "http-fresh", embedding_function=None
    )
    col.add(ids=[f"d{i}" for i in range(300)], embeddings=X, documents=["t"] * 300)
    source = ChromaSource(col)
    assert source.cursor() is None  # no feed over a server
    engine = ViewEngine(source, {}, device="cpu", max_staleness=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        engine.search_by_vector(X[0], None, k=1)
    col.update(ids=["d7"], embeddings=X[8:9], documents=["same count, new text"])
    stats = engine.refresh()
    assert (stats.how, stats.updated) == ("reconcile", 1)
    health = engine.health()
    assert health.mode == "revisions + reconciliation"
    assert health.reconcile_every == pytest.approx(10 * health.last_reconcile_seconds)
    col.update(ids=["d9"], embeddings=X[10:11], documents=["second quiet update"])
    time.sleep(health.reconcile_every + 0.05)
    engine.search_by_vector(X[0], None, k=1)  # the period has passed: this search reconciles
    assert engine.documents(["d9"])[0] == ["second quiet update"]
