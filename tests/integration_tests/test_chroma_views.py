"""Views over a real embedded Chroma collection of drug reviews, with the real encoder."""

from __future__ import annotations

import socket

import numpy as np
import pytest

from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import (
    DimensionMismatchError,
    EncoderMismatchError,
    HeadFileError,
    StoreError,
    UnknownViewError,
)
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
    sync_view_collection,
    write_view_collection,
)

pytestmark = pytest.mark.integration

CONDITIONS = ["Depression", "Pain", "Acne", "Birth Control"]
N_FIT, N_STORE = 64, 40


@pytest.fixture(scope="module")
def cached(encoder):
    return CachedEncoder(encoder)


@pytest.fixture(scope="module")
def sample(drug_reviews):
    """64 reviews of four conditions: the first 40 go into Chroma, all fit the heads."""
    rng = np.random.default_rng(0)
    idx = [i for i, c in enumerate(drug_reviews.facets["condition"]) if c in CONDITIONS]
    idx = sorted(rng.choice(idx, N_FIT, replace=False).tolist())
    sub = drug_reviews.subset(idx)
    for n, meta in enumerate(sub.metadata):
        meta["n"] = n
    return sub


@pytest.fixture(scope="module")
def head_dir(tmp_path_factory, sample, cached):
    """A head store with three linear views and one MLP view (short fits: speed, not quality)."""
    X = cached.encode(sample.texts)
    store = HeadStore(tmp_path_factory.mktemp("heads"), device="cpu")
    for facet in ("condition", "rating", "drugName"):
        if facet == "drugName":  # most drugs appear once in the sample: label by first letter
            labels = [d[0].upper() for d in sample.facets[facet]]
        else:
            labels = sample.facets[facet]
        head = fit_head(
            f"which {facet}?",
            X,
            labels,
            encoder=cached,
            name=facet,
            device="cpu",
            family="linear",
            z_dim=32,
            max_epochs=20,
        )
        store.save(facet, head)
    mlp = fit_head(
        "which condition? (mlp)",
        X,
        sample.facets["condition"],
        encoder=cached,
        name="condition-mlp",
        device="cpu",
        family="mlp",
        z_dim=32,
        max_epochs=10,
    )
    store.save("condition-mlp", mlp)
    return store.root


def _make_collection(client, name, sample, cached, n=N_STORE):
    col = open_chroma_collection(name, client=client, create=True)
    embed_into_chroma(
        col, sample.texts[:n], sample.ids[:n], sample.metadata[:n], cached, batch_size=16
    )
    return col


@pytest.fixture()
def setup(tmp_path, sample, cached, head_dir):
    client = chroma_client(tmp_path / "chroma")
    col = _make_collection(client, "reviews", sample, cached)
    engine = ViewEngine(
        ChromaSource(col),
        HeadStore(head_dir, device="cpu"),
        encoder=cached,
        device="cpu",
        page_size=16,
    )
    return client, col, engine


def _brute(engine, view, query, k):
    ids, M = engine.view_matrix(view)
    q = engine.query_vector(query, view)
    q = q / np.linalg.norm(q)
    return [ids[i] for i in np.argsort(-(M @ q), kind="stable")[:k]]


