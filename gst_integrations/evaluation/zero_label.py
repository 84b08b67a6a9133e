"""Views with no labels in the protocol: from category names, descriptions, or an LLM.

Per split, each zero-label variant fits one head per facet on the *unlabelled* guide texts
(``fit_head(..., categories=...)``), and its held-out scores sit next to the gold-label
views. Variants:

* ``names``: the category names a user would type (``datasets.categories``);
* ``descriptions``: the names with a one-line description each;
* ``llm-descriptions``: the names with descriptions an LLM wrote from the instruction
  (``core.labels.describe``; written once per facet and reused across splits);
* ``llm-labels``: not zero-label, the comparison: the default head fitted on the LLM
  labeller's labels of the guide texts (categories mode, the same names), cached across
  splits.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gst_integrations.core.errors import GSTError, GSTWarning
from gst_integrations.core.heads.training import fit_head
from gst_integrations.evaluation.datasets.categories import (
    category_descriptions,
    category_names,
)

__all__ = ["ZERO_LABEL_VARIANTS", "ZeroLabelRun", "method_name"]

ZERO_LABEL_VARIANTS = ("names", "descriptions", "llm-descriptions", "llm-labels")

_METHODS = {
    "names": "zero-label: names",
    "descriptions": "zero-label: names + descriptions",
    "llm-descriptions": "zero-label: names + LLM descriptions",
    "llm-labels": "LLM labels (categories mode)",
}


def method_name(variant: str) -> str:
    """How reports name a zero-label variant's row."""
    return _METHODS[variant]


@dataclass
class ZeroLabelRun:
    """Fits the zero-label variants of one corpus; caches what is shared across splits."""

    dataset: str
    facets: list[str]
    labels: dict[str, np.ndarray]
    texts: list[str]
    instructions: dict[str, str]
    encoder: Any
    variants: Sequence[str] = ("names", "descriptions")
    llm: Any = None
    _descriptions: dict[str, dict[str, str]] = field(default_factory=dict)
    _llm_labels: dict[str, dict[int, str | None]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.variants) - set(ZERO_LABEL_VARIANTS))
        if unknown:
            raise GSTError(f"unknown zero-label variant(s) {unknown}: {ZERO_LABEL_VARIANTS}")
        if self.llm is None and any(v.startswith("llm") for v in self.variants):
            raise GSTError("the llm-* zero-label variants need an LLM (--llm / llm=...)")

    def categories(self, facet: str, variant: str) -> list[str] | dict[str, str | None]:
        """What the user would pass as ``categories`` for ``facet`` under ``variant``."""
        names = category_names(self.dataset, facet, self.labels[facet])
        if variant == "names":
            return list(names.values())
        if variant == "descriptions":
            desc = category_descriptions(self.dataset, facet)
            return {name: desc.get(label) for label, name in names.items()}
        if facet not in self._descriptions:
            from gst_integrations.core.labels.describe import describe_categories

            self._descriptions[facet] = describe_categories(
                self.llm, self.instructions[facet], list(names.values())
            )
        written = self._descriptions[facet]
        return {name: written.get(name) for name in names.values()}

    def fit(
        self, variant: str, X: np.ndarray, guide: np.ndarray, seed: int
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Heads per facet fitted on the guide texts, and each head's card summary."""
        heads, cards = {}, {}
        for f in self.facets:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", GSTWarning)  # fallbacks are recorded
                if variant == "llm-labels":
                    y = self._labelled(f, guide)
                    keep = [i for i, lab in enumerate(y) if lab is not None]
                    heads[f] = fit_head(
                        self.instructions[f],
                        X[guide][keep],
                        [y[i] for i in keep],
                        encoder=self.encoder,
                        seed=seed,
                    )
                else:
                    heads[f] = fit_head(
                        self.instructions[f],
                        X[guide],
                        categories=self.categories(f, variant),
                        encoder=self.encoder,
                        seed=seed,
                    )
            cards[f] = _summary(heads[f].card)
        return heads, cards

    def _labelled(self, facet: str, guide: np.ndarray) -> list[str | None]:
        """LLM labels of the guide texts, labelling only texts no earlier split labelled."""
        from gst_integrations.core.labels.labeler import LLMLabeler

        done = self._llm_labels.setdefault(facet, {})
        todo = [int(i) for i in guide if int(i) not in done]
        if todo:
            names = list(category_names(self.dataset, facet, self.labels[facet]).values())
            labeler = LLMLabeler(self.llm, encoder=self.encoder, show_progress=False)
            out = labeler.label(self.instructions[facet], [self.texts[i] for i in todo], names)
            done.update(zip(todo, out, strict=True))
        return [done[int(i)] for i in guide]


def _summary(card: dict[str, Any]) -> dict[str, Any]:
    """A zero-label head's figures for the report: gate, signals, chosen mix and family."""
    zs = card.get("zero_shot") or {}
    fit = card.get("view_fit") or {}
    choice = card.get("family_choice") or {}
    return {
        "fell_back": bool(fit.get("fell_back_to_generic")),
        "structure_z": zs.get("structure_z"),
        "neighbour_kappa": zs.get("neighbour_kappa"),
        "null_neighbour_kappa": zs.get("null_neighbour_kappa"),
        "prototype_margin": zs.get("prototype_margin"),
        "phrasing_agreement_ari": zs.get("phrasing_agreement_ari"),
        "has_structure": zs.get("has_structure"),
        "refined_share_changed": zs.get("refined_share_changed"),
        "alpha": fit.get("alpha"),
        "family": choice.get("chosen") or (card.get("options") or {}).get("family"),
    }
