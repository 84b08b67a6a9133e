"""The evaluation report: scores per method and facet over split seeds, judged against the goals.

Every score is kept per split seed, so the report gives the mean and the worst split, and
the "never loses" check compares a view with the generic vectors split by split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gst_integrations.evaluation.goals import (
    NEVER_LOSE_MARGIN,
    TRIPLET_ERROR_REDUCTION_GOAL,
    blend_weights_markdown,
    family_goals,
    family_markdown,
    zero_label_goals,
    zero_label_markdown,
)

#: The package default, as the protocol names it.
DEFAULT_METHOD = "head: auto (default: family per facet)"
METRICS = ("v_measure", "triplet", "sts", "p_at_10", "ndcg_at_10")
#: Scores of joint retrieval (a neighbour must match the query on both facets).
JOINT = "joint"
JOINT_METRICS = ("p_at_10", "ndcg_at_10")
#: A view must stay within ``NEVER_LOSE_MARGIN`` of the generic vectors on these.
NEVER_LOSE_METRICS = ("p_at_10", "sts", "v_measure")
#: Goal: joint P@10 gain of blends where both facets are encoded.
JOINT_GAIN_GOAL = 1.2

Scores = dict[str, dict[str, dict[str, list[float]]]]  # method -> facet -> metric -> per seed


@dataclass
class EvalReport:
    """Per-seed scores of every method and facet, and the context needed to read them.

    ``retrieval_methods`` are the generic vectors, each single view of the default head and
    the blends, all scored on both facets and on joint retrieval (``scores[m]["joint"]``).
    """

    dataset: str
    facets: list[str]
    guide_fraction: float
    n_guide: int
    n_held_out: int
    split_scores: Scores = field(default_factory=dict)
    fit_seconds: dict[str, list[float]] = field(default_factory=dict)
    machine: str = ""
    seeds: list[int] = field(default_factory=lambda: [0])
    retrieval_methods: list[str] = field(default_factory=list)
    #: method -> facet -> class -> P@10 of that class's queries, per seed
    per_class: dict[str, dict[str, dict[str, list[float]]]] = field(default_factory=dict)
    #: facet -> held-out texts per class (first split)
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    #: facet -> the default head's card figures (probe feasibility, alpha), one per seed
    feasibility: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    #: zero-label method -> facet -> the head's zero-shot figures (gate, signals), per seed
    zero_shot: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    #: method with a per-facet family choice -> facet -> the choice, per seed
    family_choice: dict[str, dict[str, list[dict[str, Any]]]] = field(default_factory=dict)
    #: blend chosen on the guide -> its weights, per seed
    blend_weights: dict[str, list[dict[str, float]]] = field(default_factory=dict)

    # ------------------------------------------------------------------ figures
    @property
    def scores(self) -> dict[str, dict[str, dict[str, float]]]:
        """Mean over split seeds: method -> facet (or "joint") -> metric -> score."""
        return {
            m: {f: {k: float(np.mean(v)) for k, v in by_m.items()} for f, by_m in by_f.items()}
            for m, by_f in self.split_scores.items()
        }

    def worst(self, method: str, facet: str, metric: str) -> float:
        return float(min(self.split_scores[method][facet][metric]))

    def _reductions(self, method: str, facet: str) -> list[float]:
        """Triplet-error reduction against generic, per split seed."""
        out = []
        for mine, base in zip(
            self.split_scores[method][facet]["triplet"],
            self.split_scores["generic"][facet]["triplet"],
            strict=True,
        ):
            out.append(1 - (1 - mine) / (1 - base) if base < 1 else 0.0)
        return out

    @property
    def per_seed_reduction(self) -> dict[str, list[float]]:
        """method -> mean over facets of the triplet-error reduction, per split seed."""
        return {
            m: [float(x) for x in np.mean([self._reductions(m, f) for f in self.facets], axis=0)]
            for m in self.split_scores
        }

    def error_reduction(self, method: str) -> float:
        """Mean over facets of 1 − err_method/err_generic on instruction-aware triplets."""
        return float(np.mean([np.mean(self._reductions(method, f)) for f in self.facets]))

    def encoded(self, facet: str) -> bool:
        """The default head's probe found the facet in the base vectors on every split."""
        cards = self.feasibility.get(facet, [])
        return bool(cards) and not any(c.get("barely_encoded", True) for c in cards)

    # ------------------------------------------------------------------ goals
    def acceptance(self, method: str = DEFAULT_METHOD) -> dict[str, Any]:
        """The protocol's bar, per facet: a view never loses (P@10, STS and V-measure within 0.01
        of generic on every split), and its triplet-error reduction (the goal: 50% where the
        base vectors encode the facet)."""
        per_facet = {}
        for f in self.facets:
            mine, base = self.split_scores[method][f], self.split_scores["generic"][f]
            gaps = {
                m: float(min(np.subtract(mine[m], base[m])))
                for m in NEVER_LOSE_METRICS
                if m in mine
            }
            reductions = self._reductions(method, f)
            per_facet[f] = {
                "never_loses": all(g >= -NEVER_LOSE_MARGIN for g in gaps.values()),
                "worst_split_difference": gaps,
                "triplet_error_reduction": float(np.mean(reductions)),
                "triplet_error_reduction_worst": float(min(reductions)),
                "encoded": self.encoded(f),
            }
        passed = all(v["never_loses"] for v in per_facet.values())
        return {"method": method, "per_facet": per_facet, "pass": passed}

    def blend_goals(self) -> dict[str, Any]:
        """Joint P@10 of each blend against generic and the best single view, per split."""
        blends = [m for m in self.retrieval_methods if m.startswith("blend ")]
        singles = [m for m in self.retrieval_methods if m.startswith("view ")]
        if not blends:
            return {}
        joint = {
            m: np.array(self.split_scores[m][JOINT]["p_at_10"]) for m in self.retrieval_methods
        }
        generic = joint["generic"]
        best_single = np.max([joint[m] for m in ["generic", *singles]], axis=0)
        out: dict[str, Any] = {"per_blend": {}}
        for b in blends:
            out["per_blend"][b] = {
                "joint_p_at_10": float(joint[b].mean()),
                "gain_over_generic": float(joint[b].mean() / generic.mean()),
                "worst_split_margin_over_best_single": float(min(joint[b] - best_single)),
            }
        best = max(blends, key=lambda b: out["per_blend"][b]["gain_over_generic"])
        out["best_blend"] = best
        out["joint_gain_goal_met"] = out["per_blend"][best]["gain_over_generic"] >= JOINT_GAIN_GOAL
        out["never_below_best_single"] = {
            b: v["worst_split_margin_over_best_single"] >= 0 for b, v in out["per_blend"].items()
        }
        return out

    # ------------------------------------------------------------------ output
    def _cell(self, method: str, facet: str, metric: str) -> str:
        vals = self.split_scores[method][facet][metric]
        return f"{np.mean(vals):.3f}" + (f" / {min(vals):.3f}" if len(vals) > 1 else "")

    def to_markdown(self) -> str:
        lines = [
            f"Dataset {self.dataset}: guide {self.n_guide} texts "
            f"({self.guide_fraction:.0%}), held-out {self.n_held_out}; split seeds "
            f"{self.seeds}; cells are mean / worst split; machine: {self.machine}",
            "",
        ]
        baselines = [m for m in self.split_scores if m not in self.retrieval_methods[1:]]
        cols = [f"{f} {m}" for f in self.facets for m in METRICS]
        lines += [
            "| method | " + " | ".join(cols) + " | triplet err. reduction | min over seeds "
            "| fit s |",
            "|---|" + "---|" * (len(cols) + 3),
        ]
        reductions = self.per_seed_reduction
        for method in baselines:
            vals = [self._cell(method, f, m) for f in self.facets for m in METRICS]
            secs = self.fit_seconds.get(method)
            lines.append(
                f"| {method} | "
                + " | ".join(vals)
                + f" | {self.error_reduction(method):+.1%} | {min(reductions[method]):+.1%} | "
                + (f"{np.mean(secs):.2f}" if secs else "")
                + " |"
            )
        lines += self._retrieval_markdown() + self._per_class_markdown()
        lines += self._feasibility_markdown() + self._goals_markdown()
        lines += zero_label_markdown(self) + family_markdown(self) + blend_weights_markdown(self)
        return "\n".join(lines)

    def _retrieval_markdown(self) -> list[str]:
        if len(self.retrieval_methods) < 2:
            return []
        a, b = self.facets
        cols = [(a, "p_at_10"), (a, "ndcg_at_10"), (b, "p_at_10"), (b, "ndcg_at_10")]
        cols += [(a, "triplet"), (b, "triplet"), (JOINT, "p_at_10"), (JOINT, "ndcg_at_10")]
        generic_joint = self.scores["generic"][JOINT]["p_at_10"]
        lines = [
            "",
            f"Retrieval with the default head's views and blends (held-out texts query the "
            f"other held-out texts; blend score = sum of weight x cosine, as in ViewEngine). "
            f"Joint: a neighbour counts only if it matches the query on both {a} and {b}.",
            "",
            "| vectors | " + " | ".join(f"{f} {m}" for f, m in cols) + " | joint P@10 / generic |",
            "|---|" + "---|" * (len(cols) + 1),
        ]
        for m in self.retrieval_methods:
            ratio = self.scores[m][JOINT]["p_at_10"] / generic_joint if generic_joint else 0.0
            cells = [self._cell(m, f, k) for f, k in cols]
            lines.append(f"| {m} | " + " | ".join(cells) + f" | {ratio:.2f}x |")
        return lines

    def weak_facet(self) -> str:
        """The facet the base vectors carry least (lowest probe log-loss skill)."""

        def skill(f: str) -> float:
            cards = self.feasibility.get(f) or [{}]
            return float(np.mean([c.get("log_loss_skill", 0.0) for c in cards]))

        return min(self.facets, key=skill)

    def _per_class_markdown(self) -> list[str]:
        if not self.per_class:
            return []
        facet = self.weak_facet()
        methods = [m for m in self.retrieval_methods if m in self.per_class]
        classes = sorted(
            self.class_counts.get(facet, {}), key=lambda c: -self.class_counts[facet][c]
        )
        lines = [
            "",
            f"P@10 per class of the weak facet, {facet!r} (lowest probe log-loss skill), "
            "mean over splits:",
            "",
            "| class | held-out texts | " + " | ".join(methods) + " |",
            "|---|---|" + "---|" * len(methods),
        ]
        for c in classes:
            cells = [f"{np.mean(self.per_class[m][facet][c]):.3f}" for m in methods]
            lines.append(f"| {c} | {self.class_counts[facet][c]} | " + " | ".join(cells) + " |")
        return lines

    def _feasibility_markdown(self) -> list[str]:
        if not self.feasibility:
            return []
        lines = [
            "",
            "Feasibility (the default head's card: cross-validated logistic probe on the guide's "
            "base vectors, mean over splits; alpha = 0 means the view fell back to generic; "
            "common direction: splits whose view removed the guide's mean direction from D):",
            "",
            "| facet | probe accuracy | majority share | balanced accuracy | chance | "
            "log-loss skill | accuracy-lift z (min..max) | barely encoded | alpha per split | "
            "common direction removed |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for f, cards in self.feasibility.items():

            def mean(key: str, cards: list[dict[str, Any]] = cards) -> str:
                return f"{np.mean([c.get(key, np.nan) for c in cards]):.3f}"

            zs = [c.get("accuracy_lift_z", np.nan) for c in cards]
            lines.append(
                f"| {f} | {mean('cv_accuracy')} | {mean('majority_share')} | "
                f"{mean('balanced_accuracy')} | {mean('chance')} | {mean('log_loss_skill')} | "
                f"{min(zs):.1f}..{max(zs):.1f} | "
                f"{sum(bool(c.get('barely_encoded')) for c in cards)}/{len(cards)} | "
                + ", ".join(_alpha_cell(c) for c in cards)
                + f" | {sum(bool(c.get('common_direction_removed')) for c in cards)}/{len(cards)}"
                + " |"
            )
        return lines

    def _goals_markdown(self) -> list[str]:
        acc = self.acceptance()
        lines = ["", "Default head against the goals:", ""]
        for f, v in acc["per_facet"].items():
            gaps = ", ".join(f"{m} {g:+.3f}" for m, g in v["worst_split_difference"].items())
            goal = (
                f"goal >= {TRIPLET_ERROR_REDUCTION_GOAL:.0%}: "
                + (
                    "met"
                    if v["triplet_error_reduction"] >= TRIPLET_ERROR_REDUCTION_GOAL
                    else "NOT met"
                )
                if v["encoded"]
                else "facet barely encoded: no triplet goal"
            )
            lines.append(
                f"- {f}: triplet-error reduction {v['triplet_error_reduction']:+.1%} "
                f"(worst split {v['triplet_error_reduction_worst']:+.1%}; {goal}); worst-split "
                f"difference to generic: {gaps}; "
                + ("never loses" if v["never_loses"] else "LOSES to generic")
            )
        blends = self.blend_goals()
        if blends:
            best = blends["best_blend"]
            gain = blends["per_blend"][best]["gain_over_generic"]
            met = "met" if blends["joint_gain_goal_met"] else "NOT met"
            lines.append(
                f"- blends: best joint P@10 {best} = {gain:.2f}x generic (goal where both "
                f"facets are encoded >= {JOINT_GAIN_GOAL}x: {met})"
            )
            for b, v in blends["per_blend"].items():
                margin = v["worst_split_margin_over_best_single"]
                lines.append(
                    f"  - {b}: joint P@10 worst-split margin over the best of generic and each "
                    f"single view {margin:+.3f} ({'never below' if margin >= 0 else 'BELOW'})"
                )
        lines.append(
            f"- acceptance (never loses on every facet): {'PASS' if acc['pass'] else 'FAIL'}"
        )
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {
            "dataset": self.dataset,
            "facets": self.facets,
            "guide_fraction": self.guide_fraction,
            "n_guide": self.n_guide,
            "n_held_out": self.n_held_out,
            "machine": self.machine,
            "seeds": self.seeds,
            "scores": self.scores,
            "split_scores": self.split_scores,
            "per_seed_reduction": self.per_seed_reduction,
            "fit_seconds": {m: float(np.mean(v)) for m, v in self.fit_seconds.items()},
            "error_reduction": {m: self.error_reduction(m) for m in self.split_scores},
            "retrieval_methods": self.retrieval_methods,
            "per_class": self.per_class,
            "class_counts": self.class_counts,
            "feasibility": self.feasibility,
            "acceptance": self.acceptance() if DEFAULT_METHOD in self.split_scores else None,
            "blend_goals": self.blend_goals(),
            "zero_shot": self.zero_shot,
            "family_choice": self.family_choice,
            "blend_weights": self.blend_weights,
            "zero_label_goals": zero_label_goals(self),
            "family_goals": family_goals(self),
        }

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @staticmethod
    def merge(runs: list[EvalReport]) -> EvalReport:
        """One report over several split seeds (each run is one seed)."""
        first = runs[0]

        def stack(get: Any) -> Any:
            return {
                m: {
                    f: {k: [x for r in runs for x in get(r)[m][f][k]] for k in by_f[f]}
                    for f in by_f
                }
                for m, by_f in get(first).items()
            }

        return EvalReport(
            dataset=first.dataset,
            facets=first.facets,
            guide_fraction=first.guide_fraction,
            n_guide=first.n_guide,
            n_held_out=first.n_held_out,
            split_scores=stack(lambda r: r.split_scores),
            fit_seconds={m: [x for r in runs for x in r.fit_seconds[m]] for m in first.fit_seconds},
            machine=first.machine,
            seeds=[s for r in runs for s in r.seeds],
            retrieval_methods=first.retrieval_methods,
            per_class=stack(lambda r: r.per_class),
            class_counts=first.class_counts,
            feasibility={
                f: [c for r in runs for c in r.feasibility.get(f, [])] for f in first.feasibility
            },
            zero_shot=_merge_nested([r.zero_shot for r in runs]),
            family_choice=_merge_nested([r.family_choice for r in runs]),
            blend_weights={
                m: [w for r in runs for w in r.blend_weights.get(m, [])]
                for m in first.blend_weights
            },
        )


def _alpha_cell(card: dict[str, Any]) -> str:
    alpha = card.get("alpha")
    return card.get("family") or "?" if alpha is None else f"{alpha:g}"


def _merge_nested(parts: list[dict[str, dict[str, list[Any]]]]) -> dict[str, dict[str, list[Any]]]:
    """method -> facet -> per-seed list, concatenated over runs."""
    out: dict[str, dict[str, list[Any]]] = {}
    for part in parts:
        for method, by_facet in part.items():
            for facet, values in by_facet.items():
                out.setdefault(method, {}).setdefault(facet, []).extend(values)
    return out
