"""A linear instruction view with a guide-chosen mix of discriminant and generic similarity.

``fit_view_weight(X, y)`` returns ``W`` (z, d), bias-free, so a view is ``x -> W x`` and the
query-side path ``(W q) . (W x) = (W^T W q) . x`` stays exact. The view is the concatenation

    [ alpha * D x ; (1 - alpha) * x ]

where ``D`` holds discriminant directions of the labels and ``x`` is the generic base vector.
Cosine in this view blends the discriminant similarity with the generic one. Its inner
products are those of the metric ``M = alpha^2 D^T D + (1 - alpha)^2 I``, so the returned
matrix is ``M^(1/2)`` (z = d: the same cosines as the concatenation, no larger than a base
vector) unless ``compact=False`` asks for the concatenation itself (z = k + d).

Why each part:
* ``D``: shrinkage-LDA directions (within-class covariance shrunk towards a multiple of
  the identity), scaled to unit median norm. LDA suppresses what varies inside the
  classes, which is where the text's other facets live. How much to shrink depends on how
  many labels there are per dimension, so the shrinkage is chosen on the guide (a few
  hundred labels in 384-d want strong shrinkage; Ledoit-Wolf, which is optimal for the
  covariance itself, under-shrinks for discrimination): a window of two adjacent strengths,
  whose C-1 directions are averaged into one metric (up to 2(C-1) directions), because a
  single strength picked on a small guide is a noisy choice.
* Common direction: sentence encoders are anisotropic (every vector shares a large common
  component; the mean all-MiniLM-L6-v2 vector has norm 0.41 on GCIDE definitions and 0.57
  on drug reviews). Uncentred, ``D x`` then carries a near-constant offset that compresses
  cosines in the discriminant part. A second candidate
  removes the guide's mean direction ``u`` from ``D`` (``D (I - u u^T)``, still linear and
  bias-free; the first step of "all-but-the-top", Mu and Viswanath 2018). It is kept only
  when its inner-validation gain over plain ``D`` is significant on fresh partitions (same
  corrected z as the gate below): it helps some facets (GCIDE part of speech) and hurts
  others, so it must earn its place on the labels.
* ``x``: the generic vectors. Cosine ranking within a class still follows the base
  similarity (a (C-1)-dimensional view alone collapses into ties when C is small), and the
  view keeps what the base encoder knows beyond the labels.
* ``alpha`` and the shrinkage are chosen on the guide only, by repeated stratified K-fold:
  each fold fits ``D`` on its training part and scores the validation part against itself
  (the way a held-out corpus is searched) by the mean per-query AUC of same-label against
  other-label texts. That is the triplet test without its second facet, which a head does
  not know. alpha < 1 always, so the view never collapses to D alone.
* Feasibility gate: a view departs from the generic vectors only when the guide shows both
  that the facet is in the base vectors and that the view pays. (1) A cross-validated
  logistic probe (plain or class-balanced) must be significantly more accurate than always
  guessing the majority label (per-text paired z >= ``min_gain_z``; otherwise the facet is
  "barely encoded"). (2) The chosen view's gain in per-query AUC over alpha = 0 is
  re-measured on fresh K-fold partitions (not those that picked it) and must be significant
  by the corrected resampled t of Nadeau and Bengio (2003), z >= ``min_gain_z``. Otherwise
  alpha = 0 and W = I: the view is the generic one. The probe's figures (accuracy vs
  majority share, balanced accuracy vs 1/C, log-loss skill over the class prior) are
  returned for the head card.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from gst_integrations.core.heads.inner_cv import (
    auc_from_similarity,
    corrected_z,
    inner_splits,
    probe_feasibility,
)

__all__ = [
    "ViewFitOptions",
    "fit_view_weight",
    "probe_feasibility",
    "refit_view_weight",
    "view_fit_options",
]


@dataclass(frozen=True)
class ViewFitOptions:
    """How ``fit_view_weight`` builds and chooses a view (defaults: see module docstring)."""

    #: candidate mixes; alpha = 0 is the generic view, alpha < 1 keeps the view spread.
    alphas: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
    #: within-class shrinkage strengths (None = Ledoit-Wolf): chosen among by the inner
    #: validation when ``select_shrinkage``, else all averaged into one bagged metric.
    shrinkages: tuple[float | None, ...] = (0.1, 0.3, 0.5, 0.7, 0.8, 0.9, 0.95, 0.99)
    select_shrinkage: bool = True
    #: with ``select_shrinkage``: candidates are windows of this many adjacent shrinkages,
    #: each averaged into one metric (1 = a single shrinkage per candidate). 2 smooths a
    #: choice that a small guide makes noisily (held-out triplet error, 3 splits, 30% guide:
    #: -0.6 points on the drug-review condition, GCIDE field and part of speech against 1).
    shrinkage_window: int = 2
    #: bootstrap resamples per shrinkage strength; 0 = one plain fit per strength.
    n_bags: int = 0
    #: discriminant directions kept, as a multiple of C - 1.
    dims_per_class_gap: int = 2
    n_folds: int = 3
    #: repeats of the K-fold split that choose alpha (and the shrinkage) ...
    n_repeats: int = 3
    #: ... and fresh repeats that test the chosen view against the generic one, so the
    #: significance test is not run on the partitions that picked the winner.
    n_gate_repeats: int = 3
    #: significance the inner-validation gain over the generic view needs (corrected z).
    min_gain_z: float = 2.0
    #: return M^(1/2) (z = d) instead of the concatenation (z = k + d); same cosines.
    compact: bool = True
    #: also try D with the guide's common (mean) direction removed, kept when significant.
    try_common_removal: bool = True
    #: run the logistic-probe feasibility figure.
    probe: bool = True
    #: also require the probe to find the facet encoded (not ``barely_encoded``) before the
    #: view departs from the generic vectors (needs ``probe``).
    require_encoded: bool = True
    #: where ``D`` comes from: "lda" (shrinkage LDA, the default) or "probe" (the class
    #: weights of a multinomial logistic probe, centred over classes: a linear map from the
    #: probe, mixed with the generic vectors the same way).
    directions: str = "lda"
    #: inverse L2 strengths of the probe candidates (``directions="probe"``), chosen among
    #: by the same inner validation as the shrinkage.
    probe_strengths: tuple[float, ...] = (0.3, 1.0, 3.0, 10.0)

    def __post_init__(self) -> None:
        if self.directions not in ("lda", "probe"):
            raise ValueError(f"directions must be 'lda' or 'probe', not {self.directions!r}")


# --------------------------------------------------------------------------- discriminant


def _class_index(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    classes, yi = np.unique(np.asarray(y), return_inverse=True)
    return classes, yi


class _LDA:
    """Shrinkage LDA for one labelled sample; the SVD of the within-class residuals is done
    once and shared by every shrinkage strength.

    Sw = (1 - s) S + s tr(S)/d I is applied as Sw^(-1/2) without forming a d x d matrix, so a
    sample costs an SVD of an (n, d) matrix, and each shrinkage an SVD of a (C, d) one.
    """

    def __init__(self, X: np.ndarray, yi: np.ndarray) -> None:
        n, d = X.shape
        n_cls = int(yi.max()) + 1
        counts = np.bincount(yi, minlength=n_cls).astype(np.float64)
        present = counts > 0
        means = np.zeros((n_cls, d))
        np.add.at(means, yi, X)
        means[present] /= counts[present, None]
        self.resid = X - means[yi]
        _, self.s, self.vt = np.linalg.svd(self.resid / np.sqrt(n), full_matrices=False)
        self.sigma2 = max(float((self.s**2).sum()) / d, 1e-12)
        prior = counts[present] / n
        m = means[present]
        self.between = np.sqrt(prior)[:, None] * (m - prior @ m)
        self.k = max(int(present.sum()) - 1, 1)

    def directions(self, shrinkage: float | None) -> np.ndarray:
        """The C-1 discriminant directions (rows, Sw-orthonormal), strongest first."""
        if shrinkage is None:
            from sklearn.covariance import ledoit_wolf_shrinkage

            shrinkage = float(ledoit_wolf_shrinkage(self.resid, assume_centered=True))
        shrinkage = min(max(shrinkage, 1e-3), 1.0)
        f = ((1.0 - shrinkage) * self.s**2 + shrinkage * self.sigma2) ** -0.5
        g = (shrinkage * self.sigma2) ** -0.5
        vt = self.vt

        def whiten(A: np.ndarray) -> np.ndarray:  # A @ Sw^(-1/2)
            av = A @ vt.T
            return (av * f) @ vt + g * (A - av @ vt)

        _, _, vb = np.linalg.svd(whiten(self.between), full_matrices=False)
        return whiten(vb[: self.k])


def _lda_directions(X: np.ndarray, yi: np.ndarray, shrinkage: float | None) -> np.ndarray:
    """C-1 shrinkage-LDA directions (rows, Sw-orthonormal) of one sample."""
    return _LDA(X, yi).directions(shrinkage)


def _unit_median(W: np.ndarray, X: np.ndarray) -> np.ndarray:
    return W / max(float(np.median(np.linalg.norm(X @ W.T, axis=1))), 1e-12)


def _without_common(D: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``D (I - u u^T)`` with ``u`` the unit mean of ``X``, rescaled to unit median norm."""
    u = X.mean(0)
    u = u / max(float(np.linalg.norm(u)), 1e-12)
    return _unit_median(D - np.outer(D @ u, u), X)


