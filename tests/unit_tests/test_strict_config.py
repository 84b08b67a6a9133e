"""Every pydantic model refuses unknown fields, so a misspelt option fails loudly."""

from __future__ import annotations

import numpy as np
import pydantic
import pytest
from langchain_core.vectorstores import InMemoryVectorStore

from gst_integrations import ArraySource, ViewEngine
from gst_integrations.core.encoders import CallableEncoder
from gst_integrations.langchain import GSTEmbeddings, GSTRetriever, GSTVectorStoreRetriever
from gst_integrations.llama_index import GSTEmbedding


def _encoder() -> CallableEncoder:
    return CallableEncoder(lambda texts: np.ones((len(texts), 4), np.float32), name="ones")


def test_langchain_embeddings_refuse_a_misspelt_field() -> None:
    with pytest.raises(pydantic.ValidationError, match="head_stor"):
        GSTEmbeddings(encoder=_encoder(), head_stor={})


def test_langchain_retrievers_refuse_unknown_fields() -> None:
    engine = ViewEngine(ArraySource(["a"], np.ones((1, 4), np.float32)), {}, encoder=_encoder())
    with pytest.raises(pydantic.ValidationError, match="viewz"):
        GSTRetriever(engine=engine, viewz="x")
    store = InMemoryVectorStore(GSTEmbeddings(encoder=_encoder()))
    with pytest.raises(pydantic.ValidationError, match="over_fetch"):
        GSTVectorStoreRetriever(vectorstore=store, heads={}, over_fetch=3)


def test_llama_index_embedding_refuses_a_misspelt_field() -> None:
    with pytest.raises(pydantic.ValidationError, match="head_stor"):
        GSTEmbedding(encoder=_encoder(), head_stor={})