def test_views_built_and_switched_without_encoding(setup, sample, cached):
    _, col, engine = setup
    assert engine.views() == ["condition", "condition-mlp", "drugName", "rating"]
    query = "this pill cleared my skin but gave me headaches"
    cached.encode([query])
    before = cached.n_encoded
    tops = {}
    for view in ("condition", "rating", "drugName", "condition-mlp", None):
        hits = engine.search(query, view, k=5)
        assert len(hits) == 5 and all(h.view == view for h in hits)
        assert hits[0].document in sample.texts and "condition" in hits[0].metadata
        if view is not None:
            assert [h.id for h in hits] == _brute(engine, view, query, 5)
        tops[view] = tuple(h.id for h in hits)
    assert cached.n_encoded == before  # switching views never encodes
    assert len(set(tops.values())) >= 3
    views = {"view condition", "view rating", "view drugName", "view condition-mlp"}
    # the generic view is the base matrix itself: held once, shared by every view
    assert set(engine.memory()) == views | {"base matrix", "rows (ids, signatures)", "catalogue"}
    # the generic view is exact cosine over the stored base vectors
    got = col.get(include=["embeddings"])
    B = np.asarray(got["embeddings"], np.float32)
    q = cached.encode([query])[0]
    order = np.argsort(-(B @ q) / np.linalg.norm(B, axis=1))[:5]
    assert list(tops[None]) == [got["ids"][i] for i in order]


def test_added_and_removed_documents_refresh(setup, sample, cached):
    _, col, engine = setup
    assert engine.refresh().added == N_STORE  # rows read once; every registered view made
    assert set(engine.memory()) >= {"view condition", "view rating", "view condition-mlp"}
    new_ids = sample.ids[N_STORE : N_STORE + 6]
    embed_into_chroma(
        col,
        sample.texts[N_STORE : N_STORE + 6],
        new_ids,
        sample.metadata[N_STORE : N_STORE + 6],
        cached,
    )
    gone = sample.ids[:3]
    col.delete(ids=gone)
    stats = engine.refresh()  # every registered view
    assert stats.added == 6 and stats.removed == 3 and stats.total == N_STORE + 3
    assert engine.refresh("condition").added == 0
    for view in ("condition", "rating"):
        ids, _ = engine.view_matrix(view)
        assert len(ids) == N_STORE + 3 and set(new_ids) <= set(ids) and not set(gone) & set(ids)
    hit = engine.search(sample.texts[N_STORE + 2], None, k=1)[0]
    assert hit.id == new_ids[2] and hit.score > 0.99
    # a search refreshes first once the last refresh is older than max_staleness
    engine.max_staleness = 0
    col.delete(ids=[new_ids[2]])
    assert new_ids[2] not in {h.id for h in engine.search(sample.texts[N_STORE + 2], None, k=5)}


@pytest.mark.parametrize(
    "where",
    [
        {"condition": "Acne"},
        {"condition": {"$ne": "Pain"}},
        {"condition": {"$in": ["Pain", "Acne"]}},
        {"rating": {"$nin": ["positive"]}},
        {"n": {"$gte": 10}},
        {"$and": [{"n": {"$lt": 30}}, {"rating": "positive"}]},
        {"$or": [{"condition": "Depression"}, {"n": {"$lte": 3}}]},
    ],
)
def test_filters_agree_with_chroma(setup, where):
    _, col, engine = setup
    expected = set(col.get(where=where, include=[])["ids"])
    hits = engine.search("it helped a lot", "condition", k=N_STORE, where=where)
    assert {h.id for h in hits} == expected
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_where_document_filter(setup):
    _, col, engine = setup
    wd = {"$contains": "the"}
    expected = set(col.get(where_document=wd, include=[])["ids"])
    hits = engine.search("side effects", "rating", k=N_STORE, where_document=wd)
    assert {h.id for h in hits} == expected


