"""Blends of views as vectors, so every protocol metric scores them like single views.

The engine ranks a blend ``{view: weight}`` by ``sum_i w_i cos_i(q, x)`` (None is the
generic vectors). Concatenating each view's unit vectors scaled by ``sqrt(w_i)`` gives
vectors whose inner product is exactly that sum and whose norm is ``sqrt(sum_i w_i)`` for
every text, so their cosine is the blend score divided by a constant: the same neighbours,
triplet decisions and rank correlations as the engine's blend. Views that fell back to the
generic vectors are dropped from a blend, as the engine does (``informative_weights``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

import numpy as np

from gst_integrations.core.heads.blend import blend_weights, informative_weights, view_label

#: A blend: view name (None = generic vectors) -> weight.
Blend = Mapping[str | None, float]


def default_blends(facet_a: str, facet_b: str) -> list[dict[str | None, float]]:
    """The blends evaluated for two facets: equal weights, with and without the generic
    vectors, and the quickstart's uneven mix."""
    return [
        {facet_a: 0.5, facet_b: 0.5},
        {facet_a: 0.4, facet_b: 0.4, None: 0.2},
        {facet_a: 0.6, facet_b: 0.4, None: 0.2},
    ]


def blend_name(blend: Blend) -> str:
    """How reports name a blend: ``blend pos*0.5+field*0.5+generic*0.2``."""
    return f"blend {view_label(blend_weights(blend))}"


def blend_vectors(
    views: Mapping[str | None, np.ndarray], blend: Blend, fell_back: Collection[str] = ()
) -> np.ndarray:
    """Vectors whose cosine ranks exactly as the engine's blend score ``sum_i w_i cos_i``;
    ``fell_back`` names the views whose head fell back to the generic vectors."""
    parts = []
    weights = informative_weights(blend_weights(blend), lambda name: name in fell_back)
    for name, weight in weights.items():
        Z = np.asarray(views[name], dtype=np.float64)
        Zn = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
        parts.append(np.sqrt(weight) * Zn)
    return np.hstack(parts)


def parse_blends(raw: str, facets: Sequence[str]) -> list[dict[str | None, float]]:
    """``"pos=.5,field=.5;pos=.4,field=.4,generic=.2"`` -> blends (``generic`` is None)."""
    blends = []
    for part in filter(None, (p.strip() for p in raw.split(";"))):
        blend: dict[str | None, float] = {}
        for item in part.split(","):
            name, _, weight = item.partition("=")
            name = name.strip()
            if name != "generic" and name not in facets:
                raise ValueError(f"blend part {name!r} is not a facet ({', '.join(facets)})")
            blend[None if name == "generic" else name] = float(weight)
        blends.append(dict(blend_weights(blend)))
    return blends
