"""Refit a fitted head's recipe on other labelled texts, choosing nothing again.

Cross-fitting needs the same view fitted on part of a guide: blend weights chosen on the
guide the views were fitted on would otherwise favour whichever view overfits it most. The
head's card says what its fit chose (family, shrinkage, alpha, common direction, training
options), so the refit repeats that recipe on the given rows in one pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.lda import fit_lda_weight
from gst_integrations.core.heads.losses import LOSSES
from gst_integrations.core.heads.mix import ViewFitOptions, refit_view_weight, view_fit_options
from gst_integrations.core.heads.options import HeadOptions
from gst_integrations.core.heads.trainer import train_linear_weight

__all__ = ["can_refit", "refit_weight"]

#: Families whose recipe ``refit_weight`` can repeat.
REFITTABLE = ("lda_mix", "probe_mix", "lda", "linear")


def can_refit(head: Head) -> bool:
    """True when the head is linear, was fitted on labels, and its family is refittable."""
    return (
        head.family in REFITTABLE
        and head.card.get("labels_from") != "categories"
        and head.is_linear
    )


def refit_weight(head: Head, X: np.ndarray, y: Sequence[Any] | np.ndarray) -> np.ndarray:
    """W (z, d) of ``head``'s recipe fitted on ``(X, y)``; identity for a fallen-back view."""
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    if head.fell_back:
        return np.eye(d, dtype=np.float32)
    if not can_refit(head):
        raise ValueError(f"head {head.name!r} ({head.family}) has no recipe to refit")
    _, yi = np.unique(np.asarray(y), return_inverse=True)
    raw = dict(head.card.get("options") or {})
    view_fit = head.card.get("view_fit") or {}
    if head.family in ("lda_mix", "probe_mix"):
        opts = ViewFitOptions(**view_fit_options(view_fit.get("options") or {}))
        return refit_view_weight(X, yi, view_fit, seed=int(raw.get("seed", 0)), options=opts)
    known = set(HeadOptions.__dataclass_fields__)
    opts_h = HeadOptions(**{k: v for k, v in raw.items() if k in known and k != "loss"})
    if head.family == "lda":
        return fit_lda_weight(X, yi, opts_h.residual_weight, opts_h.residual_dim)
    loss = raw.get("loss", "supcon")
    if loss not in LOSSES:  # a user's own loss is recorded by name only
        raise ValueError(f"head {head.name!r} was trained with a custom loss {loss!r}")
    return train_linear_weight(X, yi, HeadOptions(**{**opts_h.to_dict(), "loss": loss}))
