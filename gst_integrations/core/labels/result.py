"""What one labelling run produced, and the counters its stages keep while running."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class LabelingResult:
    """Everything one labelling run produced, and what each stage had to reject.

    ``labels``, ``summaries`` and ``cluster_of`` are aligned with the input texts and hold None
    for texts outside the sample; a label is also None when its classify answer was invalid.
    ``cluster_names`` holds each cluster's final name, "" for a cluster of a single text (no
    class: one document must not add one). ``mode`` is ``discovery`` or ``categories``;
    ``method`` is how texts were classified (``likelihood`` or ``generation``).
    ``rejections`` counts every answer that a check threw out, as ``"<stage>:<reason>"``
    (e.g. ``"summary:prefix"``, ``"name:duplicate"``, ``"classify:invalid"``); ``seconds``
    holds the wall-clock time of each stage.
    """

    labels: list[str | None]
    label_names: list[str]
    summaries: list[str | None]
    cluster_of: list[int | None]
    n_dropped: int
    n_llm_calls: int
    n_cache_hits: int
    sample_indices: list[int]
    cluster_names: list[str] = field(default_factory=list)
    instruction: str = ""
    mode: str = "discovery"
    method: str = "generation"
    #: first-prompt summaries that copied the text, the prompt or its markup (all retried)
    n_echoes: int = 0
    #: sampled texts left without a usable summary after the retry
    n_unsummarised: int = 0
    #: clusters whose LLM name was unusable (or repeated) and replaced by c-TF-IDF keywords
    n_name_fallbacks: int = 0
    #: whether the summary circuit breaker skipped the first prompt for most texts
    summary_breaker: bool = False
    rejections: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    #: likelihood mode: (sampled, names) raw mean log-probs, rows in ``sample_indices`` order,
    #: and the (names,) scores of a content-free text (recalibrate with likelihood.calibrate)
    scores: np.ndarray | None = None
    prior_scores: np.ndarray | None = None

    @property
    def n_labelled(self) -> int:
        """How many texts received a label."""
        return sum(label is not None for label in self.labels)

    def counters(self) -> dict[str, Any]:
        """The per-stage counters as one dict (for logs and reports)."""
        return {
            "mode": self.mode,
            "method": self.method,
            "sampled": len(self.sample_indices),
            "labelled": self.n_labelled,
            "dropped": self.n_dropped,
            "echoes": self.n_echoes,
            "unsummarised": self.n_unsummarised,
            "name_fallbacks": self.n_name_fallbacks,
            "summary_breaker": self.summary_breaker,
            "llm_calls": self.n_llm_calls,
            "cache_hits": self.n_cache_hits,
            "rejections": dict(self.rejections),
        }


@dataclass
class Counts:
    """Counters the stages of one labelling run update as they go."""

    llm_calls: int = 0
    cache_hits: int = 0
    echoes: int = 0
    unsummarised: int = 0
    name_fallbacks: int = 0
    breaker: bool = False
    rejections: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    scores: np.ndarray | None = None
    prior_scores: np.ndarray | None = None

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Adds the wall-clock seconds of a ``with`` block to ``seconds[stage]``."""
        start = time.perf_counter()
        try:
            yield
        finally:
            spent = time.perf_counter() - start
            self.seconds[stage] = self.seconds.get(stage, 0.0) + spent
