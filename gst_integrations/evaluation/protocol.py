"""The evaluation protocol: held-out comparison of instruction views against baselines.

The protocol in words, and how to read its reports: ``docs/evaluation.md``.

Per facet A (with another facet B of the same texts): a seeded, stratified guide sample
fits each method; every metric is computed on the held-out rest, and the baselines run
in the same process. Methods: generic base vectors, instruction-prefixed re-encoding, a
logistic probe, and every head family; with the default head, its single views and blends of
them are also scored on joint retrieval (both facets must match).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split

from gst_integrations.core.encoders.base import BaseEncoder
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.feedback import progress
from gst_integrations.core.heads.blend_weights import fit_blend_weights
from gst_integrations.core.heads.training import fit_head
from gst_integrations.core.paths import default_cache_dir
from gst_integrations.evaluation.blends import Blend, blend_name, blend_vectors, default_blends
from gst_integrations.evaluation.datasets.dataset import LabelledCorpus
from gst_integrations.evaluation.metrics import (
    clustering_v_measure,
    joint_labels,
    ndcg_at_k,
    precision_at_k,
    precision_at_k_by_class,
    sample_triplets,
    sts_spearman,
    top_k_neighbours,
    triplet_accuracy,
)
from gst_integrations.evaluation.report import DEFAULT_METHOD, JOINT, METRICS, EvalReport
from gst_integrations.evaluation.zero_label import ZeroLabelRun, method_name

__all__ = [
    "DEFAULT_METHOD",
    "HEAD_VARIANTS",
    "INSTRUCTIONS",
    "METRICS",
    "EvalReport",
    "run_protocol",
]

#: Head variants compared; the default is ``fit_head`` with no options.
HEAD_VARIANTS: dict[str, dict[str, Any]] = {
    DEFAULT_METHOD: {},
    "head: lda_mix": {"family": "lda_mix"},
    "head: lda": {"family": "lda"},
    "head: probe_mix": {"family": "probe_mix"},
    "head: linear + SupCon": {"family": "linear", "loss": "supcon"},
    "head: mlp + SupCon": {"family": "mlp", "loss": "supcon"},
    "head: paper (mlp + margin + recon)": {
        "family": "mlp",
        "loss": "margin",
        "recon_weight": 1.0,
        "lr": 1e-4,
    },
}

INSTRUCTIONS = {
    "condition": "Which condition is the patient treating?",
    "rating": "How satisfied is the patient with the drug?",
    "topic": "What is the topic of this news article?",
    "pos": "What part of speech is the word this dictionary entry defines?",
    "field": "Which subject field does this dictionary definition belong to?",
}

#: The blend whose weights ``fit_blend_weights`` chooses on the guide (per split).
AUTO_BLEND = "blend auto (weights chosen on the guide)"

#: Joint-retrieval reference: the two facets' probe posteriors, blended with equal weights.
PROBE_REFERENCE = "reference: probe posteriors, both facets"

#: Card figures of the default head kept per facet and split (see ``heads.mix``).
FEASIBILITY_KEYS = (
    "cv_accuracy",
    "majority_share",
    "accuracy_lift_z",
    "balanced_accuracy",
    "chance",
    "log_loss_skill",
    "barely_encoded",
)


def machine_description() -> str:
    cpus = torch.get_num_threads()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()} CPU, {cpus} torch threads, {gpu}"


def _score(
    Z: np.ndarray, labels: dict[str, np.ndarray], triplets: dict[str, np.ndarray]
) -> dict[str, dict[str, list[float]]]:
    """Every metric of one set of held-out vectors, per facet (one value: this split)."""
    neighbours = top_k_neighbours(Z, 10)
    out = {}
    for facet, tri in triplets.items():
        lab = labels[facet]
        out[facet] = {
            "v_measure": [clustering_v_measure(Z, lab)],
            "triplet": [triplet_accuracy(Z, tri)],
            "sts": [sts_spearman(Z, lab)],
            "p_at_10": [precision_at_k(Z, lab, neighbours=neighbours)],
            "ndcg_at_10": [ndcg_at_k(Z, lab, neighbours=neighbours)],
        }
    return out


def run_protocol(
    corpus: LabelledCorpus,
    facets: Sequence[str] = ("condition", "rating"),
    *,
    guide_fraction: float = 0.3,
    seed: int = 0,
    seeds: Sequence[int] | None = None,
    encoder: BaseEncoder | Any = None,
    instructions: dict[str, str] | None = None,
    head_variants: dict[str, dict[str, Any]] | None = None,
    prefixed_baseline: bool = True,
    probe_baseline: bool = True,
    blends: Sequence[Blend] | None = None,
    auto_blend: bool = True,
    zero_label: Sequence[str] = (),
    llm: Any = None,
    n_triplets: int = 10_000,
    show_progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> EvalReport:
    """Run the protocol on ``corpus`` and return the report (markdown and JSON).

    With ``seeds`` the whole protocol runs once per guide/held-out split and the report
    gives mean and worst-split scores, so a default is chosen on more than one draw of a
    small guide sample. When the default head is among the variants, its single views and
    the ``blends`` (default: ``default_blends``) are also scored on joint retrieval, and
    with ``auto_blend`` a blend whose weights are chosen on the guide (``fit_blend_weights``).
    ``zero_label``: zero-label variants (``evaluation.zero_label``) fitted on the unlabelled
    guide texts; ``llm`` writes descriptions / labels for the ``llm-*`` variants.
    """
    base = as_encoder(encoder)
    zl = None
    if zero_label:
        labels_all = {f: np.asarray(corpus.facets[f]) for f in facets[:2]}
        zl = ZeroLabelRun(
            dataset=corpus.name,
            facets=list(facets[:2]),
            labels=labels_all,
            texts=corpus.texts,
            instructions={
                f: {**INSTRUCTIONS, **(instructions or {})}.get(f, f) for f in facets[:2]
            },
            encoder=base,
            variants=tuple(zero_label),
            llm=llm,
        )
    options = dict(
        guide_fraction=guide_fraction,
        encoder=base,
        instructions=instructions,
        head_variants=head_variants,
        prefixed_baseline=prefixed_baseline,
        probe_baseline=probe_baseline,
        blends=blends,
        auto_blend=auto_blend,
        zero_label=zl,
        n_triplets=n_triplets,
        show_progress=show_progress,
        log=log,
    )
    runs = [_run_split(corpus, facets, seed=s, **options) for s in (seeds or [seed])]
    return EvalReport.merge(runs)


def _run_split(
    corpus: LabelledCorpus,
    facets: Sequence[str],
    *,
    guide_fraction: float,
    seed: int,
    encoder: BaseEncoder,
    instructions: dict[str, str] | None,
    head_variants: dict[str, dict[str, Any]] | None,
    prefixed_baseline: bool,
    probe_baseline: bool,
    blends: Sequence[Blend] | None,
    auto_blend: bool,
    zero_label: ZeroLabelRun | None,
    n_triplets: int,
    show_progress: bool | None,
    log: Callable[[str], None] | None,
) -> EvalReport:
    """One seeded guide/held-out split: every method fitted and scored."""
    facets = list(facets)
    if len(facets) < 2:
        raise ValueError("the protocol needs two facets of the same texts (A and B)")
    a, b = facets[:2]
    instructions = {**INSTRUCTIONS, **(instructions or {})}
    variants = HEAD_VARIANTS if head_variants is None else head_variants
    base = encoder
    cached = CachedEncoder(base, VectorCache(default_cache_dir() / "vectors.sqlite"))
    labels = {f: np.asarray(corpus.facets[f]) for f in corpus.facets}
    idx = np.arange(len(corpus))
    guide, held = train_test_split(
        idx, train_size=guide_fraction, random_state=seed, stratify=labels[a]
    )
    X = cached.encode(corpus.texts)
    held_labels = {f: v[held] for f, v in labels.items()}
    held_labels[JOINT] = joint_labels(held_labels[a], held_labels[b])
    triplets = {
        a: sample_triplets(held_labels[a], held_labels[b], n_triplets, seed),
        b: sample_triplets(held_labels[b], held_labels[a], n_triplets, seed),
    }
    report = EvalReport(
        dataset=corpus.name,
        facets=[a, b],
        guide_fraction=guide_fraction,
        n_guide=len(guide),
        n_held_out=len(held),
        machine=machine_description(),
        seeds=[int(seed)],
        class_counts={
            f: {
                str(c): int(n)
                for c, n in zip(*np.unique(held_labels[f], return_counts=True), strict=True)
            }
            for f in (a, b)
        },
    )

    def add(method: str, views: dict[str, np.ndarray], seconds: float | None = None) -> None:
        report.split_scores[method] = {
            f: _score(views[f], held_labels, {f: triplets[f]})[f] for f in report.facets
        }
        if seconds is not None:
            report.fit_seconds[method] = [seconds]
        if log:
            log(f"{method}: " + json.dumps(report.split_scores[method]))

    add("generic", {f: X[held] for f in report.facets})
    default_views: dict[str | None, np.ndarray] = {None: X[held]}
    fell_back: set[str] = set()
    probe_views: dict[str, np.ndarray] = {}
    steps = (["prefixed"] if prefixed_baseline else []) + (["probe"] if probe_baseline else [])
    steps += list(variants)
    steps += [f"zero-label {v}" for v in (zero_label.variants if zero_label else ())]
    default_heads: dict[str, Any] = {}
    for step in progress(steps, desc=f"eval methods, seed {seed}", show=show_progress):
        t0 = time.perf_counter()
        views = {}
        if step == "prefixed":
            for f in report.facets:
                views[f] = base.encode([f"{instructions[f]} {corpus.texts[i]}" for i in held])
            add("instruction-prefixed re-encoding", views, time.perf_counter() - t0)
            continue
        if step == "probe":
            for f in report.facets:
                probe = LogisticRegression(max_iter=2000).fit(X[guide], labels[f][guide])
                views[f] = probe.predict_proba(X[held])
            add("logistic probe (baseline)", views, time.perf_counter() - t0)
            probe_views = views
            continue
        if step.startswith("zero-label ") and zero_label is not None:
            variant = step.removeprefix("zero-label ")
            zheads, cards = zero_label.fit(variant, X, guide, seed)
            method = method_name(variant)
            add(
                method,
                {f: zheads[f].transform(X[held]) for f in report.facets},
                time.perf_counter() - t0,
            )
            report.zero_shot[method] = {f: [cards[f]] for f in report.facets}
            continue
        heads = {}
        for f in report.facets:
            heads[f] = fit_head(
                instructions.get(f, f),
                X[guide],
                labels[f][guide],
                encoder=base,
                seed=seed,
                **variants[step],
            )
            views[f] = heads[f].transform(X[held])
        add(step, views, time.perf_counter() - t0)
        choices = {f: heads[f].card.get("family_choice") for f in report.facets}
        if all(choices.values()):
            report.family_choice[step] = {f: [_choice_figures(choices[f])] for f in choices}
        if step == DEFAULT_METHOD:
            default_views.update(views)
            default_heads = heads
            fell_back = {f for f in report.facets if heads[f].fell_back}
            report.feasibility = {f: [_card_figures(heads[f].card)] for f in report.facets}
    if len(default_views) > 1:
        extra: dict[str, dict[str | None, float]] = {}
        if auto_blend and default_heads:
            fitted = fit_blend_weights(
                default_heads, X[guide], {f: labels[f][guide] for f in report.facets}, seed=seed
            )
            extra[AUTO_BLEND] = fitted.weights
            report.blend_weights[AUTO_BLEND] = [fitted.info["chosen"]]
        _score_views_and_blends(
            report, default_views, held_labels, triplets, blends, fell_back, probe_views, extra
        )
    return report


def _choice_figures(choice: dict[str, Any]) -> dict[str, Any]:
    """The family choice of one head: the winner, why, and each candidate's inner AUC."""
    return {
        "chosen": choice.get("chosen"),
        "fell_back": bool(choice.get("fell_back_to_generic")),
        "reason": choice.get("reason"),
        "val_auc": {n: c.get("val_auc") for n, c in (choice.get("candidates") or {}).items()},
    }


