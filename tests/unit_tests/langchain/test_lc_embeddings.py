"""GSTEmbeddings: LangChain's standard unit suite, plus views, caching and bad input."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from langchain_tests.unit_tests import EmbeddingsUnitTests
from lc_testdata import embeddings, heads, reviews

from gst_integrations import as_encoder
from gst_integrations.core.encoders import CallableEncoder
from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.errors import EncoderMismatchError, UnknownViewError
from gst_integrations.langchain import GSTEmbeddings


class TestGSTEmbeddingsBaseUnit(EmbeddingsUnitTests):
    """No head: base vectors."""

    @property
    def embeddings_class(self) -> type[GSTEmbeddings]:
        return GSTEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {}


class TestGSTEmbeddingsViewUnit(EmbeddingsUnitTests):
    """A head: view vectors."""

    @property
    def embeddings_class(self) -> type[GSTEmbeddings]:
        return GSTEmbeddings

    @property
    def embedding_model_params(self) -> dict:
        return {"head": heads()["condition"]}


def test_base_and_view_dimensions() -> None:
    base = embeddings()
    view = base.with_view(heads()["condition"])
    assert len(base.embed_query("my acne cleared up")) == 384
    vec = np.asarray(view.embed_query("my acne cleared up"))
    assert vec.shape == (heads()["condition"].out_dim,)
    assert np.isclose(np.linalg.norm(vec), 1.0, atol=1e-5)  # normalised view vectors
    assert view.view_name == "condition" and base.view_name is None


def test_view_vectors_are_head_of_base_vectors() -> None:
    head = heads()["rating"]
    texts = reviews().texts[:3]
    raw = GSTEmbeddings(head=head, normalize=False).embed_documents(texts)
    expected = head.transform(np.asarray(embeddings().embed_documents(texts)))
    np.testing.assert_allclose(np.asarray(raw), expected, rtol=1e-4, atol=1e-5)


def test_same_text_never_encoded_twice_across_views() -> None:
    base = GSTEmbeddings()
    texts = ["a brand new sentence about insomnia", "another fresh one about acne"]
    base.embed_documents(texts)
    assert base.n_encoded == 2
    cond = base.with_view(heads()["condition"])
    cond.embed_documents(texts + texts)
    cond.embed_query(texts[0])
    base.with_view(heads()["rating"]).embed_documents(texts)
    assert base.n_encoded == 2 and cond.n_encoded == 2


def test_with_view_by_name_and_back_to_base() -> None:
    base = GSTEmbeddings(head_store=heads())
    cond = base.with_view("condition")
    assert cond.view_head is heads()["condition"]
    assert base.with_view(None).view_head is None
    with pytest.raises(UnknownViewError, match="unknown view 'dosage'.*condition"):
        base.with_view("dosage")
    with pytest.raises(UnknownViewError, match="head_store"):
        GSTEmbeddings(head="condition")


def test_core_unwraps_to_the_cached_base_encoder() -> None:
    base = embeddings()
    assert isinstance(base.base_encoder, CachedEncoder)
    assert as_encoder(base) is base.base_encoder
    assert as_encoder(base.with_view(heads()["condition"])) is base.base_encoder


def test_head_from_another_encoder_is_refused() -> None:
    rng = np.random.default_rng(0)
    proj = rng.normal(size=(256, 384)).astype(np.float32)

    def other(texts: list[str]) -> np.ndarray:  # a different 384-d "encoder"
        codes = np.array([[ord(c) % 256 for c in t[:8].ljust(8)] for t in texts])
        return np.stack([proj[c].sum(0) for c in codes])

    with pytest.raises(EncoderMismatchError, match="another base encoder"):
        GSTEmbeddings(encoder=CallableEncoder(other, name="other"), head=heads()["condition"])


def test_single_string_is_rejected() -> None:
    with pytest.raises(TypeError, match="list of texts"):
        embeddings().embed_documents("not a list")  # type: ignore[arg-type]


def test_async_matches_sync() -> None:
    view = embeddings().with_view(heads()["condition"])
    texts = reviews().texts[:2]
    docs = asyncio.run(view.aembed_documents(texts))
    query = asyncio.run(view.aembed_query(texts[0]))
    np.testing.assert_allclose(docs, view.embed_documents(texts), atol=1e-6)
    np.testing.assert_allclose(query, docs[0], atol=1e-6)
