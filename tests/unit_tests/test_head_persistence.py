"""Head files: atomic saves, no unpickling, clear errors for corrupt or foreign heads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from gst_integrations import fit_head, load_head
from gst_integrations.core.encoders import CallableEncoder
from gst_integrations.core.errors import (
    DimensionMismatchError,
    EncoderMismatchError,
    HeadFileError,
    InvalidVectorsError,
)

D = 16


def encoder_a(texts: list[str]) -> np.ndarray:
    return np.stack([np.cos(np.arange(D) * (len(t) % 7 + 1)) for t in texts]).astype(np.float32)


def encoder_b(texts: list[str]) -> np.ndarray:
    return np.stack([np.sin(np.arange(D) * (len(t) % 5 + 2)) for t in texts]).astype(np.float32)


@pytest.fixture()
def head():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, D)).astype(np.float32)
    y = ["a", "b", "c"] * 20
    X[np.array(y) == "a", 0] += 4
    enc = CallableEncoder(encoder_a, name="enc-a")
    return fit_head("which letter", X, y, encoder=enc, name="letters"), X


def test_round_trip_is_exact(tmp_path: Path, head) -> None:
    h, X = head
    path = h.save(tmp_path / "letters")
    assert path.name == "letters.safetensors"
    loaded = load_head(path)
    np.testing.assert_array_equal(loaded.transform(X), h.transform(X))
    assert loaded.card == h.card
    assert loaded.instruction == "which letter" and loaded.label_names == ["a", "b", "c"]
    assert not list(tmp_path.glob(".*tmp"))  # no temp file left behind


def test_failed_save_keeps_the_old_file(tmp_path: Path, head, monkeypatch) -> None:
    h, X = head
    path = h.save(tmp_path / "letters.safetensors")
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("gst_integrations.core.heads.persistence.save_file", boom)
    with pytest.raises(OSError, match="disk full"):
        h.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["letters.safetensors"]


def test_truncated_file(tmp_path: Path, head) -> None:
    h, _ = head
    path = h.save(tmp_path / "h.safetensors")
    data = path.read_bytes()
    for cut in (5, 200, len(data) - 10):
        path.write_bytes(data[:cut])
        with pytest.raises(HeadFileError, match="corrupt or truncated|unreadable"):
            load_head(path)


def test_garbage_and_missing_and_foreign(tmp_path: Path) -> None:
    garbage = tmp_path / "g.safetensors"
    garbage.write_bytes(b"\x00" * 100)
    with pytest.raises(HeadFileError):
        load_head(garbage)
    with pytest.raises(HeadFileError, match="no head file"):
        load_head(tmp_path / "missing.safetensors")
    foreign = tmp_path / "foreign.safetensors"
    save_file({"w": torch.zeros(2, 2)}, str(foreign))
    with pytest.raises(HeadFileError, match="not a gst-integrations head"):
        load_head(foreign)


def test_pickle_is_never_loaded(tmp_path: Path) -> None:
    evil = tmp_path / "evil.safetensors"
    torch.save({"x": torch.zeros(1)}, evil)  # a pickle-based file
    with pytest.raises(HeadFileError):
        load_head(evil)


def test_wrong_dimension_at_transform(head) -> None:
    h, _ = head
    with pytest.raises(DimensionMismatchError, match="dimension 7.*expected|expects 16"):
        h.transform(np.zeros((3, 7), np.float32))
    with pytest.raises(DimensionMismatchError):
        h.transform(torch.zeros(3, 7))


def test_empty_and_nan_at_transform(head) -> None:
    h, _ = head
    with pytest.raises(InvalidVectorsError, match="empty"):
        h.transform(np.zeros((0, D), np.float32))
    bad = np.zeros((2, D), np.float32)
    bad[1, 1] = np.nan
    with pytest.raises(InvalidVectorsError, match="NaN"):
        h.transform(bad)


def test_head_fitted_on_another_encoder(head) -> None:
    h, X = head
    h.check_encoder(CallableEncoder(encoder_a, name="same model, other name"))
    other = CallableEncoder(encoder_b, name="enc-b")
    with pytest.raises(EncoderMismatchError, match="another base encoder"):
        h.check_encoder(other)
    with pytest.raises(EncoderMismatchError):
        h.transform(X, fingerprint=other.fingerprint())
    eight = CallableEncoder(lambda t: np.ones((len(t), 8), np.float32), name="eight")
    with pytest.raises(EncoderMismatchError, match="8-d"):
        h.check_encoder(eight)


def test_linear_head_query_matrix_scores_like_the_view(head) -> None:
    h, X = head
    q = X[:1]
    scores_view = h.transform(q) @ h.transform(X).T
    scores_rewritten = (q @ h.query_matrix()) @ X.T
    np.testing.assert_allclose(scores_view, scores_rewritten, rtol=1e-4, atol=1e-4)


def test_check_encoder_accepts_framework_objects(head) -> None:
    from langchain_core.embeddings import DeterministicFakeEmbedding

    h, _ = head
    with pytest.raises(EncoderMismatchError):
        h.check_encoder(DeterministicFakeEmbedding(size=D))
