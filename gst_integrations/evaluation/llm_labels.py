"""Are LLM labels good enough to fit a view? Held-out comparison in one run.

For each facet (an instruction with gold labels), a seeded sample of ``n_label`` texts is
labelled by the LLM (categories mode: the gold label set named; discovery mode: the paper's
summaries, clusters and names). On the held-out rest, the protocol's metrics compare

* the generic base vectors,
* a head fitted on the LLM's labels of the sample,
* a head fitted on the gold labels of the same sample (the ceiling for those texts),

and the LLM labels are compared with gold: labelled share, distinct labels, accuracy after the
best one-to-one mapping (Hungarian), ARI (unlabelled texts as one extra cluster), and seconds
per text. In likelihood mode the scores are computed once and every calibration is reported.
"""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import train_test_split

from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.heads.training import fit_head
from gst_integrations.core.labels.labeler import LLMLabeler
from gst_integrations.core.labels.likelihood import CALIBRATIONS, calibrate
from gst_integrations.core.paths import default_cache_dir
from gst_integrations.evaluation.datasets.dataset import LabelledCorpus
from gst_integrations.evaluation.metrics import sample_triplets
from gst_integrations.evaluation.protocol import INSTRUCTIONS, METRICS
from gst_integrations.evaluation.protocol import _score as _score_facets

#: Names shown to the LLM where the data's own are cut short or awkward.
READABLE_NAMES = {"Bipolar Disorde": "Bipolar Disorder"}


#: Heads fitted on each set of labels: the package default, and plain LDA (never generic).
HEAD_VARIANTS: dict[str, dict[str, Any]] = {"default": {}, "lda": {"family": "lda"}}


def _score(
    Z: np.ndarray, facet: str, labels: dict[str, np.ndarray], triplets: dict[str, np.ndarray]
) -> dict[str, float]:
    """The protocol's metrics of one facet on held-out vectors, as plain numbers."""
    return {k: v[0] for k, v in _score_facets(Z, labels, triplets)[facet].items()}


def _fit(
    instruction: str, X: np.ndarray, y: list[str], encoder: Any, seed: int, options: dict
) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "falls back to generic": recorded
        return fit_head(instruction, X, y, encoder=encoder, seed=seed, **options)


def _fell_back(head: Any) -> bool:
    return bool((head.card.get("view_fit") or {}).get("fell_back_to_generic", False))


def label_agreement(pred: Sequence[str | None], gold: Sequence[str]) -> dict[str, float]:
    """Labelled share, distinct labels, Hungarian-mapped accuracy and ARI against gold.

    Unlabelled texts count as wrong for accuracy and form one extra cluster for ARI.
    """
    from scipy.optimize import linear_sum_assignment

    n = len(gold)
    labelled = [i for i in range(n) if pred[i] is not None]
    preds = sorted({str(pred[i]) for i in labelled})
    golds = sorted(set(gold))
    table = np.zeros((len(preds), len(golds)))
    for i in labelled:
        table[preds.index(str(pred[i])), golds.index(gold[i])] += 1
    hungarian = 0.0
    if table.size:
        rows, cols = linear_sum_assignment(-table)
        hungarian = float(table[rows, cols].sum()) / n
    ari = adjusted_rand_score(list(gold), ["\0none" if p is None else str(p) for p in pred])
    return {
        "labelled": len(labelled) / n,
        "distinct": float(len(preds)),
        "accuracy_hungarian": hungarian,
        "ari": float(ari),
        "majority_share": max(list(gold).count(g) for g in golds) / n,
    }


