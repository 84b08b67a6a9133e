"""Training options for a head; defaults chosen by the held-out protocol (docs/results.md)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from gst_integrations.core.heads.families import AUTO_FAMILY, HEAD_FAMILIES
from gst_integrations.core.heads.losses import LOSSES, ContrastiveLoss, loss_name


@dataclass(frozen=True)
class HeadOptions:
    """How a head is built and trained.

    The default, ``auto``, fits the linear families and keeps the one whose views search
    held-out guide texts best (``heads.select``): ``lda_mix`` is closed-form, [α·LDA ;
    (1−α)·generic], α chosen on the labels by inner cross-validation; ``probe_mix`` mixes a
    logistic probe's class weights the same way; ``lda`` and the SupCon-trained ``linear``
    map are the others. The chosen view is set to the generic vectors when it does not
    significantly beat them, so a view never retrieves worse than what the user has
    (docs/results.md). ``z_dim``, the loss and the schedule apply to the trained
    ``linear`` and ``mlp`` families only; the paper's recipe is ``HeadOptions.paper()``.
    """

    family: str = "auto"
    z_dim: int = 128
    loss: str | ContrastiveLoss = "supcon"
    temperature: float = 1.0
    margin: float = 10.0
    recon_weight: float = 1.0
    hidden_dim: int = 512
    lr: float = 1e-3
    weight_decay: float = 0.0
    batch_size: int = 64
    max_epochs: int = 500
    patience: int = 10
    val_fraction: float = 0.2
    seed: int = 0
    residual_weight: float = 0.1
    residual_dim: int = 16

    def __post_init__(self) -> None:
        if self.family not in HEAD_FAMILIES and self.family != AUTO_FAMILY:
            raise ValueError(
                f"unknown head family {self.family!r}; choose one of "
                f"{sorted([*HEAD_FAMILIES, AUTO_FAMILY])} or register yours with "
                "register_head_family"
            )
        if isinstance(self.loss, str) and self.loss not in LOSSES:
            raise ValueError(
                f"unknown loss {self.loss!r}; choose one of {sorted(LOSSES)} or pass your own "
                "loss module or callable (z, y) -> scalar"
            )
        if not isinstance(self.loss, str) and not callable(self.loss):
            raise ValueError(f"loss must be a name or a callable (z, y) -> scalar: {self.loss!r}")
        if self.z_dim < 1 or self.batch_size < 2 or self.max_epochs < 1:
            raise ValueError("z_dim must be >= 1, batch_size >= 2 and max_epochs >= 1")
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError("val_fraction must be in [0, 1)")

    @classmethod
    def paper(cls, **overrides: Any) -> HeadOptions:
        """The GSTransform reference recipe."""
        base = dict(family="mlp", z_dim=128, loss="margin", recon_weight=1.0, lr=1e-4)
        return cls(**{**base, **overrides})

    @classmethod
    def from_kwargs(cls, options: dict[str, Any]) -> HeadOptions:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise TypeError(f"unknown head option(s) {unknown}; known: {sorted(known)}")
        return cls(**options)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready options (a user's own loss is recorded by its name)."""
        out = asdict(self)
        out["loss"] = loss_name(self.loss)
        return out
