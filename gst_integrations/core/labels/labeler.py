"""Instruction-focused labels from an LLM: the GSTransform label-construction step.

``LLMLabeler(llm).label(instruction, texts)`` samples up to ``sample_size`` texts (seeded),
then, in **discovery** mode (the paper's recipe), summarises each with respect to the
instruction, clusters the summaries' embeddings with KMeans, names each cluster and
classifies every sampled text into the names; with ``categories=[...]`` it only classifies.
Where each step lives: ``pipeline.py`` (a run), ``summaries.py``, ``naming.py``,
``classify.py`` (the stages), ``prompts.py`` (prompts and strict parsing), ``cache.py`` (the
answer cache), ``calls.py`` (concurrent calls with retries, a per-call timeout and Ctrl-C),
``options.py`` (every option, checked once).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from gst_integrations.core.encoders.base import BaseEncoder
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.labels.likelihood import Calibration, TokenScorer, find_scorer
from gst_integrations.core.labels.llm import LLMFunction, as_llm
from gst_integrations.core.labels.options import LabelerOptions, make_options
from gst_integrations.core.labels.pipeline import run_labeling
from gst_integrations.core.labels.result import LabelingResult
from gst_integrations.core.paths import default_cache_dir

#: Concurrent calls to an LLM served elsewhere (an API); one that runs in this process gets 1.
REMOTE_WORKERS = 8


class LLMLabeler:
    """Label texts for an instruction with an LLM, following the GSTransform recipe.

    ``llm`` is a LangChain chat model, LLM or runnable, a LlamaIndex LLM, a ``str -> str``
    callable, or a :class:`TokenScorer` (log-probabilities only: categories mode only).
    ``encoder`` embeds the summaries for clustering (None: the default offline encoder).
    ``options`` (a :class:`LabelerOptions`) and keyword ``overrides`` set everything else,
    for example ``LLMLabeler(llm, n_clusters=20, timeout=120)``; see :class:`LabelerOptions`.

    Classification scores every name by likelihood where the LLM's type has a registered
    log-prob adapter (local Hugging Face models behind ``ChatHuggingFace``,
    ``HuggingFacePipeline`` or ``HuggingFaceLLM``, once ``gst_integrations.langchain`` or
    ``gst_integrations.llama_index`` is imported), else asks the LLM and parses strictly
    (``scorer="auto"``; a :class:`TokenScorer` forces likelihood, None forces generation).
    Every LLM answer is cached (reduced to what parsing reads), so a rerun is free.
    """

    def __init__(
        self,
        llm: Any,
        encoder: Any = None,
        *,
        options: LabelerOptions | None = None,
        **overrides: Any,
    ) -> None:
        self.options = make_options(options, **overrides)
        opts = self.options
        self.llm: LLMFunction | None = None
        if isinstance(llm, TokenScorer):
            self.scorer: TokenScorer | None = llm
            self.llm_label = opts.llm_name or llm.name
            in_process = True
        else:
            self.llm = as_llm(llm, name=opts.llm_name)
            self.llm_label = self.llm.name
            local = find_scorer(llm)
            self.scorer = local if opts.scorer == "auto" else opts.scorer
            in_process = local is not None
        # A model running in this process gains nothing from concurrent calls on a CPU (they
        # only contend, and each call then needs longer than its timeout); a remote API does.
        self.max_workers = opts.max_workers or (1 if in_process else REMOTE_WORKERS)
        self._encoder_arg = encoder
        self._encoder: BaseEncoder | None = None

    def __repr__(self) -> str:
        return f"LLMLabeler(llm={self.llm_label!r}, method={self.method!r})"

    @property
    def encoder(self) -> BaseEncoder:
        """The summary encoder, loaded on first use (the default model takes seconds)."""
        if self._encoder is None:
            self._encoder = as_encoder(self._encoder_arg)
        return self._encoder

    @property
    def cache_dir(self) -> Path:
        return self.options.cache_dir or default_cache_dir("llm")

    @property
    def cache_path(self) -> Path:
        return self.cache_dir / "answers.sqlite3"

    @property
    def timeout(self) -> float | None:
        """Seconds one LLM call may take before its stage fails (None: no limit)."""
        return self.options.timeout

    @property
    def calibration(self) -> Calibration:
        return self.options.calibration

    @property
    def method(self) -> str:
        """How this labeller classifies: ``likelihood`` or ``generation``."""
        return "likelihood" if self.scorer is not None else "generation"

    def label(
        self, instruction: str, texts: Sequence[str], categories: Sequence[str] | None = None
    ) -> list[str | None]:
        """One label per text (None outside the sample or where the answer was invalid)."""
        return self.label_detailed(instruction, texts, categories).labels

    def label_detailed(
        self, instruction: str, texts: Sequence[str], categories: Sequence[str] | None = None
    ) -> LabelingResult:
        """Run the stages and return labels with summaries, clusters and per-stage counters.

        With ``categories`` the texts are classified into those names directly (no summaries,
        no clustering, no naming). A call that gives no answer within ``timeout`` raises
        ``LLMTimeoutError`` naming the stage; Ctrl-C stops the run.
        """
        return run_labeling(
            instruction,
            texts,
            categories,
            options=self.options,
            llm=self.llm,
            scorer=self.scorer,
            llm_label=self.llm_label,
            encoder=lambda: self.encoder,
            cache_path=self.cache_path,
            workers=self.max_workers,
        )
