"""The label-budget curve: what a label buys, as quality against the size of the guide sample.

The protocol runs once per guide fraction (same split seeds, the default head only, the
generic vectors in the same run), and the curve reports each facet's triplet accuracy,
P@10 and the probe's feasibility figure, plus joint P@10 of the single views and blends.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gst_integrations.evaluation.datasets.dataset import LabelledCorpus
from gst_integrations.evaluation.plots import save_figure
from gst_integrations.evaluation.protocol import run_protocol
from gst_integrations.evaluation.report import DEFAULT_METHOD, JOINT, EvalReport
from gst_integrations.evaluation.zero_label import method_name

#: The zero-label row the curve starts from (0 labels).
ZERO_LABEL_NAMES = method_name("names")

BUDGET_FRACTIONS = (0.1, 0.3, 0.5, 0.7)


@dataclass
class BudgetCurve:
    """One ``EvalReport`` per guide fraction (default head, generic, views and blends)."""

    reports: dict[float, EvalReport] = field(default_factory=dict)

    @property
    def fractions(self) -> list[float]:
        return sorted(self.reports)

    def _mean(self, g: float, method: str, facet: str, metric: str) -> float:
        return self.reports[g].scores[method][facet][metric]

    def to_markdown(self) -> str:
        first = self.reports[self.fractions[0]]
        a, b = first.facets
        lines = [
            f"Label budget ({first.dataset}, default head, split seeds {first.seeds}; cells are "
            "mean / worst split):",
            "",
            "| guide | facet | triplet generic | triplet view | triplet-error reduction | "
            "P@10 generic | P@10 view | V generic | V view | probe acc. / majority | "
            "family (alpha) |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        lines += self._zero_label_rows(a, b)
        for g in self.fractions:
            r = self.reports[g]
            acc = r.acceptance()["per_facet"]
            for f in (a, b):
                cards = r.feasibility.get(f, [])
                probe = np.mean([c.get("cv_accuracy", np.nan) for c in cards])
                majority = np.mean([c.get("majority_share", np.nan) for c in cards])
                lines.append(
                    f"| {g:.0%} ({r.n_guide}) | {f} | {r._cell('generic', f, 'triplet')} | "
                    f"{r._cell(DEFAULT_METHOD, f, 'triplet')} | "
                    f"{acc[f]['triplet_error_reduction']:+.1%} | "
                    f"{r._cell('generic', f, 'p_at_10')} | "
                    f"{r._cell(DEFAULT_METHOD, f, 'p_at_10')} | "
                    f"{r._cell('generic', f, 'v_measure')} | "
                    f"{r._cell(DEFAULT_METHOD, f, 'v_measure')} | {probe:.3f} / {majority:.3f} | "
                    + ", ".join(_family_cell(c) for c in cards)
                    + " |"
                )
        methods = first.retrieval_methods
        lines += [
            "",
            f"Joint P@10 (both {a} and {b} must match) against the guide size:",
            "",
            "| guide | " + " | ".join(methods) + " |",
            "|---|" + "---|" * len(methods),
        ]
        for g in self.fractions:
            r = self.reports[g]
            lines.append(
                f"| {g:.0%} | " + " | ".join(r._cell(m, JOINT, "p_at_10") for m in methods) + " |"
            )
        return "\n".join(lines)

    def _zero_label_rows(self, a: str, b: str) -> list[str]:
        """The curve's 0-label point: the view from category names alone, fitted on the
        unlabelled texts of the report that ran zero-label views (same held-out texts)."""
        for g in self.fractions:
            r = self.reports[g]
            if ZERO_LABEL_NAMES not in r.split_scores:
                continue
            rows = []
            for f in (a, b):
                red = float(np.mean(r._reductions(ZERO_LABEL_NAMES, f)))
                fell = sum(
                    bool(c.get("fell_back")) for c in r.zero_shot[ZERO_LABEL_NAMES].get(f, [])
                )
                rows.append(
                    f"| 0 labels (names; {r.n_guide} unlabelled texts) | {f} | "
                    f"{r._cell('generic', f, 'triplet')} | "
                    f"{r._cell(ZERO_LABEL_NAMES, f, 'triplet')} | {red:+.1%} | "
                    f"{r._cell('generic', f, 'p_at_10')} | "
                    f"{r._cell(ZERO_LABEL_NAMES, f, 'p_at_10')} | "
                    f"{r._cell('generic', f, 'v_measure')} | "
                    f"{r._cell(ZERO_LABEL_NAMES, f, 'v_measure')} | no labels | "
                    f"fell back {fell}/{len(r.seeds)} |"
                )
            return rows
        return []

    def to_dict(self) -> dict[str, Any]:
        return {f"{g:g}": self.reports[g].to_dict() for g in self.fractions}

    def plot(self, out: str | Path) -> Path:
        """Three panels against guide size: triplet accuracy, joint P@10, probe feasibility."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        out = Path(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        first = self.reports[self.fractions[0]]
        sizes = [self.reports[g].n_guide for g in self.fractions]
        fig, axes = plt.subplots(1, 3, figsize=(16, 4.8))
        colours = plt.get_cmap("tab10")
        for i, f in enumerate(first.facets):
            for method, style in (("generic", "--"), (DEFAULT_METHOD, "-")):
                ys = [self._mean(g, method, f, "triplet") for g in self.fractions]
                worst = [self.reports[g].worst(method, f, "triplet") for g in self.fractions]
                name = "generic" if method == "generic" else "default view"
                axes[0].plot(sizes, ys, style, marker="o", color=colours(i), label=f"{f}: {name}")
                axes[0].fill_between(sizes, worst, ys, color=colours(i), alpha=0.12)
        axes[0].set(title="instruction-aware triplet accuracy", xlabel="guide texts")
        for j, method in enumerate(first.retrieval_methods):
            ys = [self._mean(g, method, JOINT, "p_at_10") for g in self.fractions]
            style = "--" if method == "generic" else ("-" if method.startswith("blend") else ":")
            axes[1].plot(sizes, ys, style, marker="o", color=colours(j), label=method)
        axes[1].set(title="joint P@10 (both facets match)", xlabel="guide texts")
        for i, f in enumerate(first.facets):
            cards = [self.reports[g].feasibility.get(f, []) for g in self.fractions]
            probe = [np.mean([c.get("cv_accuracy", np.nan) for c in cs]) for cs in cards]
            majority = [np.mean([c.get("majority_share", np.nan) for c in cs]) for cs in cards]
            axes[2].plot(sizes, probe, "-", marker="o", color=colours(i), label=f"{f}: probe")
            axes[2].plot(sizes, majority, ":", color=colours(i), label=f"{f}: majority share")
        axes[2].set(title="feasibility: probe accuracy vs majority", xlabel="guide texts")
        for ax in axes:
            ax.grid(alpha=0.3)
            ax.legend(fontsize=7)
        save_figure(
            fig, out, f"{first.dataset}: label budget (mean over split seeds {first.seeds})"
        )
        return out


