"""Training losses for heads, as swappable modules (a loss is any ``(z, y) -> scalar``).

``MarginContrastiveLoss`` is the GSTransform paper's pairwise loss on Euclidean distances
(same label: d², different label: max(0, m − d)², m = 10). ``SupervisedContrastiveLoss`` is
SupCon (Khosla et al.) on cosine similarities with a temperature, which a measurement on drug
reviews found to overfit less on small labelled samples. Pass either, or your own module or
callable, as ``fit_head(..., loss=...)``; the reconstruction term is added by training.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

#: A contrastive loss: view vectors (b, z) and integer labels (b,) -> a scalar tensor.
ContrastiveLoss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def margin_contrastive_loss(z: torch.Tensor, y: torch.Tensor, margin: float = 10.0) -> torch.Tensor:
    """Mean over all distinct pairs of the paper's margin loss."""
    d = torch.cdist(z, z)
    same = y[:, None] == y[None, :]
    off_diag = ~torch.eye(len(y), dtype=torch.bool, device=z.device)
    pos = d.pow(2)
    neg = F.relu(margin - d).pow(2)
    loss = torch.where(same, pos, neg)[off_diag]
    return loss.mean()


def supervised_contrastive_loss(
    z: torch.Tensor, y: torch.Tensor, temperature: float = 0.1
) -> torch.Tensor:
    """SupCon over L2-normalised z; anchors without a positive in the batch are skipped."""
    zn = F.normalize(z, dim=1)
    logits = zn @ zn.T / temperature
    n = len(y)
    self_mask = torch.eye(n, dtype=torch.bool, device=z.device)
    logits = logits.masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    pos = (y[:, None] == y[None, :]) & ~self_mask
    n_pos = pos.sum(1)
    has_pos = n_pos > 0
    if not bool(has_pos.any()):
        return z.sum() * 0.0
    mean_log_prob_pos = log_prob.masked_fill(~pos, 0.0).sum(1)[has_pos] / n_pos[has_pos]
    return -mean_log_prob_pos.mean()


class MarginContrastiveLoss(nn.Module):
    """The paper's margin loss as a module."""

    def __init__(self, margin: float = 10.0) -> None:
        super().__init__()
        self.margin = margin

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return margin_contrastive_loss(z, y, self.margin)


class SupervisedContrastiveLoss(nn.Module):
    """SupCon as a module."""

    def __init__(self, temperature: float = 1.0) -> None:
        super().__init__()
        self.temperature = temperature

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return supervised_contrastive_loss(z, y, self.temperature)


#: Losses by the name ``HeadOptions.loss`` accepts; each builds from the options.
LOSSES: dict[str, Callable[[Any], ContrastiveLoss]] = {
    "margin": lambda opts: MarginContrastiveLoss(opts.margin),
    "supcon": lambda opts: SupervisedContrastiveLoss(opts.temperature),
}


def loss_name(loss: str | ContrastiveLoss) -> str:
    """The name a head card records for a loss (a user's loss: its class or function name)."""
    if isinstance(loss, str):
        return loss
    return str(getattr(loss, "name", None) or getattr(loss, "__qualname__", type(loss).__name__))


def resolve_loss(opts: Any) -> ContrastiveLoss:
    """The contrastive loss of a ``HeadOptions``: a named built-in, or the user's own."""
    if isinstance(opts.loss, str):
        return LOSSES[opts.loss](opts)
    return opts.loss
