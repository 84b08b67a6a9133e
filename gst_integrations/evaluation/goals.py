"""The goals a report is judged against, beyond the default head's never-lose bar.

* **Zero-label views**: the share of the gold-label view's triplet gain over generic that a
  view from category names reaches (goal: >= 80% on the facets named in
  ``ZERO_LABEL_GOAL_FACETS``), and P@10 never below generic - 0.01 on any facet and split,
  including facets whose names fail the label-free gate.
* **Family per facet**: on every encoded facet, the default's (per-facet family choice)
  triplet-error reduction >= 50% and within 0.01 triplet of the best fixed linear family.

Mean of the splits; "worst" is the worst split. Each function reads an ``EvalReport``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from gst_integrations.evaluation.report import EvalReport

__all__ = [
    "FIXED_LINEAR_METHODS",
    "NEVER_LOSE_MARGIN",
    "TRIPLET_ERROR_REDUCTION_GOAL",
    "ZERO_LABEL_GOAL_FACETS",
    "ZERO_LABEL_SHARE_GOAL",
    "blend_weights_markdown",
    "family_goals",
    "family_markdown",
    "zero_label_goals",
    "zero_label_markdown",
]

NEVER_LOSE_MARGIN = 0.01
TRIPLET_ERROR_REDUCTION_GOAL = 0.5
ZERO_LABEL_SHARE_GOAL = 0.8
#: dataset -> facets whose names carry meaning, where the zero-label share goal applies
ZERO_LABEL_GOAL_FACETS = {"drug-reviews": ("condition",), "gcide-two-facet": ("field",)}
#: The fixed linear families the per-facet choice is compared with (as protocol methods).
FIXED_LINEAR_METHODS = ("head: lda_mix", "head: lda", "head: probe_mix", "head: linear + SupCon")
FAMILY_MARGIN = 0.01


def _mean(r: EvalReport, method: str, facet: str, metric: str) -> float:
    return float(np.mean(r.split_scores[method][facet][metric]))


def zero_label_goals(r: EvalReport) -> dict[str, Any]:
    """Per zero-label method and facet: gain share, worst-split P@10 margin, fallbacks."""
    from gst_integrations.evaluation.report import DEFAULT_METHOD

    if DEFAULT_METHOD not in r.split_scores:
        return {}
    goal_facets = ZERO_LABEL_GOAL_FACETS.get(r.dataset, ())
    out: dict[str, Any] = {}
    for method, by_facet in r.zero_shot.items():
        if method not in r.split_scores:
            continue
        rows = {}
        for f in r.facets:
            gen = r.split_scores["generic"][f]
            mine = r.split_scores[method][f]
            gold_gain = _mean(r, DEFAULT_METHOD, f, "triplet") - _mean(r, "generic", f, "triplet")
            gain = _mean(r, method, f, "triplet") - _mean(r, "generic", f, "triplet")
            p10 = float(min(np.subtract(mine["p_at_10"], gen["p_at_10"])))
            cards = by_facet.get(f, [])
            share = gain / gold_gain if gold_gain > NEVER_LOSE_MARGIN else None
            rows[f] = {
                "triplet": _mean(r, method, f, "triplet"),
                "gain_share_of_gold": share,
                "p_at_10_worst_split_vs_generic": p10,
                "never_below_generic": p10 >= -NEVER_LOSE_MARGIN,
                "fell_back_splits": sum(bool(c.get("fell_back")) for c in cards),
                "structure_z": [c.get("structure_z") for c in cards],
                "families": [
                    "generic" if c.get("fell_back") else str(c.get("family")) for c in cards
                ],
                "share_goal": (
                    None if f not in goal_facets else bool(share and share >= ZERO_LABEL_SHARE_GOAL)
                ),
            }
        out[method] = rows
    return out


def zero_label_markdown(r: EvalReport) -> list[str]:
    goals = zero_label_goals(r)
    if not goals:
        return []
    lines = [
        "",
        "Zero-label views (no labels: category names, optionally with descriptions, and the "
        "unlabelled guide texts) against generic and the default head on gold labels. Share: "
        "the zero-label view's triplet gain over generic as a share of the gold-label view's "
        f"(goal >= {ZERO_LABEL_SHARE_GOAL:.0%} on {', '.join(ZERO_LABEL_GOAL_FACETS.get(r.dataset, ())) or 'no facet of this corpus'}); "  # noqa: E501
        "P@10: worst split minus generic (goal >= -0.01 on every facet); z: the label-free "
        "gate's structure z per split (falls back below 2).",
        "",
        "| method | facet | triplet | gain share of gold | P@10 worst vs generic | "
        "fell back | structure z per split | family |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, rows in goals.items():
        for f, v in rows.items():
            share = "n/a" if v["gain_share_of_gold"] is None else f"{v['gain_share_of_gold']:.0%}"
            if v["share_goal"] is not None:
                share += " (met)" if v["share_goal"] else " (NOT met)"
            zs = ", ".join("n/a" if z is None else f"{z:+.1f}" for z in v["structure_z"])
            n = len(v["structure_z"])
            lines.append(
                f"| {method} | {f} | {v['triplet']:.3f} | {share} | "
                f"{v['p_at_10_worst_split_vs_generic']:+.3f}"
                f"{'' if v['never_below_generic'] else ' (BELOW)'} | "
                f"{v['fell_back_splits']}/{n} | {zs} | {', '.join(v['families'])} |"
            )
    return lines


def family_goals(r: EvalReport) -> dict[str, Any]:
    """Per method with a family choice and encoded facet: its triplet-error reduction and
    its margin to the best fixed linear family run alongside."""
    out: dict[str, Any] = {}
    fixed = [m for m in FIXED_LINEAR_METHODS if m in r.split_scores]
    for method, by_facet in r.family_choice.items():
        rows = {}
        for f in r.facets:
            mine = _mean(r, method, f, "triplet")
            best = max(fixed, key=lambda m, f=f: _mean(r, m, f, "triplet")) if fixed else None
            reduction = float(np.mean(r._reductions(method, f)))
            margin = mine - _mean(r, best, f, "triplet") if best else None
            chosen = [c.get("chosen") + (" (generic)" if c.get("fell_back") else "")
                      for c in by_facet.get(f, [])]  # fmt: skip
            rows[f] = {
                "encoded": r.encoded(f),
                "triplet": mine,
                "triplet_error_reduction": reduction,
                "best_fixed": best,
                "margin_to_best_fixed": margin,
                "chosen_per_split": chosen,
                "reduction_goal": reduction >= TRIPLET_ERROR_REDUCTION_GOAL,
                "within_best_fixed": margin is not None and margin >= -FAMILY_MARGIN,
            }
        out[method] = rows
    return out


def family_markdown(r: EvalReport) -> list[str]:
    goals = family_goals(r)
    if not goals:
        return []
    lines = [
        "",
        "Head family per facet (chosen on the guide by inner validation among the linear "
        "families, never-lose gated) against each fixed linear family run in the same "
        f"process. Goals on encoded facets: triplet-error reduction >= "
        f"{TRIPLET_ERROR_REDUCTION_GOAL:.0%} and within {FAMILY_MARGIN} triplet of the best "
        "fixed family.",
        "",
        "| method | facet | encoded | chosen per split | triplet | error reduction | best fixed "
        "family (triplet) | margin |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for method, rows in goals.items():
        for f, v in rows.items():
            best = v["best_fixed"]
            best_cell = f"{best} ({_mean(r, best, f, 'triplet'):.3f})" if best else "n/a"
            margin = (
                "n/a"
                if v["margin_to_best_fixed"] is None
                else (
                    f"{v['margin_to_best_fixed']:+.3f}"
                    + ("" if v["within_best_fixed"] or not v["encoded"] else " (NOT within 0.01)")
                )
            )
            red = f"{v['triplet_error_reduction']:+.1%}"
            if v["encoded"]:
                red += " (met)" if v["reduction_goal"] else " (NOT met)"
            lines.append(
                f"| {method} | {f} | {'yes' if v['encoded'] else 'no'} | "
                f"{', '.join(v['chosen_per_split'])} | {v['triplet']:.3f} | {red} | "
                f"{best_cell} | {margin} |"
            )
    return lines


def blend_weights_markdown(r: EvalReport) -> list[str]:
    if not r.blend_weights:
        return []
    lines = [
        "",
        "Blend weights chosen on the guide (joint per-query AUC, cross-fitted), per split:",
    ]
    for method, per_seed in r.blend_weights.items():
        cells = ["+".join(f"{k}*{w:g}" for k, w in weights.items()) for weights in per_seed]
        lines.append(f"- {method}: " + "; ".join(cells))
    return lines
