"""Reading a head's card: one-line summaries a person can act on.

The card is the head's JSON metadata (``Head.card``). ``fit_head`` records there how much
of the facet the base vectors carry (``feasibility``: a logistic probe's cross-validated
accuracy against the majority share) and whether the view fell back to the generic vectors
(``view_fit``), which family the per-facet choice kept (``family_choice``), and for a view
from category names what the label-free gate saw (``zero_shot``). ``feasibility_summary``
says that in one line, for the CLI, recipes and logs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["feasibility_summary"]


def feasibility_summary(head_or_card: Any) -> str:
    """How much of the facet the base vectors carry, from a head (or its card), in one line."""
    card: Mapping[str, Any] = (
        head_or_card if isinstance(head_or_card, Mapping) else head_or_card.card
    )
    feas, fit = card.get("feasibility") or {}, card.get("view_fit") or {}
    choice, zs = card.get("family_choice") or {}, card.get("zero_shot") or {}
    if zs:  # a probe on pseudo-labels says nothing: they are a function of the vectors
        return _zero_shot_summary(zs, fit)
    if not feas:
        return "feasibility: not measured for this head family"
    if fit.get("fell_back_to_generic"):
        verdict = "barely encoded: the view falls back to the generic vectors"
    elif fit.get("alpha") is not None:
        verdict = f"encoded: view mix alpha {fit.get('alpha')}"
    else:
        verdict = "encoded"
    if choice and not fit.get("fell_back_to_generic"):
        verdict += f"; family {choice.get('chosen')} chosen on the labels"
    return (
        f"feasibility: probe accuracy {feas.get('cv_accuracy', float('nan')):.2f} against a "
        f"majority share of {feas.get('majority_share', float('nan')):.2f} -> {verdict}"
    )


def _zero_shot_summary(zs: Mapping[str, Any], fit: Mapping[str, Any]) -> str:
    """What the label-free gate of a view from category names saw, in one line."""
    n = len(zs.get("categories") or [])
    seen = f"structure z {zs.get('structure_z', float('nan')):.1f}"
    if "structure_gain" in zs:
        seen += f", gain {zs['structure_gain']:.2f}"
    if zs.get("has_structure") and not fit.get("fell_back_to_generic"):
        return (
            f"zero-label from {n} category names: they group the texts as the texts group "
            f"themselves ({seen}) -> view mix alpha {fit.get('alpha')}"
        )
    return (
        f"zero-label from {n} category names: they do not match how the texts group "
        f"({seen}) -> the view is the generic vectors"
    )
