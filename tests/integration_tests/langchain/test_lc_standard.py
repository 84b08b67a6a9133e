"""LangChain's standard integration suites, offline: real MiniLM and embedded Chroma."""

from __future__ import annotations

from typing import Any

from langchain_core.vectorstores import InMemoryVectorStore
from langchain_tests.integration_tests import (
    EmbeddingsIntegrationTests,
    RetrieversIntegrationTests,
)
from lc_chroma import engine
from lc_testdata import embeddings, heads, reviews

from gst_integrations.langchain import GSTEmbeddings, GSTRetriever, GSTVectorStoreRetriever


class TestGSTEmbeddingsBaseIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[GSTEmbeddings]:
        return GSTEmbeddings


class TestGSTEmbeddingsViewIntegration(EmbeddingsIntegrationTests):
    @property
    def embeddings_class(self) -> type[GSTEmbeddings]:
        return GSTEmbeddings

    @property
    def embedding_model_params(self) -> dict[str, Any]:
        return {"head": "rating", "head_store": heads()}


class TestGSTRetrieverIntegration(RetrieversIntegrationTests):
    """Materialised views over base vectors in embedded Chroma."""

    @property
    def retriever_constructor(self) -> type[GSTRetriever]:
        return GSTRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"engine": engine(), "view": "condition"}

    @property
    def retriever_query_example(self) -> str:
        return "this pill made my acne worse"


def _memory_store() -> InMemoryVectorStore:
    corpus = reviews()
    store = InMemoryVectorStore(embedding=embeddings())
    store.add_texts(corpus.texts, metadatas=corpus.metadata, ids=corpus.ids)
    return store


class TestGSTVectorStoreRetrieverIntegration(RetrieversIntegrationTests):
    """The query-side path over LangChain's InMemoryVectorStore."""

    @property
    def retriever_constructor(self) -> type[GSTVectorStoreRetriever]:
        return GSTVectorStoreRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"vectorstore": _memory_store(), "heads": heads(), "view": "rating"}

    @property
    def retriever_query_example(self) -> str:
        return "it did not help my insomnia at all"