def _probe_directions(X: np.ndarray, yi: np.ndarray, strength: float, k: int) -> np.ndarray:
    """Top ``k`` directions of a multinomial logistic probe's class weights, centred over
    classes (a constant added to every class's weight changes no prediction), each scaled
    by its singular value, unit median norm on X."""
    from sklearn.linear_model import LogisticRegression

    coef = LogisticRegression(C=strength, max_iter=2000).fit(X, yi).coef_
    if coef.shape[0] > 1:
        coef = coef - coef.mean(0)
    _, s, vt = np.linalg.svd(coef, full_matrices=False)
    k = max(1, min(k, int((s > s[0] * 1e-9).sum())))
    return _unit_median(s[:k, None] * vt[:k], X)


def _discriminant(
    X: np.ndarray,
    yi: np.ndarray,
    opts: ViewFitOptions,
    rng: np.random.Generator,
    shrinkages: tuple[float | None, ...],
    drop_common: bool = False,
) -> np.ndarray:
    """D (k, d): top directions of the bagged discriminant metric, unit median norm on X
    (with ``drop_common``, the common direction of X removed)."""
    n_cls = len(np.unique(yi))
    if opts.directions == "probe":
        k = opts.dims_per_class_gap * max(n_cls - 1, 1)
        D = _probe_directions(X, yi, float(shrinkages[0]), k)  # type: ignore[arg-type]
        return _without_common(D, X) if drop_common else D
    members = [np.flatnonzero(yi == c) for c in np.unique(yi)]
    parts = []
    if opts.n_bags <= 0:
        lda = _LDA(X, yi)
        parts = [_unit_median(lda.directions(sh), X) for sh in shrinkages]
    for shrinkage in shrinkages if opts.n_bags > 0 else ():
        for _ in range(opts.n_bags):  # stratified bootstrap: every class keeps its size
            rows = np.concatenate([rng.choice(m, size=len(m), replace=True) for m in members])
            parts.append(_unit_median(_lda_directions(X[rows], yi[rows], shrinkage), X))
    stacked = np.vstack(parts) / np.sqrt(len(parts))  # stacked^T stacked = mean metric
    _, s, vt = np.linalg.svd(stacked, full_matrices=False)
    k = min(opts.dims_per_class_gap * max(n_cls - 1, 1), len(s))
    D = _unit_median(s[:k, None] * vt[:k], X)
    return _without_common(D, X) if drop_common else D


