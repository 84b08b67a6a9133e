"""The one progress rule on the paths the CLI drives: a bar for work that takes seconds,
none for small work, none with show_progress=False or GST_PROGRESS=0."""

from __future__ import annotations

import chromadb
import numpy as np
import pytest

from gst_integrations import fit_head
from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.stores.chroma import embed_into_chroma, open_chroma_collection
from gst_integrations.stores.chroma.embed import PROGRESS_MIN_TEXTS

pytestmark = pytest.mark.integration


def test_embed_into_chroma_follows_the_rule(encoder, monkeypatch, capsys) -> None:
    client = chromadb.EphemeralClient()
    enc = CachedEncoder(encoder)
    texts = [f"review number {i} of a drug" for i in range(PROGRESS_MIN_TEXTS)]
    ids = [str(i) for i in range(len(texts))]

    def embed(name: str, n: int, **kw: object) -> str:
        col = open_chroma_collection(name, client=client, create=True)
        assert embed_into_chroma(col, texts[:n], ids[:n], encoder=enc, **kw) == n
        return capsys.readouterr().err

    monkeypatch.setenv("GST_PROGRESS", "1")
    assert "embed into bar-on" in embed("bar-on", len(texts))  # on by default, for enough texts
    assert "embed into" not in embed("small", 10)  # too little work for a bar
    assert "embed into" not in embed("bar-off", len(texts), show_progress=False)
    monkeypatch.setenv("GST_PROGRESS", "0")
    assert "embed into" not in embed("env-off", len(texts))
    assert "embed into forced" in embed("forced", len(texts), show_progress=True)


def test_fit_head_trained_families_follow_the_rule(drug_reviews, encoder, monkeypatch, capsys):
    X = CachedEncoder(encoder).encode(drug_reviews.texts[:60])
    y = drug_reviews.facets["condition"][:60]
    monkeypatch.setenv("GST_PROGRESS", "1")
    fit_head("Which condition?", X, y, family="linear", max_epochs=3, name="c")
    assert "fit c" in capsys.readouterr().err
    fit_head("Which condition?", X, y, family="linear", max_epochs=3, show_progress=False)
    monkeypatch.setenv("GST_PROGRESS", "0")
    fit_head("Which condition?", X, y, family="linear", max_epochs=3)
    assert "fit " not in capsys.readouterr().err
    assert np.isfinite(X).all()
