"""Your own encoder and store: asymmetric query/document paths, views fitted from the store."""

from __future__ import annotations

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings
from langchain_chroma import Chroma
from langchain_huggingface import HuggingFaceEmbeddings
from lc_testdata import reviews
from sentence_transformers import SentenceTransformer

from gst_integrations import load_head
from gst_integrations.core.encoders import as_encoder
from gst_integrations.core.encoders.default import default_model_path
from gst_integrations.core.errors import InvalidLabelsError
from gst_integrations.langchain import GSTRetriever, fit_view

pytestmark = pytest.mark.integration

QUERIES = [
    "my skin cleared up",
    "could not sleep at night",
    "terrible headaches every day",
    "mood got much better",
    "side effects: weight gain",
    "pain relief finally",
]
PROMPTS = {"query": "query: ", "document": "passage: "}


@pytest.fixture(scope="module")
def asymmetric() -> HuggingFaceEmbeddings:
    """A real LangChain Embeddings whose embed_query and embed_documents differ (E5-style)."""
    return HuggingFaceEmbeddings(
        model_name=default_model_path(),
        model_kwargs={"device": "cpu", "local_files_only": True},
        encode_kwargs={"prompt": PROMPTS["document"], "normalize_embeddings": True},
        query_encode_kwargs={"prompt": PROMPTS["query"], "normalize_embeddings": True},
    )


@pytest.fixture(scope="module")
def store(asymmetric, tmp_path_factory) -> Chroma:
    client = chromadb.PersistentClient(
        path=str(tmp_path_factory.mktemp("asym")), settings=Settings(anonymized_telemetry=False)
    )
    corpus = reviews()
    store = Chroma(client=client, collection_name="asym", embedding_function=asymmetric)
    store.add_texts(corpus.texts, metadatas=corpus.metadata, ids=corpus.ids)
    return store


def test_the_query_path_differs_and_is_fingerprinted(asymmetric) -> None:
    enc = as_encoder(asymmetric)
    q, d = enc.encode_query(["acne"])[0], enc.encode(["acne"])[0]
    assert not np.allclose(q, d)
    fp = enc.fingerprint()
    assert fp.asymmetric and fp.mismatch(as_encoder(lambda t: enc.encode(t)).fingerprint())


def test_generic_view_ranks_exactly_as_the_store(store, asymmetric) -> None:
    labels = dict(zip(reviews().ids, reviews().facets["condition"], strict=True))
    head = fit_view("Which condition is the patient treating?", store, labels=labels)
    retriever = GSTRetriever.from_chroma(store, {"condition": head}, k=5)
    for q in QUERIES:
        ours = [d.id for d in retriever.invoke(q)]
        theirs = [d.id for d in store.similarity_search(q, k=5)]
        assert ours == theirs, q
    # and a view's query goes through the query path, then the head
    engine = retriever.engine
    want = head.transform(np.asarray([asymmetric.embed_query(QUERIES[0])], np.float32))[0]
    np.testing.assert_allclose(engine.query_vector(QUERIES[0], "condition"), want, atol=1e-5)


def test_sentence_transformers_prompts_are_the_query_path() -> None:
    model = SentenceTransformer(default_model_path(), device="cpu", prompts=PROMPTS)
    enc = as_encoder(model)
    text = ["my acne cleared up"]
    np.testing.assert_allclose(
        enc.encode_query(text)[0], model.encode(["query: my acne cleared up"])[0], atol=1e-5
    )
    np.testing.assert_allclose(
        enc.encode(text)[0], model.encode(["passage: my acne cleared up"])[0], atol=1e-5
    )


def test_fit_view_from_the_store_records_its_fingerprint(store, tmp_path) -> None:
    head = fit_view("Which condition is the patient treating?", store, labels="condition")
    with pytest.warns(DeprecationWarning, match="instruction first"):
        old_order = fit_view(store, "Which condition is the patient treating?", labels="condition")
    assert old_order.instruction == head.instruction
    assert head.card["encoder_known"] and head.fingerprint.asymmetric
    head = load_head(head.save(tmp_path / "h"))
    head.check_encoder(store.embeddings)  # its own encoder is accepted after a round trip
    with pytest.raises(InvalidLabelsError, match="not in the store"):
        fit_view("x", store, labels={"nope-1": "a", "nope-2": "b"})
    with pytest.raises(InvalidLabelsError, match="metadata key 'nope'"):
        fit_view(store, "x", labels="nope")
