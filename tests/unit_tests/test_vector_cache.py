"""The base-vector cache: each distinct text encoded once, per encoder, across processes."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from gst_integrations.core.encoders import CallableEncoder
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.coerce import as_encoder


class Counting:
    def __init__(self, scale: float = 1.0) -> None:
        self.calls: list[str] = []
        self.scale = scale

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.calls.extend(texts)
        return np.stack(
            [np.full(8, (len(t) + 1) * self.scale, np.float32) + np.arange(8) for t in texts]
        )


def test_same_text_is_never_encoded_twice(tmp_path: Path) -> None:
    fn = Counting()
    enc = CachedEncoder(CallableEncoder(fn, name="count"), tmp_path / "c.sqlite")
    enc.fingerprint()  # the probe sentences are encoded once, to namespace the cache
    probes = len(fn.calls)
    a = enc.encode(["x", "yy", "x"])
    b = enc.encode(["yy", "zzz"])
    assert fn.calls[probes:] == ["x", "yy", "zzz"]
    np.testing.assert_array_equal(a[0], a[2])
    np.testing.assert_array_equal(a[1], b[0])
    assert as_encoder(enc) is enc


def test_cache_persists_and_is_namespaced_by_encoder(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    CachedEncoder(CallableEncoder(Counting(), name="a"), path).encode(["hello"])
    fn = Counting()
    again = CachedEncoder(CallableEncoder(fn, name="a"), VectorCache(path))
    again.fingerprint()
    n = len(fn.calls)
    again.encode(["hello"])
    assert fn.calls[n:] == []  # served from disk
    other_fn = Counting(scale=3.0)
    other = CachedEncoder(CallableEncoder(other_fn, name="b"), VectorCache(path))
    other.fingerprint()
    n = len(other_fn.calls)
    other.encode(["hello"])
    assert other_fn.calls[n:] == ["hello"]  # another encoder: its own namespace


def test_concurrent_use_is_safe(tmp_path: Path) -> None:
    enc = CachedEncoder(CallableEncoder(Counting(), name="a"), tmp_path / "c.sqlite")
    texts = [f"text {i}" for i in range(200)]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda chunk: enc.encode(chunk), [texts[i::4] for i in range(4)]))
    assert sum(len(o) for o in outs) == 200
    assert len(enc.cache) == 200


def test_single_string_is_refused_not_encoded_per_character() -> None:
    import pytest

    fn = Counting()
    enc = CachedEncoder(CallableEncoder(fn, name="count"))
    with pytest.raises(TypeError, match="list of texts"):
        enc.encode("hello")
    assert "h" not in fn.calls
