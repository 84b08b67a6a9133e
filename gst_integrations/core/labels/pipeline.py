"""One labelling run: a seeded sample, then the stages, then one result.

**Discovery** (the paper's recipe): summaries (``summaries.py``) -> embeddings -> KMeans ->
cluster names (``naming.py``) -> classification into the merged names (``classify.py``).
**Categories** (names given by the user, the paper's ablation without summaries): the
classification stage alone.

The run owns its answer cache connection, its call runner (timeout, retries, Ctrl-C) and its
one progress bar; it logs a summary line through the package logger and gives one
``LabelQualityWarning`` when answers were dropped or names replaced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gst_integrations.core.encoders.base import BaseEncoder
from gst_integrations.core.errors import GSTError, LabelQualityWarning
from gst_integrations.core.feedback import logger, warn
from gst_integrations.core.labels.cache import AnswerCache
from gst_integrations.core.labels.calls import Asker, CallRunner, StageProgress
from gst_integrations.core.labels.classify import category_names, classify, merge_names
from gst_integrations.core.labels.context import RunContext
from gst_integrations.core.labels.likelihood import TokenScorer
from gst_integrations.core.labels.llm import LLMFunction
from gst_integrations.core.labels.naming import cluster_and_name
from gst_integrations.core.labels.options import LabelerOptions
from gst_integrations.core.labels.prompts import STAGE_CLASSIFY, STAGE_NAME, STAGE_SUMMARY
from gst_integrations.core.labels.result import Counts, LabelingResult
from gst_integrations.core.labels.summaries import summarise


def validate_input(instruction: Any, texts: Any) -> tuple[str, list[str]]:
    """Checked instruction and texts, with errors that say what was wrong."""
    if not isinstance(instruction, str) or not instruction.strip():
        raise GSTError(f"instruction must be a non-empty string, got {instruction!r}")
    if isinstance(texts, (str, bytes)) or not isinstance(texts, Iterable):
        raise GSTError(
            f"texts must be a list of strings, got {type(texts).__name__}; "
            "wrap a single text in a list"
        )
    texts = list(texts)
    if not texts:
        raise GSTError("texts is empty: there is nothing to label")
    for i, t in enumerate(texts):
        if not isinstance(t, str):
            raise GSTError(f"texts[{i}] is a {type(t).__name__}, not a string")
    return instruction.strip(), texts


def sample_indices(n: int, size: int, seed: int) -> list[int]:
    """Seeded sample of at most ``size`` of ``range(n)``, in corpus order."""
    if n <= size:
        return list(range(n))
    rng = np.random.default_rng(seed)
    return sorted(int(i) for i in rng.choice(n, size=size, replace=False))


def run_labeling(
    instruction: Any,
    texts: Any,
    categories: Sequence[str] | None,
    *,
    options: LabelerOptions,
    llm: LLMFunction | None,
    scorer: TokenScorer | None,
    llm_label: str,
    encoder: Callable[[], BaseEncoder],
    cache_path: Path,
    workers: int,
) -> LabelingResult:
    """Label ``texts`` for ``instruction``: discovery, or classification into ``categories``."""
    instruction, texts = validate_input(instruction, texts)
    given = None if categories is None else category_names(categories)
    if given is None and llm is None:
        raise GSTError(
            "a TokenScorer can only classify: pass categories=[...], or give the labeller "
            "an LLM that writes text (and scorer=... for likelihood classification)"
        )
    sample = sample_indices(len(texts), options.sample_size, options.seed)
    sampled = [texts[i] for i in sample]
    n, extra = len(sampled), int(scorer is not None)  # likelihood scores one text more
    planned = {STAGE_CLASSIFY: n + extra}
    if given is None:
        planned = {STAGE_SUMMARY: n, STAGE_NAME: 0, **planned}
    counts = Counts()
    cache = AnswerCache(cache_path) if options.cache and llm is not None else None
    runner = CallRunner(
        llm_label,
        workers=workers,
        timeout=options.timeout,
        max_retries=options.max_retries,
        retry_delay=options.retry_delay,
    )
    bar = StageProgress(planned, options.show_progress)
    asker = Asker(llm, runner, cache, instruction, counts, bar)
    run = RunContext(instruction, options, asker, counts, llm_label, encoder)
    summaries: list[str | None] = [None] * n
    cluster_of: list[int | None] = [None] * n
    cluster_names: list[str] = []
    try:
        if given is None:
            with counts.timed("summarise"):
                summaries = summarise(run, sampled)
            with counts.timed("cluster+name"):
                cluster_of, cluster_names = cluster_and_name(run, summaries)
            label_names = merge_names(name for name in cluster_names if name)
        else:
            label_names = given
        with counts.timed("classify"):
            choices = classify(run, sampled, label_names, scorer)
    finally:
        bar.close()
        if cache is not None:
            cache.close()
    result = _assemble(
        texts, sample, summaries, cluster_of, cluster_names, label_names, choices, counts
    )
    result.instruction = instruction
    result.mode = "discovery" if given is None else "categories"
    result.method = "likelihood" if scorer is not None else "generation"
    _report(result, llm_label)
    return result


def _assemble(
    texts: list[str],
    sample: list[int],
    summaries: list[str | None],
    cluster_of: list[int | None],
    cluster_names: list[str],
    label_names: list[str],
    choices: list[int | None],
    counts: Counts,
) -> LabelingResult:
    """The result, aligned with the input texts (None outside the sample)."""
    labels: list[str | None] = [None] * len(texts)
    all_summaries: list[str | None] = [None] * len(texts)
    all_clusters: list[int | None] = [None] * len(texts)
    for pos, idx in enumerate(sample):
        all_summaries[idx] = summaries[pos]
        all_clusters[idx] = cluster_of[pos]
        choice = choices[pos]
        labels[idx] = None if choice is None else label_names[choice]
    return LabelingResult(
        labels=labels,
        label_names=label_names,
        summaries=all_summaries,
        cluster_of=all_clusters,
        n_dropped=sum(c is None for c in choices),
        n_llm_calls=counts.llm_calls,
        n_cache_hits=counts.cache_hits,
        sample_indices=sample,
        cluster_names=cluster_names,
        n_echoes=counts.echoes,
        n_unsummarised=counts.unsummarised,
        n_name_fallbacks=counts.name_fallbacks,
        summary_breaker=counts.breaker,
        rejections=dict(counts.rejections),
        seconds=counts.seconds,
        scores=counts.scores,
        prior_scores=counts.prior_scores,
    )


def _report(result: LabelingResult, llm_label: str) -> None:
    """One log line per run, and one LabelQualityWarning when answers were thrown out."""
    sampled = len(result.sample_indices)
    logger.info(
        "LLM %r labelled %d of %d sampled texts into %d names (%s, %s) in %.1f s: %s",
        llm_label, result.n_labelled, sampled, len(result.label_names), result.mode,
        result.method, sum(result.seconds.values()), result.counters(),
    )  # fmt: skip
    named = [n for n in result.cluster_names if n]
    problems = []
    if result.n_name_fallbacks:
        reasons = {k[5:]: v for k, v in result.rejections.items() if k.startswith("name:")}
        problems.append(
            f"{result.n_name_fallbacks} of {len(named)} cluster names were unusable and "
            f"replaced by keywords ({', '.join(f'{k}: {v}' for k, v in reasons.items())})"
        )
    if result.n_unsummarised:
        problems.append(f"{result.n_unsummarised} of {sampled} texts got no usable summary")
    if result.n_dropped:
        problems.append(
            f"{result.n_dropped} of {sampled} classify answers named no listed category and "
            "were dropped"
        )
    if len(result.label_names) < 2:
        problems.append(f"only one label name ({result.label_names!r}): no view can be fitted")
    if problems:
        warn(
            f"LLM labels for {result.instruction!r}: {'; '.join(problems)} "
            "(LabelingResult.counters() has the details)",
            LabelQualityWarning,
        )
