"""Session fixtures: one real Chroma-backed VectorStoreIndex over 200 drug reviews.

The index is built once with the real base encoder (all-MiniLM-L6-v2); two views are fitted
once; every test, and the cookbook run, reuse them through one on-disk vector cache, so
no review is encoded twice in the session.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

COOKBOOK = Path(__file__).resolve().parents[3] / "cookbook" / "llama_index_views.py"


@pytest.fixture(scope="session")
def cookbook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("llama_index_views", COOKBOOK)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def li_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("llama_index")


@pytest.fixture(scope="session")
def li_cache(li_dir: Path) -> Path:
    return li_dir / "vectors.sqlite"


@pytest.fixture(scope="session")
def li_data(cookbook: ModuleType) -> tuple[Any, Any]:
    """(indexed corpus of 200 reviews, 40 held-out reviews)."""
    return cookbook.split_reviews()


@pytest.fixture(scope="session")
def li_embed(li_cache: Path) -> Any:
    from gst_integrations.llama_index import GSTEmbedding

    return GSTEmbedding(cache=li_cache)


@pytest.fixture(scope="session")
def li_index(cookbook: ModuleType, li_data: Any, li_embed: Any, li_dir: Path) -> Any:
    corpus, _ = li_data
    index = cookbook.build_index(corpus, li_embed, li_dir / "chroma")
    assert li_embed.n_encoded == len(corpus)  # built once: each review encoded once
    return index


@pytest.fixture(scope="session")
def li_heads(cookbook: ModuleType, li_data: Any, li_embed: Any, li_index: Any, li_dir: Path):
    corpus, _ = li_data
    before = li_embed.n_encoded
    # family="lda": these tests check that each view follows its own facet through the
    # adapters, so the rating view must stay discriminant; the recipe itself uses the default
    # head, which falls back to the generic vectors for the barely encoded rating.
    heads = cookbook.fit_views(corpus, li_embed, li_dir / "heads", family="lda")
    assert li_embed.n_encoded == before  # fitting reads cached base vectors
    return heads


@pytest.fixture(scope="session")
def li_retriever(li_index: Any, li_heads: Any) -> Any:
    from gst_integrations.llama_index import GSTRetriever

    return GSTRetriever.from_index(li_index, li_heads, similarity_top_k=10)