def test_query_side_matches_exact_path(tmp_path, sample, cached, head_dir):
    client = chroma_client(tmp_path / "chroma")
    col = _make_collection(client, "reviews", sample, cached)
    store = HeadStore(head_dir, device="cpu")
    ip_engine = ViewEngine(ChromaSource(col), store, encoder=cached, device="cpu", metric="ip")
    cos_engine = ViewEngine(ChromaSource(col), store, encoder=cached, device="cpu")
    for view in ("condition", "rating"):
        head = store.get(view)
        ip_side = QuerySideSearcher(head, chroma_search_base(col), metric="ip")
        cos_side = QuerySideSearcher(head, chroma_search_base(col), metric="cosine", overfetch=8)
        for query in ("my anxiety got worse", "great for acne", "no pain relief at all"):
            q = cached.encode([query])[0]
            exact = ip_engine.search(query, view, k=5)
            side = ip_side.search(q, k=5)
            assert [h.id for h in side] == [h.id for h in exact]  # ip: exact
            np.testing.assert_allclose(
                [h.score for h in side], [h.score for h in exact], rtol=1e-3, atol=1e-5
            )
            # cosine: over-fetching 8 x 5 = all 40 docs makes the re-rank exact
            assert [h.id for h in cos_side.search(q, k=5)] == [
                h.id for h in cos_engine.search(query, view, k=5)
            ]
    with pytest.raises(TypeError, match="linear head"):
        QuerySideSearcher(store.get("condition-mlp"), chroma_search_base(col))
    # One store round trip per search, even when the over-fetch exceeds the collection.
    calls: list[str] = []

    class Recording:
        """The real collection, recording which of its methods a search touches."""

        def __getattr__(self, name: str):
            calls.append(name)
            return getattr(col, name)

    side = QuerySideSearcher(store.get("condition"), chroma_search_base(Recording()), metric="ip")
    hits = side.search(cached.encode(["great for acne"])[0], k=50)
    assert sorted(h.id for h in hits) == sorted(col.get(include=[])["ids"])  # all 40
    assert calls == ["query"]


def test_write_back_and_sync(setup, sample, cached):
    client, col, engine = setup
    stats = write_view_collection(
        engine, "condition", client, "reviews.condition", batch_size=16, show_progress=False
    )
    assert (stats.written, stats.skipped, stats.total) == (N_STORE, 0, N_STORE)
    out = client.get_collection("reviews.condition", embedding_function=None)
    assert out.metadata["gst_view"] == "condition"
    got = out.get(include=["embeddings", "documents", "metadatas"])
    ids, M = engine.view_matrix("condition")
    row = {i: r for r, i in enumerate(ids)}
    np.testing.assert_allclose(
        np.asarray(got["embeddings"]), M[[row[i] for i in got["ids"]]], rtol=1e-5, atol=1e-6
    )
    j = got["ids"].index(sample.ids[5])
    assert got["documents"][j] == sample.texts[5]
    assert got["metadatas"][j]["condition"] == sample.metadata[5]["condition"]
    # the written view answers like the engine
    qz = engine.query_vector("birth control made me gain weight", "condition")
    res = out.query(query_embeddings=[qz], n_results=5, include=[])
    assert res["ids"][0] == [
        h.id for h in engine.search("birth control made me gain weight", "condition", k=5)
    ]
    # sync: new documents enter, deleted ones leave, nothing else is rewritten
    embed_into_chroma(
        col,
        sample.texts[N_STORE : N_STORE + 4],
        sample.ids[N_STORE : N_STORE + 4],
        sample.metadata[N_STORE : N_STORE + 4],
        cached,
    )
    col.delete(ids=sample.ids[:2])
    stats = sync_view_collection(engine, "condition", client, "reviews.condition")
    assert (stats.written, stats.deleted, stats.total) == (4, 2, N_STORE + 2)
    assert set(out.get(include=[])["ids"]) == set(col.get(include=[])["ids"])


def test_interrupted_write_back_resumes_without_duplicates(setup):
    client, _, engine = setup

    def stop_after_two_batches(written):
        if written >= 20:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        write_view_collection(
            engine,
            "rating",
            client,
            "reviews.rating",
            batch_size=10,
            show_progress=False,
            on_batch=stop_after_two_batches,
        )
    out = client.get_collection("reviews.rating", embedding_function=None)
    assert out.count() == 20
    stats = write_view_collection(
        engine, "rating", client, "reviews.rating", batch_size=10, show_progress=False
    )
    assert (stats.written, stats.skipped, stats.total) == (N_STORE - 20, 20, N_STORE)
    ids = out.get(include=[])["ids"]
    assert len(ids) == len(set(ids)) == N_STORE
    with pytest.raises(StoreError, match="holds view 'rating'"):
        write_view_collection(engine, "condition", client, "reviews.rating", show_progress=False)


