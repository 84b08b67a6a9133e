"""Blends of views: which parts of a blend carry information.

Shared by the engine (``core.views``) and the query-side path (``core.search``), so that a
blend is scored the same way everywhere.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

__all__ = ["informative_weights"]

_WARNED_FALLBACKS: set[str] = set()


def informative_weights(
    weights: dict[str | None, float], fell_back: Callable[[str], bool]
) -> dict[str | None, float]:
    """A blend's weights without the views that fell back to the generic vectors.

    A view whose facet the base vectors barely encode *is* the generic view (``lda_mix``'s
    feasibility gate). In a blend its weight would only add generic similarity the blend
    did not ask for (that is what ``None`` is for), diluting the views that carry their
    facet, so it is dropped, with a warning once per view. A single view is left as it is;
    a blend of fallen-back views only is the generic view.
    """
    if len(weights) < 2:
        return weights
    dropped = [n for n in weights if n is not None and fell_back(n)]
    if not dropped:
        return weights
    for name in dropped:
        if name not in _WARNED_FALLBACKS:
            _WARNED_FALLBACKS.add(name)
            warnings.warn(
                f"view {name!r} fell back to the generic vectors (its facet is barely in the "
                f"base vectors): its blend weight {weights[name]:g} is dropped so that it "
                "does not dilute the other views. More labels or a stronger base encoder "
                "would give it a view of its own.",
                UserWarning,
                stacklevel=3,
            )
    kept = {n: w for n, w in weights.items() if n not in dropped}
    return kept or {None: 1.0}