def _discriminants(
    X: np.ndarray,
    yi: np.ndarray,
    opts: ViewFitOptions,
    rng: np.random.Generator,
    groups: list[tuple[float | None, ...]],
) -> list[np.ndarray]:
    """``_discriminant`` for each group of shrinkages, sharing one residual SVD."""
    if opts.n_bags > 0 or opts.directions == "probe":
        return [_discriminant(X, yi, opts, rng, g) for g in groups]
    lda = _LDA(X, yi)
    cache = {sh: _unit_median(lda.directions(sh), X) for g in groups for sh in g}
    n_cls = len(np.unique(yi))
    out = []
    for g in groups:
        stacked = np.vstack([cache[sh] for sh in g]) / np.sqrt(len(g))
        _, s, vt = np.linalg.svd(stacked, full_matrices=False)
        k = min(opts.dims_per_class_gap * max(n_cls - 1, 1), len(s))
        out.append(_unit_median(s[:k, None] * vt[:k], X))
    return out


def _view_matrix(D: np.ndarray, alpha: float, d: int, compact: bool) -> np.ndarray:
    """[alpha D; (1-alpha) I], or its metric square root M^(1/2) (same inner products)."""
    if not compact:
        return np.vstack([alpha * D, (1.0 - alpha) * np.eye(d)])
    _, s, vt = np.linalg.svd(D, full_matrices=False)
    root = np.sqrt((alpha * s) ** 2 + (1.0 - alpha) ** 2)
    return (vt.T * (root - (1.0 - alpha))) @ vt + (1.0 - alpha) * np.eye(d)


