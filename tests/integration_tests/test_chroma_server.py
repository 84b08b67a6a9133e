"""Client/server mode: a real ``chroma run`` server, searched through HttpClient."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from gst_integrations.core.encoders.cache import CachedEncoder
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


@pytest.fixture()
def chroma_server(tmp_path):
    """Start ``chroma run`` (from this venv) on a free port; stop it afterwards."""
    exe = Path(sys.executable).parent / "chroma"
    if not exe.exists():
        pytest.skip(f"no chroma CLI next to {sys.executable}")
    port = _free_port()
    log = open(tmp_path / "chroma.log", "wb")
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(tmp_path / "db"), "--port", str(port)],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.time() + 60
        while True:
            try:
                chroma_client(host="localhost", port=port)
                break
            except Exception:
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    raise RuntimeError(
                        "chroma run did not start: " + (tmp_path / "chroma.log").read_text()[-2000:]
                    ) from None
                time.sleep(0.3)
        yield port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


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
        ChromaSource(col), store, encoder=cached, device="cpu", metric="ip", page_size=8
    )
    hits = engine.search("my acne cleared up", "condition", k=5, where={"condition": "Acne"})
    assert len(hits) == 5 and all(h.metadata["condition"] == "Acne" for h in hits)
    # query-side search through the server's own index agrees with the materialised view
    side = QuerySideSearcher(store.get("condition"), chroma_search_base(col), metric="ip")
    q = cached.encode(["back pain all day"])[0]
    assert [h.id for h in side.search(q, k=5)] == [
        h.id for h in engine.search("back pain all day", "condition", k=5)
    ]
    # a document added on the server enters the view on the next search
    embed_into_chroma(
        col, ["A brand new review about acne."], ["new-1"], [{"condition": "Acne"}], cached
    )
    top = engine.search("A brand new review about acne.", None, k=1)[0]
    assert top.id == "new-1" and np.isclose(top.score, 1.0, atol=1e-4)
