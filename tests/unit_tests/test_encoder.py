"""The base-encoder protocol: every supported kind of encoder behind one interface."""

from __future__ import annotations

import numpy as np
import pytest

from gst_integrations.core.encoders import (
    CallableEncoder,
    LangChainEmbeddingsEncoder,
    LlamaIndexEmbeddingEncoder,
    as_encoder,
)
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import EncoderMismatchError, InvalidVectorsError


def test_langchain_embeddings_are_adapted() -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    enc = as_encoder(DeterministicFakeEmbedding(size=12))
    assert isinstance(enc, LangChainEmbeddingsEncoder)
    out = enc.encode(["a", "b", "a"])
    assert out.shape == (3, 12) and out.dtype == np.float32
    np.testing.assert_array_equal(out[0], out[2])
    assert enc.dim == 12


def test_llama_index_embedding_is_adapted() -> None:
    from llama_index.core.embeddings import MockEmbedding

    enc = as_encoder(MockEmbedding(embed_dim=6))
    assert isinstance(enc, LlamaIndexEmbeddingEncoder)
    assert enc.encode(["x", "y"]).shape == (2, 6)


def test_callable_and_errors() -> None:
    enc = as_encoder(lambda texts: np.ones((len(texts), 4)))
    assert isinstance(enc, CallableEncoder) and enc.encode(["q"]).shape == (1, 4)
    assert enc.encode([]).shape == (0, 4)
    with pytest.raises(TypeError, match="list of texts"):
        enc.encode("one string")
    with pytest.raises(TypeError, match="not an encoder"):
        as_encoder(42)
    broken = as_encoder(lambda texts: np.ones((1, 4)))
    with pytest.raises(InvalidVectorsError, match="returned shape"):
        broken.encode(["a", "b"])


def test_fingerprints_tell_encoders_apart() -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    a = as_encoder(DeterministicFakeEmbedding(size=8)).fingerprint()
    b = as_encoder(lambda t: np.random.default_rng(1).normal(size=(len(t), 8))).fingerprint()
    assert a.mismatch(a) is None
    assert "probe-sentence vectors differ" in (a.mismatch(b) or "")
    with pytest.raises(EncoderMismatchError):
        a.require_same(b)
    round_trip = EncoderFingerprint.from_dict(a.to_dict())
    assert round_trip == a and round_trip.key == a.key


def test_as_encoder_dispatches_by_type_not_by_attribute_names() -> None:
    """An object that answers every attribute name (as a pymongo Collection does) is no encoder."""
    import pytest

    from gst_integrations import as_encoder

    class AnswersEverything:
        def __getattr__(self, name: str):
            return lambda *a, **k: None

    with pytest.raises(TypeError, match="is not an encoder"):
        as_encoder(AnswersEverything())