# --------------------------------------------------------------------------- inner CV


def _blend_aucs(
    D: np.ndarray, Xva: np.ndarray, yi: np.ndarray, alphas: tuple[float, ...]
) -> list[float]:
    """AUC of the view [alpha D x; (1-alpha) x] for every alpha, from two Gram matrices."""
    P = Xva @ D.T
    Gd, Gx = P @ P.T, Xva @ Xva.T
    out = []
    for a in alphas:
        G = a * a * Gd + (1 - a) * (1 - a) * Gx
        nrm = np.sqrt(np.maximum(np.diag(G), 1e-24))
        out.append(auc_from_similarity(G / nrm[:, None] / nrm[None, :], yi))
    return out


# --------------------------------------------------------------------------- public


def fit_view_weight(
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int = 0,
    options: ViewFitOptions | None = None,
) -> tuple[np.ndarray, dict[str, Any]]:
    """Fit a linear, bias-free view of labels ``y`` on base vectors ``X`` (n, d).

    Returns ``W`` (z, d) float32 (the view is ``X @ W.T``) and a dict of what was chosen:
    ``alpha``, the inner-validation AUC per alpha, the significance of the chosen view's gain
    over the generic vectors, the probe feasibility figures and whether the view fell back to
    the generic vectors. Everything is decided on ``(X, y)`` alone.
    """
    opts = options or ViewFitOptions()
    X = np.asarray(X, dtype=np.float64)
    _, yi = _class_index(y)
    n, d = X.shape
    if len(np.unique(yi)) < 2:
        raise ValueError("need at least 2 distinct labels")
    rng = np.random.default_rng(seed)

    # Inner validation on the guide: fit D on each training part, search the validation part.
    splits = inner_splits(yi, opts.n_folds, opts.n_repeats, rng)
    alphas = tuple(sorted(set(opts.alphas) | {0.0}))
    if opts.directions == "probe":
        groups: list[tuple[float | None, ...]] = [(c,) for c in opts.probe_strengths]
    elif opts.select_shrinkage:
        grid, w = opts.shrinkages, max(1, min(opts.shrinkage_window, len(opts.shrinkages)))
        groups = [tuple(grid[i : i + w]) for i in range(len(grid) - w + 1)]
    else:
        groups = [tuple(opts.shrinkages)]
    variants = (False, True) if opts.try_common_removal else (False,)
    # aucs[split, variant, group, alpha]; alpha = 0 (generic) is the same everywhere
    aucs = np.full((len(splits), len(variants), len(groups), len(alphas)), np.nan)
    for s_i, (tr, va) in enumerate(splits):
        for g_i, D in enumerate(_discriminants(X[tr], yi[tr], opts, rng, groups)):
            for v_i, drop in enumerate(variants):
                Dv = _without_common(D, X[tr]) if drop else D
                aucs[s_i, v_i, g_i] = _blend_aucs(Dv, X[va], yi[va], alphas)
    mean_auc = np.nanmean(aucs, axis=0) if splits else np.zeros((len(variants), 1, len(alphas)))
    # best (group, alpha) per variant
    best_of = [np.unravel_index(int(np.nanargmax(m)), m.shape) for m in mean_auc]
    candidates = [(v_i, int(g), int(a)) for v_i, (g, a) in enumerate(best_of)]
    # Fresh partitions test (1) common removal against plain D, (2) the view against generic.
    gate_splits = (
        inner_splits(yi, opts.n_folds, opts.n_gate_repeats, rng)
        if splits and any(a > 0 for _, _, a in candidates)
        else []
    )
    gate = np.full((len(gate_splits), 1 + len(candidates)), np.nan)  # generic, each candidate
    for s_i, (tr, va) in enumerate(gate_splits):
        for c_i, (v_i, g, a) in enumerate(candidates):
            D = _discriminant(X[tr], yi[tr], opts, rng, groups[g], drop_common=variants[v_i])
            gate[s_i, 0], gate[s_i, 1 + c_i] = _blend_aucs(D, X[va], yi[va], (0.0, alphas[a]))
    ratio = float(np.mean([len(va) / len(tr) for tr, va in gate_splits])) if gate_splits else 0
    chosen_c, common_z = 0, 0.0
    if len(candidates) > 1 and gate_splits:
        (_, g0, a0), (_, g1, a1) = candidates
        if mean_auc[1, g1, a1] > mean_auc[0, g0, a0]:
            common_z = corrected_z(gate[:, 2] - gate[:, 1], ratio)
            chosen_c = 1 if common_z >= opts.min_gain_z else 0
    v_best, g_best, best = candidates[chosen_c]
    drop_common = variants[v_best]
    chosen = groups[g_best]
    gain_z, gain = 0.0, 0.0
    if gate_splits and best > 0:
        diffs = gate[:, 1 + chosen_c] - gate[:, 0]
        gain_z, gain = corrected_z(diffs, ratio), float(np.nanmean(diffs))
    feasibility = (
        probe_feasibility(X, yi, splits[: opts.n_folds], opts.min_gain_z) if opts.probe else None
    )
    significant = best > 0 and gain_z >= opts.min_gain_z
    if opts.require_encoded and feasibility is not None and feasibility.get("barely_encoded"):
        significant = False
    alpha = float(alphas[best]) if significant else 0.0

    info: dict[str, Any] = {
        "alpha": alpha,
        "alpha_best_inner": float(alphas[best]),
        "fell_back_to_generic": alpha == 0.0,
        "shrinkage": list(chosen),
        "common_direction_removed": bool(drop_common and alpha > 0.0),
        "common_removal_gain_z": round(float(common_z), 2),
        "inner_auc": {
            f"{a:g}": round(float(v), 4)
            for a, v in zip(alphas, mean_auc[v_best, g_best], strict=True)
        },
        "inner_gain_over_generic": round(gain, 4),
        "inner_gain_z": round(float(gain_z), 2),
        "n_inner_splits": len(splits),
        "n_gate_splits": len(gate_splits),
        "options": asdict(opts),
    }
    if feasibility is not None:
        info["feasibility"] = feasibility
    if alpha == 0.0:
        W = np.eye(d)
        info["discriminant_dims"] = 0
    else:
        D = _discriminant(X, yi, opts, rng, chosen, drop_common=drop_common)
        W = _view_matrix(D, alpha, d, compact=opts.compact)
        info["discriminant_dims"] = int(D.shape[0])
    info["out_dim"] = int(W.shape[0])
    return W.astype(np.float32), info


