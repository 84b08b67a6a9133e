"""Fixtures for the LangChain integration tests: the shared sample in an embedded Chroma."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The sample and heads are shared with the unit tests (one fit per process).
sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit_tests" / "langchain"))

from lc_chroma import chroma_client, collection, engine, lc_store  # noqa: E402


@pytest.fixture(scope="session")
def client():  # type: ignore[no-untyped-def]
    return chroma_client()


@pytest.fixture(scope="session")
def reviews_collection():  # type: ignore[no-untyped-def]
    return collection()


@pytest.fixture(scope="session")
def reviews_store():  # type: ignore[no-untyped-def]
    return lc_store()


@pytest.fixture(scope="session")
def reviews_engine():  # type: ignore[no-untyped-def]
    return engine()
