"""A user's own loss and head module train, save and load like the built-in families."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from gst_integrations import fit_head, load_head
from gst_integrations.core.errors import HeadFileError
from gst_integrations.core.heads import register_head_family
from gst_integrations.core.heads.families import HEAD_FAMILIES


def _data(n: int = 120, d: int = 16, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, d)) * 3
    X = (centres[y] + rng.normal(size=(n, d))).astype(np.float32)
    return X, [f"c{v}" for v in y]


class CountingLoss(nn.Module):
    """Cosine pull towards same-label rows; counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        zn = nn.functional.normalize(z, dim=1)
        same = (y[:, None] == y[None, :]).float()
        return ((zn @ zn.T - (2 * same - 1)) ** 2).mean()


class TinyHead(nn.Module):
    def __init__(self, d: int = 16, z: int = 5) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d, 8), nn.Tanh(), nn.Linear(8, z))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def test_own_loss_module_is_used_and_recorded() -> None:
    X, y = _data()
    loss = CountingLoss()
    head = fit_head("group", X, y, encoder=None, family="linear", loss=loss, z_dim=4, max_epochs=3)
    assert loss.calls > 0
    assert head.card["options"]["loss"] == "CountingLoss"
    assert head.transform(X).shape == (len(X), 4)


def test_own_loss_callable_is_accepted() -> None:
    X, y = _data()
    seen: list[int] = []

    def my_loss(z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        seen.append(len(labels))
        return z.pow(2).mean()

    head = fit_head("group", X, y, encoder=None, family="linear", loss=my_loss, max_epochs=2)
    assert seen and head.card["options"]["loss"].endswith("my_loss")


def test_own_module_trains_saves_and_loads(tmp_path: Path) -> None:
    X, y = _data()
    head = fit_head("group", X, y, encoder=None, module=TinyHead(), max_epochs=5)
    assert head.card["options"]["family"] == "custom" and head.out_dim == 5
    assert not head.is_linear
    path = head.save(tmp_path / "tiny")
    with pytest.raises(HeadFileError, match="module="):
        load_head(path)
    again = load_head(path, module=TinyHead())
    np.testing.assert_allclose(again.transform(X), head.transform(X), rtol=1e-5, atol=1e-6)


def test_registered_family_round_trips(tmp_path: Path) -> None:
    register_head_family("tiny_test", lambda d, z, hidden: TinyHead(d, z))
    try:
        X, y = _data()
        head = fit_head("group", X, y, encoder=None, family="tiny_test", z_dim=3, max_epochs=3)
        again = load_head(head.save(tmp_path / "t"))
        np.testing.assert_allclose(again.transform(X), head.transform(X), rtol=1e-5, atol=1e-6)
    finally:
        HEAD_FAMILIES.pop("tiny_test", None)


def test_unknown_family_and_bad_loss_are_refused() -> None:
    X, y = _data()
    with pytest.raises(ValueError, match="register_head_family"):
        fit_head("group", X, y, encoder=None, family="nope")
    with pytest.raises(ValueError, match="loss"):
        fit_head("group", X, y, encoder=None, family="linear", loss=42)


def test_a_bias_free_linear_module_is_linear() -> None:
    X, y = _data()
    head = fit_head("g", X, y, encoder=None, module=nn.Linear(16, 4, bias=False), max_epochs=2)
    assert head.is_linear and head.weight.shape == (4, 16)