def refit_view_weight(
    X: np.ndarray,
    y: np.ndarray,
    info: dict[str, Any],
    *,
    seed: int = 0,
    options: ViewFitOptions | None = None,
) -> np.ndarray:
    """``W`` of the view ``info`` (from ``fit_view_weight``) describes, refitted on ``(X, y)``
    with nothing chosen again: the same shrinkage (or probe strength), alpha and common
    direction. Cross-fitting uses it (blend weights, the family choice) where a full fit
    per fold would re-run the whole inner validation."""
    opts = options or ViewFitOptions(**view_fit_options(info.get("options") or {}))
    X = np.asarray(X, dtype=np.float64)
    d = X.shape[1]
    alpha = float(info.get("alpha", 0.0))
    _, yi = _class_index(y)
    if alpha == 0.0 or len(np.unique(yi)) < 2:
        return np.eye(d, dtype=np.float32)
    group = tuple(info.get("shrinkage") or opts.shrinkages)
    rng = np.random.default_rng(seed)
    drop = bool(info.get("common_direction_removed"))
    D = _discriminant(X, yi, opts, rng, group, drop_common=drop)
    return _view_matrix(D, alpha, d, compact=opts.compact).astype(np.float32)


def view_fit_options(raw: dict[str, Any]) -> dict[str, Any]:
    """``ViewFitOptions`` fields of a card's recorded options (tuples restored)."""
    known = set(ViewFitOptions.__dataclass_fields__)
    return {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items() if k in known}
