"""Inner validation on a labelled guide: stratified folds, per-query AUC, significance.

Shared by the head fitters (``heads.mix``) and the per-facet family choice
(``heads.select``): every decision a fit makes is measured on partitions of the guide alone.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = [
    "auc_from_similarity",
    "corrected_z",
    "inner_splits",
    "paired_z",
    "probe_feasibility",
    "query_auc",
    "stratified_folds",
]


def stratified_folds(yi: np.ndarray, n_folds: int, rng: np.random.Generator) -> np.ndarray:
    """Stratified fold ids; a class with a single member stays in training (-1)."""
    fold = np.full(len(yi), -1)
    for c in np.unique(yi):
        idx = rng.permutation(np.flatnonzero(yi == c))
        if len(idx) >= 2:
            fold[idx] = (np.arange(len(idx)) + rng.integers(n_folds)) % n_folds
    return fold


def inner_splits(
    yi: np.ndarray, n_folds: int, n_repeats: int, rng: np.random.Generator
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, validation) index pairs of repeated stratified K-fold; tiny folds are skipped."""
    splits = []
    for _ in range(n_repeats):
        fold = stratified_folds(yi, n_folds, rng)
        for k in range(n_folds):
            va, tr = np.flatnonzero(fold == k), np.flatnonzero(fold != k)
            if len(va) >= 4 and len(np.unique(yi[va])) >= 2 and len(np.unique(yi[tr])) >= 2:
                splits.append((tr, va))
    return splits


def query_auc(Z: np.ndarray, yi: np.ndarray) -> float:
    """Mean over queries of P(cos to a same-label text > cos to an other-label text)."""
    Zn = Z / np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1e-12)
    return auc_from_similarity(Zn @ Zn.T, yi)


def auc_from_similarity(S: np.ndarray, yi: np.ndarray) -> float:
    """Per-query AUC from a similarity matrix: rank-sum (Mann-Whitney) per row, ties counted
    half; a query with no same-label or no other-label text is skipped."""
    from scipy.stats import rankdata

    S = S.copy()
    np.fill_diagonal(S, -np.inf)  # self ranks first (1) and is excluded below
    ranks = rankdata(S, axis=1) - 1.0
    same = yi[:, None] == yi[None, :]
    np.fill_diagonal(same, False)
    n_pos = same.sum(1)
    n_neg = (yi[:, None] != yi[None, :]).sum(1)
    ok = (n_pos > 0) & (n_neg > 0)
    if not ok.any():
        return float("nan")
    rank_sum = (ranks * same).sum(1)
    auc = (rank_sum[ok] - n_pos[ok] * (n_pos[ok] + 1) / 2) / (n_pos[ok] * n_neg[ok])
    return float(auc.mean())


def corrected_z(diffs: np.ndarray, test_over_train: float) -> float:
    """Nadeau-Bengio corrected resampled t statistic of the mean of per-fold differences."""
    diffs = diffs[np.isfinite(diffs)]
    if len(diffs) < 2:
        return 0.0
    var = float(np.var(diffs, ddof=1)) * (1.0 / len(diffs) + test_over_train)
    return (
        float(np.mean(diffs) / np.sqrt(var)) if var > 0 else (np.inf if np.mean(diffs) > 0 else 0.0)
    )


def paired_z(diffs: np.ndarray) -> float:
    """z of the mean of per-text paired differences (one out-of-fold prediction per text)."""
    if len(diffs) < 2:
        return 0.0
    sd = float(np.std(diffs, ddof=1))
    if sd == 0.0:
        return 0.0 if float(np.mean(diffs)) == 0.0 else float(np.sign(np.mean(diffs)) * np.inf)
    return float(np.mean(diffs) / (sd / np.sqrt(len(diffs))))


def probe_feasibility(
    X: np.ndarray,
    yi: np.ndarray,
    splits: list[tuple[np.ndarray, np.ndarray]],
    min_z: float = 2.0,
) -> dict[str, Any]:
    """How much of the labels the base vectors carry: a cross-validated logistic probe.

    ``splits`` should be one K-fold partition (each text validated once). Two probes are
    fitted per fold, a plain one and a class-balanced one (with few labels per class the
    plain probe, L2-regularised, may answer only the majority class). Reported:

    * ``cv_accuracy`` (the better probe) against ``majority_share``, the accuracy of always
      answering the commonest label, with ``accuracy_lift_z``: the z of the per-text paired
      difference (probe right) - (majority guess right);
    * ``balanced_accuracy`` of the balanced probe against ``chance`` = 1/C;
    * ``log_loss_skill`` of the plain probe over the training-fold class prior,
      1 - LL_probe / LL_prior (the share of the label's uncertainty the vectors explain;
      0 = nothing beyond the class shares), with its paired z.

    ``barely_encoded``: neither probe is significantly more accurate than always guessing the
    majority label (``accuracy_lift_z`` < ``min_z``).
    """
    from sklearn.linear_model import LogisticRegression

    n_cls = int(yi.max()) + 1
    eps = 1e-12
    seen, plain_ok, bal_ok, maj_ok, bal_pred, ll_p, ll_0 = [], [], [], [], [], [], []
    for tr, va in splits:
        if len(np.unique(yi[tr])) < 2 or len(va) == 0:
            continue
        prior = np.bincount(yi[tr], minlength=n_cls) / len(tr)
        plain = LogisticRegression(max_iter=2000).fit(X[tr], yi[tr])
        proba = np.full((len(va), n_cls), eps)
        proba[:, plain.classes_] = plain.predict_proba(X[va])
        bal = LogisticRegression(max_iter=2000, class_weight="balanced").fit(X[tr], yi[tr])
        pb = bal.predict(X[va])
        seen.append(yi[va])
        plain_ok.append(proba.argmax(1) == yi[va])
        bal_ok.append(pb == yi[va])
        maj_ok.append(yi[va] == prior.argmax())
        bal_pred.append(pb)
        ll_p.append(-np.log(np.maximum(proba[np.arange(len(va)), yi[va]], eps)))
        ll_0.append(-np.log(np.maximum(prior[yi[va]], eps)))
    if not seen:
        return {"barely_encoded": True, "reason": "too few labels for a cross-validated probe"}
    t = np.concatenate(seen)
    maj = np.concatenate(maj_ok).astype(float)
    lifts = {
        "plain": np.concatenate(plain_ok).astype(float) - maj,
        "balanced": np.concatenate(bal_ok).astype(float) - maj,
    }
    best = max(lifts, key=lambda k: float(np.mean(lifts[k])))
    acc_z = paired_z(lifts[best])
    pb = np.concatenate(bal_pred)
    lp, l0 = np.concatenate(ll_p), np.concatenate(ll_0)
    counts = np.bincount(yi, minlength=n_cls)
    return {
        "cv_accuracy": round(float(np.mean(lifts[best] + maj)), 4),
        "cv_accuracy_probe": best,
        "majority_share": round(float(counts.max() / counts.sum()), 4),
        "accuracy_lift_z": round(acc_z, 2),
        "balanced_accuracy": round(
            float(np.mean([np.mean(pb[t == c] == c) for c in np.unique(t)])), 4
        ),
        "chance": round(1.0 / n_cls, 4),
        "log_loss_skill": round(float(1.0 - lp.mean() / l0.mean()), 4) if l0.mean() > 0 else 0.0,
        "log_loss_skill_z": round(paired_z(l0 - lp), 2),
        "barely_encoded": bool(acc_z < min_z),
    }
