"""Blend weights chosen on a labelled guide (``weights="auto"``).

A blend ranks by ``sum_i w_i cos_i(q, x)`` over views (and the generic vectors, ``None``).
Which weights serve a query that wants every facet at once depends on how well each view
carries its facet and how much the views disagree, so they are chosen on texts labelled on
every facet of the blend:

* the objective is joint retrieval: the per-query AUC of texts that match the query on every
  facet against all other texts (the smooth counterpart of joint P@10);
* it is measured out of sample: on fresh stratified K-fold partitions of the guide, each view
  is refitted on the training part with the recipe its card records (``heads.refit``; no
  setting chosen again) and the validation part searches itself. Scored in sample, the
  weights would favour whichever view overfits the guide most;
* the candidates are a grid on the simplex (``step``); single views and, when ``generic``
  is allowed, the generic vectors alone are among them, so the chosen blend is never below
  the best single part on the guide. A view that fell back to the generic vectors is the
  generic vectors and takes no weight of its own.

The returned ``BlendWeights.weights`` is a ``{view: weight}`` spec the engine and the
retrievers take as ``view=``; ``info`` records every candidate's score.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from gst_integrations.core.errors import InvalidLabelsError
from gst_integrations.core.heads.head import Head
from gst_integrations.core.heads.inner_cv import auc_from_similarity, inner_splits
from gst_integrations.core.heads.refit import can_refit, refit_weight

__all__ = ["BlendWeights", "fit_blend_weights"]


@dataclass
class BlendWeights:
    """The chosen ``{view name or None: weight}`` and the guide scores behind it."""

    weights: dict[str | None, float]
    info: dict[str, Any] = field(default_factory=dict)


def _simplex(parts: int, step: float) -> list[tuple[float, ...]]:
    """Every weight vector on the simplex with coordinates in multiples of ``step``."""
    n = int(round(1.0 / step))
    return [
        tuple(c / n for c in combo)
        for combo in itertools.product(range(n + 1), repeat=parts)
        if sum(combo) == n
    ]


def _cosines(Z: np.ndarray) -> np.ndarray:
    Zn = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    return Zn @ Zn.T


def fit_blend_weights(
    heads: Mapping[str, Head],
    X: Any,
    labels: Mapping[str, Sequence[Any]],
    *,
    generic: bool = True,
    step: float = 0.1,
    n_folds: int = 3,
    n_repeats: int = 2,
    seed: int = 0,
) -> BlendWeights:
    """Weights for a blend of ``heads`` (view name -> head), chosen on guide texts ``X``
    (n, d base vectors) labelled on each view's facet (``labels``: view name -> n labels).

    ``generic`` lets the generic vectors take a weight. The views are refitted per fold when
    their card records a recipe (``heads.refit``); a view without one (zero-label, mlp, a
    user's module) is used as fitted.
    """
    X = np.asarray(X, dtype=np.float64)
    names = list(heads)
    if not names:
        raise InvalidLabelsError("a blend needs at least one view")
    missing = [n for n in names if n not in labels]
    if missing:
        raise InvalidLabelsError(f"no guide labels for view(s) {missing}: labels[name] = ...")
    ys = {n: np.asarray(labels[n]).astype(str) for n in names}
    if any(len(v) != len(X) for v in ys.values()):
        raise InvalidLabelsError("every view's labels must have one entry per guide vector")
    joint = np.unique(
        np.array(["\x1f".join(t) for t in zip(*ys.values(), strict=True)]), return_inverse=True
    )[1]
    informative = [n for n in names if not heads[n].fell_back]
    parts: list[str | None] = list(informative) + ([None] if generic or not informative else [])
    grid = _simplex(len(parts), step)
    rng = np.random.default_rng([seed, 2])
    splits = inner_splits(joint, n_folds, n_repeats, rng)
    if not splits:
        raise InvalidLabelsError("too few labelled texts per joint class to choose weights")
    scores = np.zeros((len(splits), len(grid)))
    for s_i, (tr, va) in enumerate(splits):
        sims = []
        for part in parts:
            if part is None:
                sims.append(_cosines(X[va]))
                continue
            head = heads[part]
            W = refit_weight(head, X[tr], ys[part][tr]) if can_refit(head) else None
            Z = X[va] @ W.T if W is not None else head.transform(X[va].astype(np.float32))
            sims.append(_cosines(np.asarray(Z, dtype=np.float64)))
        stack = np.stack(sims)
        for g_i, w in enumerate(grid):
            scores[s_i, g_i] = auc_from_similarity(np.tensordot(w, stack, axes=1), joint[va])
    mean = scores.mean(0)
    best = int(np.argmax(mean))
    weights = {part: float(w) for part, w in zip(parts, grid[best], strict=True) if w > 0}
    named = [
        {"weights": {str(p): w for p, w in zip(parts, g, strict=True)}, "joint_auc": float(m)}
        for g, m in zip(grid, mean, strict=True)
    ]
    info = {
        "objective": "joint per-query AUC (every facet matches), cross-fitted on the guide",
        "chosen": {("generic" if p is None else p): w for p, w in weights.items()},
        "joint_auc": round(float(mean[best]), 4),
        "dropped_fallen_back": [n for n in names if n not in informative],
        "refitted": [n for n in informative if can_refit(heads[n])],
        "n_splits": len(splits),
        "step": step,
        "candidates": sorted(named, key=lambda r: -r["joint_auc"])[:10],
    }
    return BlendWeights(weights=weights, info=info)
