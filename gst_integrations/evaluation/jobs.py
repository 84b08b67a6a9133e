"""The jobs behind ``gst eval`` and ``gst map --dataset``: pick and subsample a corpus,
prepare its two facets, run the protocol (and the label-budget curve), write the report.

The command line only parses options and prints; everything a script would also want to
run lives here, so ``run_evaluation(...)`` gives the same report as ``gst eval``.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gst_integrations.core.errors import GSTError
from gst_integrations.core.feedback import progress_enabled
from gst_integrations.evaluation.blends import Blend
from gst_integrations.evaluation.budget import BudgetCurve, run_label_budget
from gst_integrations.evaluation.datasets import DATASETS, LabelledCorpus
from gst_integrations.evaluation.protocol import HEAD_VARIANTS, INSTRUCTIONS, run_protocol
from gst_integrations.evaluation.report import EvalReport

__all__ = [
    "EvalRun",
    "check_facets",
    "default_instruction",
    "load_dataset",
    "machine_note",
    "prepare_facets",
    "run_evaluation",
    "stratified_limit",
    "thread_limit",
]

#: A class of facet A needs this many texts for a stratified guide and held-out split.
MIN_CLASS_SIZE = 4


def stratified_limit(labels: Sequence[str], limit: int | None, seed: int) -> list[int]:
    """Indices of a seeded, label-stratified subsample of at most ``limit`` items."""
    n = len(labels)
    if limit is None or limit >= n:
        return list(range(n))
    if limit < 2:
        raise GSTError("--limit must be at least 2")
    from sklearn.model_selection import train_test_split

    idx = list(range(n))
    try:
        keep, _ = train_test_split(idx, train_size=limit, random_state=seed, stratify=labels)
    except ValueError:
        keep, _ = train_test_split(idx, train_size=limit, random_state=seed)
    return sorted(int(i) for i in keep)


def load_dataset(
    name: str, limit: int | None = None, seed: int = 0, facet: str | None = None
) -> LabelledCorpus:
    """A bundled corpus by name, subsampled to ``limit`` texts stratified on ``facet``
    (default: its first facet)."""
    if name not in DATASETS:
        raise GSTError(f"unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}")
    corpus = DATASETS[name]()
    strat = facet if facet in corpus.facets else next(iter(corpus.facets))
    return corpus.subset(stratified_limit(corpus.facets[strat], limit, seed))


def check_facets(corpus: LabelledCorpus, facets: Sequence[str], dataset: str = "") -> None:
    """GSTError naming the corpus's facets when one of ``facets`` is not among them."""
    for f in facets:
        if f not in corpus.facets:
            raise GSTError(
                f"dataset {dataset or corpus.name!r} has no facet {f!r}; facets: "
                f"{', '.join(corpus.facets)}"
            )


