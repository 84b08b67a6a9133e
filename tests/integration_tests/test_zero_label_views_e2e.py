"""Zero-label views with the real encoder on the drug reviews: condition names give a view,
sentiment names fall back; and the same through a LangChain Chroma store and its retriever."""

from __future__ import annotations

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings

from gst_integrations import fit_head
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.errors import ViewFallbackWarning
from gst_integrations.core.paths import default_cache_dir

CONDITION = "Which condition is the patient treating?"
RATING = "How satisfied is the patient with the drug?"


def _names(labels: list[str]) -> list[str]:
    return sorted({"Bipolar Disorder" if v == "Bipolar Disorde" else v for v in labels})


@pytest.fixture(scope="module")
def vectors(encoder, drug_reviews) -> np.ndarray:
    cached = CachedEncoder(encoder, VectorCache(default_cache_dir() / "vectors.sqlite"))
    return cached.encode(drug_reviews.texts)


def _separation(Z: np.ndarray, y: np.ndarray) -> float:
    """Mean cosine to same-label texts minus mean cosine to other-label texts."""
    Zn = Z / np.linalg.norm(Z, axis=1, keepdims=True)
    S = Zn @ Zn.T
    same = y[:, None] == y[None, :]
    np.fill_diagonal(same, False)
    return float(S[same].mean() - S[(y[:, None] != y[None, :])].mean())


def test_condition_names_give_a_view_that_separates_conditions(encoder, drug_reviews, vectors):
    y = np.asarray(drug_reviews.facets["condition"])
    head = fit_head(CONDITION, vectors, categories=_names(list(y)), encoder=encoder)
    zs = head.card["zero_shot"]
    assert not head.fell_back and zs["has_structure"] and zs["structure_z"] >= 2.0
    assert head.card["options"]["family"] == "lda_mix"  # no family choice on pseudo-labels
    # no label was used to fit it; the gold labels only judge it
    assert _separation(head.transform(vectors), y) > _separation(vectors, y) + 0.05


def test_sentiment_names_fall_back_to_generic(encoder, drug_reviews, vectors):
    with pytest.warns(ViewFallbackWarning, match="do not match how these texts group"):
        head = fit_head(
            RATING, vectors, categories=["positive", "neutral", "negative"], encoder=encoder
        )
    assert head.fell_back and head.card["zero_shot"]["structure_z"] < 0
    np.testing.assert_allclose(head.transform(vectors[:5]), vectors[:5], atol=1e-5)


def test_zero_label_view_from_a_langchain_store_serves_its_retriever(drug_reviews, tmp_path):
    from langchain_chroma import Chroma
    from langchain_huggingface import HuggingFaceEmbeddings

    from gst_integrations.core.encoders.default import default_model_path
    from gst_integrations.langchain import GSTRetriever, fit_view

    embeddings = HuggingFaceEmbeddings(
        model_name=default_model_path(), model_kwargs={"device": "cpu", "local_files_only": True}
    )
    client = chromadb.PersistentClient(
        path=str(tmp_path / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    store = Chroma(client=client, collection_name="reviews", embedding_function=embeddings)
    store.add_texts(drug_reviews.texts, metadatas=drug_reviews.metadata, ids=drug_reviews.ids)
    names = _names(drug_reviews.facets["condition"])
    head = fit_view(CONDITION, store, categories=names)
    assert not head.fell_back and head.label_names == names
    docs = GSTRetriever.from_chroma(store, {"condition": head}, k=10).invoke(
        "this cream finally cleared the pimples on my face", view="condition"
    )
    conditions = [d.metadata["condition"] for d in docs]
    assert conditions.count("Acne") >= 7, conditions
