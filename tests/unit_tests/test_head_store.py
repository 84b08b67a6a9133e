"""HeadStore: named heads in a directory; a corrupt head breaks only its own view."""

from __future__ import annotations

import os

import numpy as np
import pytest
from _views_helpers import make_head

from gst_integrations.core.errors import HeadFileError, UnknownViewError
from gst_integrations.core.heads.store import HeadStore


def test_save_get_names_roundtrip(tmp_path):
    store = HeadStore(tmp_path / "heads", device="cpu")
    h1, h2 = make_head(name="b", seed=1), make_head(name="a", seed=2)
    store.save("b", h1)
    store.save("a", h2)
    assert store.names() == ["a", "b"] and len(store) == 2 and "a" in store
    X = np.random.default_rng(0).standard_normal((5, 16)).astype(np.float32)
    fresh = HeadStore(tmp_path / "heads", device="cpu")
    np.testing.assert_allclose(fresh.get("b").transform(X), h1.transform(X), rtol=1e-6)
    assert fresh.get("b") is fresh.get("b")  # cached after the first load
    assert set(fresh.cards()) == {"a", "b"} and fresh.errors() == {}


def test_unknown_view_lists_known(tmp_path):
    store = HeadStore(tmp_path, device="cpu")
    store.save("rating", make_head())
    with pytest.raises(UnknownViewError, match="known views: rating"):
        store.get("condition")
    with pytest.raises(UnknownViewError):
        store.remove("condition")


@pytest.mark.parametrize("bad", ["", "a/b", "../x", "a b", ".."])
def test_invalid_names_rejected(tmp_path, bad):
    with pytest.raises(ValueError, match="invalid view name"):
        HeadStore(tmp_path).save(bad, make_head())


def test_corrupt_head_only_breaks_itself(tmp_path):
    store = HeadStore(tmp_path, device="cpu")
    store.save("good", make_head())
    (tmp_path / "broken.safetensors").write_bytes(b"\x00garbage, not a head")
    assert store.names() == ["broken", "good"]
    with pytest.raises(HeadFileError):
        store.get("broken")
    assert store.get("good").out_dim == 8
    assert list(store.cards()) == ["good"]
    assert list(store.errors()) == ["broken"]


def test_reload_when_file_changes_and_remove(tmp_path):
    store = HeadStore(tmp_path, device="cpu")
    store.save("v", make_head(seed=1))
    first = store.get("v")
    other = HeadStore(tmp_path, device="cpu")
    other.save("v", make_head(seed=2, z=4))
    path = tmp_path / "v.safetensors"
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))
    assert store.get("v") is not first and store.get("v").out_dim == 4
    store.remove("v")
    assert "v" not in store and len(store) == 0


def test_a_replaced_file_is_noticed_within_one_mtime_tick(tmp_path):
    store = HeadStore(tmp_path, device="cpu")
    store.save("v", make_head(seed=1, z=8))
    first = store.get("v")
    path = tmp_path / "v.safetensors"
    tick = path.stat().st_mtime_ns
    HeadStore(tmp_path, device="cpu").save("v", make_head(seed=2, z=8))  # same size
    os.utime(path, ns=(tick, tick))  # the same mtime, as two saves within one tick
    second = store.get("v")
    assert second is not first
    np.testing.assert_array_equal(second.weight, make_head(seed=2, z=8).weight)
