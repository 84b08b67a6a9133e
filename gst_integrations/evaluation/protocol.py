"""The EVAL.md protocol: held-out comparison of instruction views against baselines.

Per facet A (with another facet B of the same texts): a seeded, stratified guide sample
fits each method; every metric is computed on the held-out rest, and the baselines run
in the same process. Methods: generic base vectors, instruction-prefixed re-encoding, a
logistic probe, and every head family.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from tqdm.auto import tqdm

from gst_integrations.core.encoders.base import BaseEncoder
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.heads.training import fit_head
from gst_integrations.core.paths import default_cache_dir
from gst_integrations.evaluation.datasets.dataset import LabelledCorpus
from gst_integrations.evaluation.metrics import (
    clustering_v_measure,
    precision_at_k,
    sample_triplets,
    sts_spearman,
    triplet_accuracy,
)

#: Head variants compared; "default" is ``fit_head`` with no options.
HEAD_VARIANTS: dict[str, dict[str, Any]] = {
    "head: lda_mix (default)": {},
    "head: lda": {"family": "lda"},
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
}

METRICS = ("v_measure", "triplet", "sts", "p_at_10")


@dataclass
class EvalReport:
    """Scores per method and facet, and the context needed to read them."""

    dataset: str
    facets: list[str]
    guide_fraction: float
    n_guide: int
    n_held_out: int
    scores: dict[str, dict[str, dict[str, float]]] = field(default_factory=dict)
    fit_seconds: dict[str, float] = field(default_factory=dict)
    machine: str = ""
    seeds: list[int] = field(default_factory=lambda: [0])
    #: method -> mean triplet-error reduction of each seed's split (one entry per seed)
    per_seed_reduction: dict[str, list[float]] = field(default_factory=dict)

    def error_reduction(self, method: str) -> float:
        """Mean over facets of 1 − err_method/err_generic on instruction-aware triplets."""
        reds = []
        for facet in self.facets:
            err_g = 1 - self.scores["generic"][facet]["triplet"]
            err_m = 1 - self.scores[method][facet]["triplet"]
            reds.append(1 - err_m / err_g if err_g > 0 else 0.0)
        return float(np.mean(reds))

    def acceptance(self, method: str = "head: lda_mix (default)") -> dict[str, Any]:
        """EVAL.md's bar, per facet: a view never loses (P@10, STS and V-measure within 0.01
        of generic, worst split), and triplet-error reduction on each facet (the goal: 50%
        where the base vectors encode the facet)."""
        generic = self.scores["generic"]
        per_facet = {}
        for f in self.facets:
            mine, base = self.scores[method][f], generic[f]
            never_loses = all(
                mine[m] >= base[m] - 0.01 for m in ("p_at_10", "sts", "v_measure") if m in mine
            )
            err0 = 1.0 - base["triplet"]
            per_facet[f] = {
                "never_loses": bool(never_loses),
                "triplet_error_reduction": (mine["triplet"] - base["triplet"]) / err0
                if err0 > 0
                else 0.0,
            }
        passed = all(v["never_loses"] for v in per_facet.values())
        return {"method": method, "per_facet": per_facet, "pass": passed}

    def to_markdown(self) -> str:
        cols = [f"{f} {m}" for f in self.facets for m in METRICS]
        lines = [
            f"Dataset {self.dataset}: guide {self.n_guide} texts "
            f"({self.guide_fraction:.0%}), held-out {self.n_held_out}; "
            f"mean over split seeds {self.seeds}; machine: {self.machine}",
            "",
            "| method | "
            + " | ".join(cols)
            + " | triplet err. reduction | min over seeds | fit s |",
            "|---|" + "---|" * (len(cols) + 3),
        ]
        for method, by_facet in self.scores.items():
            vals = [f"{by_facet[f][m]:.3f}" for f in self.facets for m in METRICS]
            red = f"{self.error_reduction(method):+.1%}"
            worst = f"{min(self.per_seed_reduction.get(method, [0.0])):+.1%}"
            secs = self.fit_seconds.get(method)
            lines.append(
                f"| {method} | "
                + " | ".join(vals)
                + f" | {red} | {worst} | "
                + (f"{secs:.2f}" if secs is not None else "")
                + " |"
            )
        acc = self.acceptance()
        lines += [
            "",
            "Default head, per facet: "
            + "; ".join(
                f"{f}: triplet-error reduction {v['triplet_error_reduction']:.1%}, "
                f"{'never loses to generic' if v['never_loses'] else 'LOSES to generic'}"
                for f, v in acc["per_facet"].items()
            )
            + f"; acceptance {'PASS' if acc['pass'] else 'FAIL'}",
        ]
        return "\n".join(lines)

    def to_json(self) -> str:
        return json.dumps(
            {
                "dataset": self.dataset,
                "facets": self.facets,
                "guide_fraction": self.guide_fraction,
                "n_guide": self.n_guide,
                "n_held_out": self.n_held_out,
                "machine": self.machine,
                "seeds": self.seeds,
                "per_seed_reduction": self.per_seed_reduction,
                "scores": self.scores,
                "fit_seconds": self.fit_seconds,
                "error_reduction": {m: self.error_reduction(m) for m in self.scores},
                "acceptance": self.acceptance(),
            },
            indent=2,
        )


def machine_description() -> str:
    cpus = torch.get_num_threads()
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return f"{platform.machine()} CPU, {cpus} torch threads, {gpu}"


def _score(Z: np.ndarray, facet: str, labels: dict[str, np.ndarray], triplets: dict) -> dict:
    lab = labels[facet]
    return {
        "v_measure": clustering_v_measure(Z, lab),
        "triplet": triplet_accuracy(Z, triplets[facet]),
        "sts": sts_spearman(Z, lab),
        "p_at_10": precision_at_k(Z, lab),
    }


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
    n_triplets: int = 10_000,
    show_progress: bool = True,
    log: Callable[[str], None] | None = None,
) -> EvalReport:
    """Run the protocol on ``corpus`` and return the report (markdown and JSON).

    With ``seeds`` the whole protocol runs once per guide/held-out split and the report
    gives mean scores plus each split's triplet-error reduction, so a default is chosen
    on more than one draw of a small guide sample.
    """
    base = as_encoder(encoder)
    options = dict(
        guide_fraction=guide_fraction,
        encoder=base,
        instructions=instructions,
        head_variants=head_variants,
        prefixed_baseline=prefixed_baseline,
        n_triplets=n_triplets,
        show_progress=show_progress,
        log=log,
    )
    runs = [_run_split(corpus, facets, seed=s, **options) for s in (seeds or [seed])]
    merged = runs[0]
    merged.seeds = [int(s) for s in (seeds or [seed])]
    merged.per_seed_reduction = {m: [r.error_reduction(m) for r in runs] for m in merged.scores}
    if len(runs) > 1:
        merged.scores = {
            m: {
                f: {k: float(np.mean([r.scores[m][f][k] for r in runs])) for k in METRICS}
                for f in merged.facets
            }
            for m in merged.scores
        }
        merged.fit_seconds = {
            m: float(np.mean([r.fit_seconds[m] for r in runs])) for m in merged.fit_seconds
        }
    return merged


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
    n_triplets: int,
    show_progress: bool,
    log: Callable[[str], None] | None,
) -> EvalReport:
    """One seeded guide/held-out split: every method fitted and scored."""
    facets = list(facets)
    instructions = {**INSTRUCTIONS, **(instructions or {})}
    variants = HEAD_VARIANTS if head_variants is None else head_variants
    base = encoder
    cached = CachedEncoder(base, VectorCache(default_cache_dir() / "vectors.sqlite"))
    labels = {f: np.asarray(corpus.facets[f]) for f in corpus.facets}
    stratify = labels[facets[0]]
    idx = np.arange(len(corpus))
    guide, held = train_test_split(
        idx, train_size=guide_fraction, random_state=seed, stratify=stratify
    )
    X = cached.encode(corpus.texts)
    held_labels = {f: v[held] for f, v in labels.items()}
    if len(facets) >= 2:
        triplets = {
            f: sample_triplets(held_labels[f], held_labels[facets[1 - i]], n_triplets, seed)
            for i, f in enumerate(facets[:2])
        }
    else:
        raise ValueError("the protocol needs two facets of the same texts (A and B)")
    report = EvalReport(
        dataset=corpus.name,
        facets=facets[:2],
        guide_fraction=guide_fraction,
        n_guide=len(guide),
        n_held_out=len(held),
        machine=machine_description(),
    )

    def add(method: str, views: dict[str, np.ndarray], seconds: float | None = None) -> None:
        report.scores[method] = {
            f: _score(views[f], f, held_labels, triplets) for f in report.facets
        }
        if seconds is not None:
            report.fit_seconds[method] = seconds
        if log:
            log(f"{method}: " + json.dumps(report.scores[method]))

    add("generic", {f: X[held] for f in report.facets})
    steps = (["prefixed"] if prefixed_baseline else []) + ["probe"] + list(variants)
    for step in tqdm(steps, desc=f"eval methods, seed {seed}", disable=not show_progress):
        if step == "prefixed":
            t0 = time.perf_counter()
            views = {
                f: base.encode([f"{instructions[f]} {corpus.texts[i]}" for i in held])
                for f in report.facets
            }
            add("instruction-prefixed re-encoding", views, time.perf_counter() - t0)
        elif step == "probe":
            t0 = time.perf_counter()
            views = {}
            for f in report.facets:
                probe = LogisticRegression(max_iter=2000).fit(X[guide], labels[f][guide])
                views[f] = probe.predict_proba(X[held])
            add("logistic probe (baseline)", views, time.perf_counter() - t0)
        else:
            t0 = time.perf_counter()
            views = {}
            for f in report.facets:
                head = fit_head(
                    instructions.get(f, f),
                    X[guide],
                    labels[f][guide],
                    encoder=base,
                    seed=seed,
                    **variants[step],
                )
                views[f] = head.transform(X[held])
            add(step, views, time.perf_counter() - t0)
    return report
