"""What a search asks for: one view, the generic vectors, or a weighted blend of views.

This is the one definition of a view spec, shared by the materialised engine
(``core.views``) and the query-side path (``core.search``), so a blend is validated,
named and scored the same way everywhere:

* ``blend_weights`` turns a spec into ``{view or None: weight}`` (validated);
* ``informative_weights`` drops views that fell back to the generic vectors;
* ``Blend.resolve`` does both and looks every head up once;
* ``Blend.vectors`` maps base vectors into the blend's space, where a dot product is the
  blend's score (each part scaled by the square root of its weight).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from gst_integrations.core.errors import UnknownViewError, ViewFallbackWarning
from gst_integrations.core.feedback import warn_once
from gst_integrations.core.heads.head import Head

__all__ = [
    "METRICS",
    "Blend",
    "ViewSpec",
    "blend_weights",
    "informative_weights",
    "view_label",
]

#: A view to search: a name, None for the generic vectors, or a blend {view: weight}.
ViewSpec = str | None | Mapping[str | None, float]

#: How a view scores: cosine of view vectors, or their inner product.
METRICS = ("cosine", "ip")


def blend_weights(view: ViewSpec) -> dict[str | None, float]:
    """``{view: weight}`` of a view spec; weights must be finite, >= 0 and not all zero."""
    if view is None or isinstance(view, str):
        return {view: 1.0}
    if not isinstance(view, Mapping) or not view:
        raise UnknownViewError(f"a view is a name, None or a non-empty dict of weights: {view!r}")
    out: dict[str | None, float] = {}
    for key, w in view.items():
        if key is not None and not isinstance(key, str):
            raise UnknownViewError(f"view names are strings (None: generic), got {key!r}")
        try:
            weight = float(w)
        except (TypeError, ValueError):
            raise ValueError(f"blend weight of {key!r} must be a number, got {w!r}") from None
        if not math.isfinite(weight) or weight < 0:
            raise ValueError(f"blend weight of {key!r} must be finite and >= 0, got {w!r}")
        if weight > 0:
            out[key] = weight
    if not out:
        raise ValueError(f"a blend needs a positive weight: {dict(view)}")
    return out


def view_label(weights: Mapping[str | None, float]) -> str | None:
    """How hits name a view: its name, or ``a*0.6+b*0.4`` for a blend (None: generic)."""
    if len(weights) == 1:
        return next(iter(weights))
    return "+".join(f"{k or 'generic'}*{w:g}" for k, w in weights.items())


def informative_weights(
    weights: dict[str | None, float], fell_back: Callable[[str], bool]
) -> dict[str | None, float]:
    """A blend's weights without the views that fell back to the generic vectors.

    A view whose facet the base vectors barely encode *is* the generic view (the feasibility
    gate). In a blend its weight would only add generic similarity the blend did not ask
    for (that is what ``None`` is for), diluting the views that carry their facet, so it is
    dropped, with a warning once per view. A single view is left as it is; a blend of
    fallen-back views only is the generic view.
    """
    if len(weights) < 2:
        return weights
    dropped = [n for n in weights if n is not None and fell_back(n)]
    for name in dropped:
        warn_once(
            ("fell-back-in-blend", name),
            f"view {name!r} fell back to the generic vectors (its facet is barely in the "
            f"base vectors): its blend weight {weights[name]:g} is dropped so that it does "
            "not dilute the other views. More labels or a stronger base encoder would give "
            "it a view of its own.",
            ViewFallbackWarning,
        )
    kept = {n: w for n, w in weights.items() if n not in dropped}
    return kept or {None: 1.0}


@dataclass(frozen=True)
class Blend:
    """A resolved view spec: ``{view or None: (head or None, weight)}`` and its label."""

    parts: dict[str | None, tuple[Head | None, float]]
    label: str | None

    @classmethod
    def resolve(cls, view: ViewSpec, head_of: Callable[[str], Head]) -> Blend:
        """Validate ``view``, look each head up once, drop fallen-back views from blends."""
        weights = blend_weights(view)
        heads = {n: (None if n is None else head_of(n)) for n in weights}
        kept = informative_weights(weights, lambda n: bool(heads[n] and heads[n].fell_back))
        return cls({n: (heads.get(n), w) for n, w in kept.items()}, view_label(kept))

    @classmethod
    def of_heads(cls, parts: Mapping[str | None, tuple[Head | None, float]]) -> Blend:
        """A blend of heads given directly (``QuerySideSearcher``), validated the same way."""
        weights = blend_weights({n: w for n, (_, w) in parts.items()})
        fell = {n for n, (h, _) in parts.items() if h is not None and h.fell_back}
        kept = informative_weights(weights, lambda n: n in fell)
        heads = {n: h for n, (h, _) in parts.items()}
        return cls({n: (heads.get(n), w) for n, w in kept.items()}, view_label(kept))

    @property
    def names(self) -> list[str]:
        """The named views of the blend (without the generic part)."""
        return [n for n in self.parts if n is not None]

    def vectors(self, X: np.ndarray, metric: str) -> np.ndarray:
        """(m, Σ zᵢ) vectors of base rows ``X`` whose dot products are the blend's scores.

        Each part is its view vector (unit length for cosine views and the generic part)
        times the square root of its weight, so ``vectors(q) · vectors(x)`` equals
        ``Σ wᵢ simᵢ(q, x)``: exact scores, and a space for MMR.
        """
        X = np.asarray(X, dtype=np.float64)
        out = []
        for head, w in self.parts.values():
            if head is None:
                Z = X
            elif head.is_linear:
                Z = X @ head.weight.astype(np.float64).T
            else:
                Z = head.transform(X.astype(np.float32)).astype(np.float64)
            if head is None or metric == "cosine":
                Z = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-300)
            out.append(math.sqrt(w) * Z)
        return np.concatenate(out, axis=1)