def _family_cell(card: dict[str, Any]) -> str:
    """``lda_mix (0.7)``, ``linear`` or ``generic`` for one split's default head."""
    alpha = card.get("alpha")
    if alpha == 0.0:
        return "generic"
    family = card.get("family") or "?"
    return family if alpha is None else f"{family} ({alpha:g})"


def run_label_budget(
    corpus: LabelledCorpus,
    facets: Sequence[str],
    *,
    fractions: Sequence[float] = BUDGET_FRACTIONS,
    seeds: Sequence[int] = (0, 1, 2),
    done: dict[float, EvalReport] | None = None,
    log: Callable[[str], None] | None = None,
    **protocol_options: Any,
) -> BudgetCurve:
    """The protocol at each guide fraction with the default head only; ``done`` holds
    reports already run (e.g. the main 30% run) that are reused, not refitted."""
    curve = BudgetCurve()
    for g in fractions:
        if done and g in done:
            curve.reports[g] = done[g]
            continue
        if log:
            log(f"label budget: guide fraction {g:.0%}")
        curve.reports[g] = run_protocol(
            corpus,
            facets,
            guide_fraction=g,
            seeds=list(seeds),
            head_variants={DEFAULT_METHOD: {}},
            prefixed_baseline=False,
            probe_baseline=True,  # cheap; gives the joint-retrieval reference per guide size
            **protocol_options,
        )
    return curve
