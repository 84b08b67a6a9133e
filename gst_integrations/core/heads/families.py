"""Head families: the torch modules that map base vectors into a view, by name.

``lda_mix`` (the default) is a closed-form bias-free matrix mixing shrinkage-LDA directions
with the generic vectors, the mix chosen on the labels (see ``heads.mix``); ``probe_mix``
mixes a logistic probe's class weights the same way. ``auto`` is not a family of its own:
it fits the linear ones and keeps the best on the labels (``heads.select``). ``lda`` is the
earlier closed-form LDA plus a small residual (``heads.lda``). ``linear`` is a bias-free
matrix W (d -> z) trained by gradient descent. ``mlp`` is the GSTransform paper's encoder,
Linear(d→512), ReLU, Linear(512→z). A user's own family is one ``register_head_family``
call away; a head file names its family, so loading rebuilds the module from the registry.

A view whose module is a single bias-free ``nn.Linear`` is linear: (Wq)·(Wx) = (WᵀWq)·x,
so the query-side path can search it through an existing base index. Linearity is read
from the module itself (``linear_weight``), whatever family built it.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

#: (in_dim, out_dim, hidden_dim) -> the inference module of a head.
HeadBuilder = Callable[[int, int, int], nn.Module]


def _linear(in_dim: int, out_dim: int, hidden_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(in_dim, out_dim, bias=False))


def _mlp(in_dim: int, out_dim: int, hidden_dim: int) -> nn.Module:
    return nn.Sequential(nn.Linear(in_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, out_dim))


HEAD_FAMILIES: dict[str, HeadBuilder] = {
    "lda_mix": _linear,
    "probe_mix": _linear,
    "lda": _linear,
    "linear": _linear,
    "mlp": _mlp,
}
#: Families fitted in closed form rather than by gradient descent.
CLOSED_FORM_FAMILIES = ("lda_mix", "probe_mix", "lda")
#: Families whose head is one bias-free matrix (the query side is exact for them).
LINEAR_FAMILIES = ("lda_mix", "probe_mix", "lda", "linear")
#: Not a family but a choice among the linear ones, per facet (``heads.select``).
AUTO_FAMILY = "auto"


def register_head_family(name: str, builder: HeadBuilder) -> None:
    """Make ``fit_head(..., family=name)`` and ``load_head`` build heads with ``builder``."""
    if not isinstance(name, str) or not name or name in (*CLOSED_FORM_FAMILIES, AUTO_FAMILY):
        raise ValueError(f"cannot register a head family called {name!r}")
    HEAD_FAMILIES[name] = builder


def build_head_module(family: str, in_dim: int, out_dim: int, hidden_dim: int = 512) -> nn.Module:
    """The inference part of a head of ``family``: base vector -> view vector."""
    try:
        builder = HEAD_FAMILIES[family]
    except KeyError:
        raise ValueError(
            f"unknown head family {family!r}; choose one of {sorted(HEAD_FAMILIES)} or "
            "register yours with register_head_family"
        ) from None
    return builder(in_dim, out_dim, hidden_dim)


def linear_weight(module: nn.Module) -> torch.Tensor | None:
    """W (z, d) when ``module`` is x -> Wx (one bias-free Linear), else None."""
    if isinstance(module, nn.Sequential) and len(module) == 1:
        module = module[0]
    if isinstance(module, nn.Linear) and module.bias is None:
        return module.weight
    return None


def out_features(module: nn.Module, in_dim: int) -> int:
    """The view dimension a module produces for ``in_dim``-d inputs."""
    with torch.no_grad():
        param = next(module.parameters(), None)
        probe = torch.zeros(1, in_dim, device=param.device if param is not None else "cpu")
        return int(module(probe).shape[-1])


class HeadModule(nn.Module):
    """Encoder (kept) plus decoder (training only, for the reconstruction loss)."""

    def __init__(self, encoder: nn.Module, in_dim: int, out_dim: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = nn.Linear(out_dim, in_dim)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(x)
        return z, self.decoder(z)
