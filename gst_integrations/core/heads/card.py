"""Reading a head's card: one-line summaries a person can act on.

The card is the head's JSON metadata (``Head.card``). ``fit_head`` records there how much
of the facet the base vectors carry (``feasibility``: a logistic probe's cross-validated
accuracy against the majority share) and whether the view fell back to the generic vectors
(``view_fit``). ``feasibility_summary`` says that in one line, for the CLI, recipes and logs.
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
    if not feas:
        return "feasibility: not measured for this head family"
    verdict = (
        "barely encoded: the view falls back to the generic vectors"
        if fit.get("fell_back_to_generic")
        else f"encoded: view mix alpha {fit.get('alpha')}"
    )
    return (
        f"feasibility: probe accuracy {feas.get('cv_accuracy', float('nan')):.2f} against a "
        f"majority share of {feas.get('majority_share', float('nan')):.2f} -> {verdict}"
    )
