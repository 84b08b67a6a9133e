"""Shared session fixtures: the offline base encoder and the drug-reviews corpus."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("GST_PROGRESS", "0")  # no progress bars in tests
# One vector cache per test session, shared by every test: the reviews are encoded once,
# and nothing is written to the user's own cache.
if "GST_CACHE_DIR" not in os.environ:
    _cache_dir = tempfile.mkdtemp(prefix="gst-test-cache-")
    os.environ["GST_CACHE_DIR"] = _cache_dir
    atexit.register(shutil.rmtree, _cache_dir, ignore_errors=True)


@pytest.fixture(autouse=True)
def _fresh_warn_once() -> None:
    """Every test sees the package's once-per-process warnings afresh."""
    from gst_integrations.core.feedback import reset_warnings

    reset_warnings()


@pytest.fixture(scope="session")
def encoder():
    """The default all-MiniLM-L6-v2 encoder (384-d), loaded once per session."""
    from gst_integrations.core.encoders.default import default_encoder

    return default_encoder()


@pytest.fixture(scope="session")
def drug_reviews():
    """The 495 drug reviews of the evaluation setup (facets condition, rating, drugName)."""
    from gst_integrations.evaluation.datasets import load_drug_reviews

    return load_drug_reviews()