@dataclass
class LabelEvalReport:
    """Agreement and held-out view metrics per (facet, mode), with the run's context."""

    dataset: str
    llm: str
    machine: str
    n_label: int
    n_held_out: int
    seed: int
    facets: list[str]
    #: "<facet> / <mode>" -> {"agreement": {...}, "seconds_per_text", "views": {...}, ...}
    runs: dict[str, dict[str, Any]] = field(default_factory=dict)

    def to_markdown(self) -> str:
        lines = [
            f"# LLM labels vs gold labels: {self.dataset}",
            "",
            f"LLM: {self.llm}. Labelled sample: {self.n_label} texts (seed {self.seed}); "
            f"every view metric on the {self.n_held_out} held-out texts. Machine: "
            f"{self.machine}.",
            "",
            "## Label agreement with gold",
            "",
            "| facet / mode | labels | labelled | distinct | acc. (Hungarian) | ARI | "
            "majority share | s/text |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for key, run in self.runs.items():
            for cal, agr in run["agreement"].items():
                lines.append(
                    f"| {key} | {cal} | {agr['labelled']:.2f} | {agr['distinct']:.0f} | "
                    f"{agr['accuracy_hungarian']:.3f} | {agr['ari']:.3f} | "
                    f"{agr['majority_share']:.3f} | {run['seconds_per_text']:.2f} |"
                )
        lines += [
            "",
            "## Held-out view metrics (facet A = the instruction's facet)",
            "",
            "| facet / mode | vectors | " + " | ".join(METRICS) + " |",
            "|---|---|" + "---|" * len(METRICS),
        ]
        for key, run in self.runs.items():
            for method, scores in run["views"].items():
                vals = " | ".join(f"{scores[m]:.3f}" if m in scores else "n/a" for m in METRICS)
                generic = (
                    " (fell back to generic)" if run["fell_back_to_generic"].get(method) else ""
                )
                lines.append(f"| {key} | {method}{generic} | {vals} |")
        notes = [f"- {key}: {run['note']}" for key, run in self.runs.items() if run.get("note")]
        return "\n".join(lines + ([""] + notes if notes else [])) + "\n"

    def to_json(self) -> str:
        return json.dumps(self.__dict__, indent=2, default=float)


def run_label_eval(
    corpus: LabelledCorpus,
    llm: Any,
    facets: Sequence[str] = ("rating", "condition"),
    *,
    modes: Sequence[str] = ("categories",),
    n_label: int = 150,
    seed: int = 0,
    encoder: Any = None,
    instructions: dict[str, str] | None = None,
    machine: str = "",
    head_variants: dict[str, dict[str, Any]] | None = None,
    show_progress: bool | None = None,
    log: Callable[[str], None] | None = None,
) -> LabelEvalReport:
    """Label ``n_label`` seeded texts per facet with ``llm`` and compare views on the rest.

    ``modes``: ``categories`` (the gold label set is named; likelihood when the LLM exposes
    log-probs) and/or ``discovery`` (summaries, clusters, names; k = the gold class count).
    Facet B of the triplets is the other facet of ``facets`` (or the next one of the corpus).
    ``head_variants``: name -> ``fit_head`` options; each is fitted on gold and on LLM labels
    (default: the package default, which falls back to generic vectors where the labels do
    not beat them, and plain LDA, which never does, so label quality shows through).
    """
    variants = HEAD_VARIANTS if head_variants is None else head_variants
    base = as_encoder(encoder)
    cached = CachedEncoder(base, VectorCache(default_cache_dir() / "vectors.sqlite"))
    instructions = {**INSTRUCTIONS, **(instructions or {})}
    idx = np.arange(len(corpus))
    guide, held = train_test_split(
        idx, train_size=n_label, random_state=seed, stratify=corpus.facets[facets[0]]
    )
    X = cached.encode(corpus.texts)
    labels = {f: np.asarray(v) for f, v in corpus.facets.items()}
    held_labels = {f: v[held] for f, v in labels.items()}
    report = LabelEvalReport(
        dataset=corpus.name,
        llm=LLMLabeler(llm, show_progress=False, cache=False).llm_label,
        machine=machine,
        n_label=len(guide),
        n_held_out=len(held),
        seed=seed,
        facets=list(facets),
    )
    guide_texts = [corpus.texts[i] for i in guide]
    for fi, facet in enumerate(facets):
        other = facets[1 - fi] if len(facets) >= 2 else next(f for f in corpus.facets if f != facet)
        triplets = {facet: sample_triplets(held_labels[facet], held_labels[other], 10_000, seed)}
        gold = [str(y) for y in labels[facet][guide]]
        instruction = instructions.get(facet, f"What is the {facet} of this text?")
        views: dict[str, dict[str, float]] = {
            "generic": _score(X[held], facet, held_labels, triplets)
        }
        fell_back: dict[str, bool] = {}
        for variant, options in variants.items():
            head = _fit(instruction, X[guide], gold, base, seed, options)
            views[f"{variant} head on gold labels"] = _score(
                head.transform(X[held]), facet, held_labels, triplets
            )
            fell_back[f"{variant} head on gold labels"] = _fell_back(head)
        for mode in modes:
            key = f"{facet} / {mode}"
            classes = sorted(set(gold))
            labeler = LLMLabeler(
                llm,
                encoder=base,
                n_clusters=len(classes),
                sample_size=len(guide_texts),
                seed=seed,
                cache=False,
                show_progress=show_progress,
            )
            t0 = time.perf_counter()
            categories = [READABLE_NAMES.get(c, c) for c in classes]
            result = labeler.label_detailed(
                instruction, guide_texts, categories if mode == "categories" else None
            )
            seconds = time.perf_counter() - t0
            agreement = {result.method + f" ({labeler.calibration})": label_agreement(
                result.labels, gold
            )}  # fmt: skip
            if result.scores is not None and result.prior_scores is not None:
                for cal in CALIBRATIONS:
                    if cal != labeler.calibration:
                        pick = calibrate(result.scores, result.prior_scores, cal).argmax(1)
                        pred = [result.label_names[int(j)] for j in pick]
                        agreement[f"{result.method} ({cal})"] = label_agreement(pred, gold)
            run: dict[str, Any] = {
                "agreement": agreement,
                "seconds_per_text": seconds / len(guide_texts),
                "label_names": result.label_names,
                "counters": result.counters(),
                "stage_seconds": result.seconds,
                "views": dict(views),
                "fell_back_to_generic": dict(fell_back),
            }
            keep = [i for i, y in enumerate(result.labels) if y is not None]
            llm_labels = [str(result.labels[i]) for i in keep]
            if len(set(llm_labels)) >= 2:
                for variant, options in variants.items():
                    head = _fit(instruction, X[guide][keep], llm_labels, base, seed, options)
                    run["views"][f"{variant} head on LLM labels"] = _score(
                        head.transform(X[held]), facet, held_labels, triplets
                    )
                    run["fell_back_to_generic"][f"{variant} head on LLM labels"] = _fell_back(head)
            else:
                run["note"] = "fewer than 2 distinct LLM labels: no head could be fitted"
            report.runs[key] = run
            if log:
                log(
                    f"{key}: "
                    + json.dumps({"agreement": agreement, "s/text": seconds / len(guide)})
                )
    return report


__all__ = ["LabelEvalReport", "label_agreement", "run_label_eval"]
