"""Heads are checked when their view is first used, once, across configurable rebuilds."""

from __future__ import annotations

import pytest
from lc_testdata import base_vectors, heads, in_memory_store, reviews

from gst_integrations import fit_head
from gst_integrations.core.errors import GSTError, HeadFileError
from gst_integrations.core.heads import HeadStore
from gst_integrations.langchain import GSTVectorStoreRetriever

QUERY = "my skin broke out badly"


def test_one_broken_head_breaks_only_its_own_view(tmp_path) -> None:
    store = HeadStore(tmp_path / "heads", device="cpu")
    for name, head in heads().items():
        store.save(name, head)
    (tmp_path / "heads" / "broken.safetensors").write_bytes(b"not a head")
    retriever = GSTVectorStoreRetriever(vectorstore=in_memory_store(), heads=store, k=2)
    assert len(retriever.invoke(QUERY, view="condition")) == 2  # built, and serving
    with pytest.raises(HeadFileError, match="broken"):
        retriever.invoke(QUERY, view="broken")
    assert len(retriever.invoke(QUERY, view="rating")) == 2


def test_a_non_linear_head_names_its_view() -> None:
    labels = reviews().facets["condition"]
    mlp = fit_head("Which condition?", base_vectors(), labels, family="mlp", max_epochs=1)
    retriever = GSTVectorStoreRetriever(
        vectorstore=in_memory_store(), heads={**heads(), "mlp": mlp}, k=2
    )
    with pytest.raises(GSTError, match="view 'mlp' has a mlp head"):
        retriever.invoke(QUERY, view="mlp")
    assert len(retriever.invoke(QUERY, view="condition")) == 2


def test_checks_are_cached_across_configurable_rebuilds(monkeypatch) -> None:
    import gst_integrations.core.search.backend as backend

    checks: list[str] = []
    real_side = backend.check_query_side
    monkeypatch.setattr(
        backend, "check_query_side", lambda h, v, w: (checks.append(v), real_side(h, v, w))
    )
    retriever = GSTVectorStoreRetriever(vectorstore=in_memory_store(), heads=heads(), k=2)
    chain = retriever.as_configurable()
    for view in ("condition", "rating", "condition", "rating"):
        docs = chain.invoke(QUERY, config={"configurable": {"view": view}})
        assert {d.metadata["gst_view"] for d in docs} == {view}
    assert checks == ["condition", "rating"]  # each head checked once, though rebuilt 4 times
    blend = chain.invoke(QUERY, config={"configurable": {"view": {"condition": 1, None: 1}}})
    assert blend[0].metadata["gst_view"] == "condition*1+generic*1"
