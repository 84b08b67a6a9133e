"""Fixtures for the Milvus Lite tests: a sample of reviews, a Lite .db per test, and the
langchain-milvus connection workaround.

Milvus Lite (milvus-lite 3.x) runs in this process; a ``.db`` path is a directory locked
by the process until ``release_server`` (``MilvusClient.close`` does not release it), so
every test gets its own path under ``tmp_path`` and releases it in teardown.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

CONDITIONS = ("Birth Control", "Depression", "Pain", "Acne")
PER_CONDITION = 30


@pytest.fixture(scope="session")
def cached(encoder: Any) -> Any:
    """The real base encoder behind one vector cache shared by the Milvus tests."""
    from gst_integrations.core.encoders.cache import CachedEncoder

    return CachedEncoder(encoder)


@pytest.fixture(scope="session")
def sample(drug_reviews: Any) -> Any:
    """120 reviews: the first 30 of four conditions (deterministic)."""
    picked: dict[str, list[int]] = {c: [] for c in CONDITIONS}
    for i, cond in enumerate(drug_reviews.facets["condition"]):
        if cond in picked and len(picked[cond]) < PER_CONDITION:
            picked[cond].append(i)
    return drug_reviews.subset(sorted(i for idx in picked.values() for i in idx))


@pytest.fixture()
def lite_db(tmp_path: Path) -> Iterator[str]:
    """A fresh Milvus Lite .db path; its in-process server is released afterwards."""
    path = str(tmp_path / "milvus.db")
    yield path
    from milvus_lite.server_manager import server_manager_instance

    server_manager_instance.release_server(path)
    shutil.rmtree(path, ignore_errors=True)  # a Lite .db is a directory