def _card_figures(card: dict[str, Any]) -> dict[str, Any]:
    """What a head's card says about its facet: probe feasibility and the chosen mix."""
    feasibility = card.get("feasibility") or {}
    figures = {k: feasibility[k] for k in FEASIBILITY_KEYS if k in feasibility}
    view_fit = card.get("view_fit") or {}
    figures["alpha"] = view_fit.get("alpha", 0.0 if view_fit.get("fell_back_to_generic") else None)
    figures["family"] = (card.get("options") or {}).get("family")
    figures["common_direction_removed"] = bool(view_fit.get("common_direction_removed"))
    return figures


def _score_views_and_blends(
    report: EvalReport,
    views: dict[str | None, np.ndarray],
    held_labels: dict[str, np.ndarray],
    triplets: dict[str, np.ndarray],
    blends: Sequence[Blend] | None,
    fell_back: set[str],
    probe_views: dict[str, np.ndarray] | None = None,
    extra_blends: dict[str, dict[str | None, float]] | None = None,
) -> None:
    """Generic, each single view of the default head and each blend, on the same held-out
    texts: P@10, nDCG@10 and triplets of each facet, joint retrieval, and P@10 per class.
    A blend drops the views that fell back to the generic vectors, as the engine does.

    With ``probe_views`` (the logistic probes' class posteriors), their equal blend is
    scored too, as a reference: how much of both facets a classifier on the same labels
    and base vectors recovers, which bounds what a blend of views can be expected to reach.
    """
    a, b = report.facets
    candidates: dict[str, np.ndarray] = {"generic": views[None]}
    for f in report.facets:
        candidates[f"view {f}"] = views[f]
    for blend in default_blends(a, b) if blends is None else blends:
        candidates[blend_name(blend)] = blend_vectors(views, blend, fell_back)
    for name, weights in (extra_blends or {}).items():
        candidates[name] = blend_vectors(views, weights, fell_back)
    if probe_views:
        candidates[PROBE_REFERENCE] = blend_vectors(probe_views, {a: 0.5, b: 0.5})
    for method, Z in candidates.items():
        neighbours = top_k_neighbours(Z, 10)
        if method != "generic":  # generic has every metric already
            report.split_scores[method] = {
                f: {
                    "triplet": [triplet_accuracy(Z, triplets[f])],
                    "p_at_10": [precision_at_k(Z, held_labels[f], neighbours=neighbours)],
                    "ndcg_at_10": [ndcg_at_k(Z, held_labels[f], neighbours=neighbours)],
                }
                for f in report.facets
            }
        report.split_scores[method][JOINT] = {
            "p_at_10": [precision_at_k(Z, held_labels[JOINT], neighbours=neighbours)],
            "ndcg_at_10": [ndcg_at_k(Z, held_labels[JOINT], neighbours=neighbours)],
        }
        report.per_class[method] = {
            f: {
                c: [v]
                for c, v in precision_at_k_by_class(
                    Z, held_labels[f], neighbours=neighbours
                ).items()
            }
            for f in report.facets
        }
    report.retrieval_methods = list(candidates)
