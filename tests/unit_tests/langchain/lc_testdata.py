"""Small shared test data for the LangChain adapter tests, built once per process.

60 drug reviews from five conditions, their base vectors (real offline MiniLM) and two heads
fitted on their labels: ``condition`` and ``rating``. Module-level caches (not only pytest
fixtures) because the standard suites read their parameters from class properties.
"""

from __future__ import annotations

import functools
import os
from collections import defaultdict

import numpy as np
from langchain_core.vectorstores import InMemoryVectorStore

from gst_integrations import Head, fit_head
from gst_integrations.evaluation.datasets import LabelledCorpus, load_drug_reviews
from gst_integrations.langchain import GSTEmbeddings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CONDITIONS = ("Birth Control", "Depression", "Acne", "Pain", "Insomnia")
PER_CONDITION = 12
INSTRUCTIONS = {
    "condition": "Which condition is the patient treating?",
    "rating": "How satisfied is the patient with the drug?",
}


@functools.cache
def reviews() -> LabelledCorpus:
    """60 reviews: the first 12 of each of five conditions (deterministic)."""
    corpus = load_drug_reviews()
    picked: dict[str, list[int]] = defaultdict(list)
    for i, cond in enumerate(corpus.facets["condition"]):
        if cond in CONDITIONS and len(picked[cond]) < PER_CONDITION:
            picked[cond].append(i)
    return corpus.subset(sorted(i for idx in picked.values() for i in idx))


@functools.cache
def embeddings() -> GSTEmbeddings:
    """One base GSTEmbeddings (in-memory cache) shared by every test."""
    return GSTEmbeddings()


@functools.cache
def base_vectors() -> np.ndarray:
    return np.asarray(embeddings().embed_documents(reviews().texts), dtype=np.float32)


@functools.cache
def heads() -> dict[str, Head]:
    """Heads fitted on the sample's own labels (a trained linear head, few epochs)."""
    corpus, X = reviews(), base_vectors()
    return {
        name: fit_head(
            INSTRUCTIONS[name],
            X,
            corpus.facets[name],
            name=name,
            encoder=embeddings(),
            family="linear",  # trained; see the report on the lda default
            max_epochs=60,
            patience=8,
        )
        for name in INSTRUCTIONS
    }


def in_memory_store() -> InMemoryVectorStore:
    """A LangChain InMemoryVectorStore holding the sample's base vectors (served by the cache)."""
    corpus = reviews()
    vs = InMemoryVectorStore(embedding=embeddings())
    vs.add_texts(corpus.texts, metadatas=corpus.metadata, ids=corpus.ids)
    return vs
