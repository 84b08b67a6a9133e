"""Helpers for the view tests: random linear / mlp heads without training."""

from __future__ import annotations

import numpy as np
import torch

from gst_integrations.core.heads.families import build_head_module
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.persistence import FORMAT_VERSION


def make_head(
    d: int = 16,
    z: int = 8,
    family: str = "linear",
    seed: int = 0,
    name: str = "h",
    fingerprint: dict | None = None,
) -> Head:
    """A head with random weights (a fixed seed) and a valid card."""
    torch.manual_seed(seed)
    module = build_head_module(family, d, z, hidden_dim=32)
    card = {
        "format": "gst-head",
        "format_version": FORMAT_VERSION,
        "name": name,
        "instruction": f"instruction {name}",
        "label_names": ["a", "b"],
        "in_dim": d,
        "out_dim": z,
        "options": {"family": family, "hidden_dim": 32},
        "encoder": fingerprint,
        "metrics": {},
    }
    return Head(module, card, device="cpu")


def unit_rows(n: int, d: int, seed: int = 0) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((n, d)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)