def prepare_facets(
    corpus: LabelledCorpus,
    facets: Sequence[str],
    log: Callable[[str], None] = print,
) -> tuple[LabelledCorpus, list[str]]:
    """The corpus and facets (A, B) the protocol can run on.

    With one facet only (e.g. bbc-news), facet B is text length (short/long, median split).
    Texts of facet-A classes with fewer than ``MIN_CLASS_SIZE`` texts are dropped, so every
    class can be split into guide and held-out texts.
    """
    facets = list(facets)
    if len(facets) == 1:
        lengths = [len(t) for t in corpus.texts]
        median = sorted(lengths)[len(lengths) // 2]
        corpus.facets["length"] = ["long" if n >= median else "short" for n in lengths]
        facets.append("length")
        log("note: one facet only; facet B is text length (short/long, median split)")
    counts = Counter(corpus.facets[facets[0]])
    keep = [i for i, y in enumerate(corpus.facets[facets[0]]) if y and counts[y] >= MIN_CLASS_SIZE]
    if len(keep) < len(corpus):
        dropped = len(corpus) - len(keep)
        log(f"note: dropped {dropped} texts of facet-{facets[0]!r} classes with < 4 texts")
        corpus = corpus.subset(keep)
    if len(set(corpus.facets[facets[0]])) < 2:
        raise GSTError(f"facet {facets[0]!r} needs at least two classes with 4+ texts each")
    return corpus, facets


def default_instruction(facet: str) -> str:
    """The protocol's instruction for a facet it knows, else a generic question about it."""
    return INSTRUCTIONS.get(facet, f"What is the {facet} of this text?")


@contextlib.contextmanager
def thread_limit(threads: int | None) -> Iterator[None]:
    """Cap BLAS/OpenMP and torch threads: on a shared CPU, oversubscribed threads made the
    SVD-heavy fits and KMeans 5-10x slower."""
    if not threads:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


@dataclass
class EvalRun:
    """The protocol's report at the main guide fraction, and the label-budget curve if run."""

    report: EvalReport
    curve: BudgetCurve | None = None

    def to_markdown(self) -> str:
        md = self.report.to_markdown()
        return md + ("\n\n" + self.curve.to_markdown() if self.curve else "")

    def write(self, out: str | Path, log: Callable[[str], None] = print) -> list[Path]:
        """Write ``eval-<dataset>.md`` and ``.json`` (and ``-budget.png``) under ``out``."""
        out_dir = Path(out)
        out_dir.mkdir(parents=True, exist_ok=True)
        stem = f"eval-{self.report.dataset}"
        payload = self.report.to_dict()
        written = []
        if self.curve:
            payload["label_budget"] = self.curve.to_dict()
            written.append(self.curve.plot(out_dir / f"{stem}-budget.png"))
            log(f"wrote {out_dir / (stem + '-budget.png')}")
        md, js = out_dir / f"{stem}.md", out_dir / f"{stem}.json"
        md.write_text(self.to_markdown() + "\n", encoding="utf-8")
        js.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        log(f"wrote {md} and {js}")
        return [*written, md, js]


def run_evaluation(
    corpus: LabelledCorpus,
    facets: Sequence[str],
    *,
    guide_fraction: float = 0.3,
    seeds: Sequence[int] = (0,),
    instructions: dict[str, str] | None = None,
    fast: bool = False,
    blends: Sequence[Blend] | None = None,
    budget: Sequence[float] | None = None,
    zero_label: Sequence[str] = (),
    llm: Any = None,
    auto_blend: bool = True,
    threads: int | None = None,
    show_progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> EvalRun:
    """Run the protocol on facets (A, B) of a prepared corpus, and the label-budget curve
    over the ``budget`` guide fractions when given.

    ``fast`` skips the instruction-prefixed re-encoding baseline and the paper's head.
    Facets without an instruction get ``default_instruction``. ``zero_label`` adds views
    fitted with no labels (``evaluation.zero_label``: names, descriptions, llm-descriptions,
    llm-labels; the llm-* ones use ``llm``) at the main guide fraction; the label-budget
    curve then starts from them at 0 labels. ``auto_blend`` scores a blend whose weights
    are chosen on the guide.
    """
    instructions = dict(instructions or {})
    for f in facets:
        instructions.setdefault(f, default_instruction(f))
    variants = HEAD_VARIANTS
    if fast:
        variants = {k: v for k, v in HEAD_VARIANTS.items() if not k.startswith("head: paper")}
    show = progress_enabled(show_progress)
    with thread_limit(threads):
        report = run_protocol(
            corpus,
            list(facets),
            guide_fraction=guide_fraction,
            seeds=list(seeds),
            instructions=instructions,
            head_variants=variants,
            prefixed_baseline=not fast,
            blends=blends,
            auto_blend=auto_blend,
            zero_label=zero_label,
            llm=llm,
            show_progress=show,
        )
        curve = None
        if budget:
            curve = run_label_budget(
                corpus,
                list(facets),
                fractions=list(budget),
                seeds=list(seeds),
                done={guide_fraction: report},
                instructions=instructions,
                blends=blends,
                auto_blend=auto_blend,
                show_progress=show,
                log=log,
            )
    return EvalRun(report, curve)


def machine_note(load_before: Sequence[float], load_after: Sequence[float]) -> str:
    """The machine a measurement ran on, with the load average at its start and end."""
    import torch

    return (
        f"{platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch "
        f"thread(s), shared with other jobs (load average {load_before[0]:.1f} at start, "
        f"{load_after[0]:.1f} at end)"
    )
