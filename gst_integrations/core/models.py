"""Head families: the torch modules that map base vectors into a view.

``linear`` is a single bias-free matrix W (d -> z). Being linear, it allows the query-side
path: for inner-product views (Wq)·(Wx) = (WᵀWq)·x, so an existing base index can be
searched with a rewritten query. ``mlp`` is the GSTransform paper's encoder,
Linear(d→512), ReLU, Linear(512→z). Both carry a decoder Linear(z→d) used only by the
reconstruction loss during training; it is not saved with the head.
"""

from __future__ import annotations

import torch
from torch import nn

HEAD_FAMILIES = ("linear", "mlp")


def build_encoder(family: str, in_dim: int, out_dim: int, hidden_dim: int = 512) -> nn.Module:
    """The inference part of a head: base vector -> view vector."""
    if family == "linear":
        return nn.Sequential(nn.Linear(in_dim, out_dim, bias=False))
    if family == "mlp":
        return nn.Sequential(
            nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim)
        )
    raise ValueError(f"unknown head family {family!r}; choose one of {HEAD_FAMILIES}")


class HeadModule(nn.Module):
    """Encoder (kept) plus decoder (training only, for the reconstruction loss)."""

    def __init__(self, family: str, in_dim: int, out_dim: int, hidden_dim: int = 512) -> None:
        super().__init__()
        self.encoder = build_encoder(family, in_dim, out_dim, hidden_dim)
        self.decoder = nn.Linear(out_dim, in_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)