def test_unknown_view_and_corrupt_head(setup, head_dir, tmp_path):
    _, col, _ = setup
    store_dir = tmp_path / "heads"
    store_dir.mkdir()
    for name in ("condition", "rating"):
        (store_dir / f"{name}.safetensors").write_bytes(
            (head_dir / f"{name}.safetensors").read_bytes()
        )
    (store_dir / "broken.safetensors").write_bytes(b"{not a safetensors file")
    engine = ViewEngine(ChromaSource(col), HeadStore(store_dir, device="cpu"), device="cpu")
    assert engine.views() == ["broken", "condition", "rating"]
    with pytest.raises(HeadFileError):
        engine.search("headache", "broken")
    with pytest.raises(UnknownViewError, match="known views: broken, condition, rating"):
        engine.search("headache", "conditon")
    assert len(engine.search("headache", "condition", k=3)) == 3  # others keep working
    assert len(engine.search("headache", "rating", k=3)) == 3
    assert list(engine.heads.errors()) == ["broken"]
    with pytest.warns(UserWarning, match="view 'broken' skipped"):
        stats = engine.refresh()  # refreshing every view skips the broken one
    assert stats.total == N_STORE


def test_collection_of_another_dimension(tmp_path, head_dir, cached):
    client = chroma_client(tmp_path / "chroma")
    col = client.get_or_create_collection("small-vectors", embedding_function=None)
    col.add(ids=["a", "b"], embeddings=np.eye(2, 8, dtype=np.float32), documents=["a", "b"])
    engine = ViewEngine(
        ChromaSource(col), HeadStore(head_dir, device="cpu"), encoder=cached, device="cpu"
    )
    with pytest.raises(DimensionMismatchError, match="384-d base vectors.*8-d"):
        engine.search(np.ones(8, np.float32), "condition")
    with pytest.raises(DimensionMismatchError):
        engine.search("a text", None)  # 384-d query against 8-d store


def test_collection_of_another_encoder(tmp_path, head_dir, sample, cached):
    client = chroma_client(tmp_path / "chroma")
    real = cached.fingerprint()
    rng = np.random.default_rng(1)
    other = EncoderFingerprint(
        "some/other-encoder",
        real.dim,
        tuple(tuple(rng.standard_normal(real.dim).tolist()) for _ in range(3)),
    )
    col = open_chroma_collection("other-enc", client=client, create=True, encoder_fingerprint=other)
    col.add(ids=["a"], embeddings=rng.standard_normal((1, real.dim)).astype(np.float32))
    engine = ViewEngine(
        ChromaSource(col), HeadStore(head_dir, device="cpu"), encoder=cached, device="cpu"
    )
    with pytest.raises(EncoderMismatchError, match="cannot read this store"):
        engine.search(np.ones(real.dim, np.float32), "condition")
    with pytest.raises(EncoderMismatchError, match="query encoder"):
        engine.search("a text", None)
    with pytest.raises(EncoderMismatchError, match="another base encoder"):
        embed_into_chroma(col, ["x"], ["x"], encoder=cached)
    with pytest.raises(EncoderMismatchError):
        open_chroma_collection("other-enc", client=client, encoder_fingerprint=real)
    assert col.count() == 1  # nothing was written
    with pytest.raises(StoreError, match="no collection 'missing'"):
        open_chroma_collection("missing", client=client)


def test_chroma_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket is closed
    with pytest.raises(StoreError, match="cannot reach Chroma"):
        chroma_client(host="127.0.0.1", port=port)
    with pytest.raises(StoreError, match="cannot reach Chroma"):
        open_chroma_collection("reviews", host="127.0.0.1", port=port)
