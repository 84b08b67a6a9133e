"""Stage 4: classify every sampled text into one of the label names.

By likelihood where the LLM exposes token log-probabilities (a local Hugging Face model, see
``likelihood.py``): every text is labelled and only a listed name can come out. Otherwise the
LLM is asked, and its answer is parsed strictly: an answer that is not exactly one listed name
or its number is dropped (and counted). Either way nothing written inside a document can
create a class.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from gst_integrations.core.errors import GSTError
from gst_integrations.core.labels.checks import normalize_name
from gst_integrations.core.labels.context import RunContext
from gst_integrations.core.labels.likelihood import (
    CONTENT_FREE_TEXT,
    TokenScorer,
    calibrate,
    score_text,
)
from gst_integrations.core.labels.prompts import (
    CLASSIFY_PROMPT,
    STAGE_CLASSIFY,
    fence,
    numbered,
    parse_choice,
)


def classify(
    run: RunContext, texts: list[str], names: list[str], scorer: TokenScorer | None
) -> list[int | None]:
    """The index of each text's name: by likelihood with a scorer, else strict parsing."""
    if scorer is not None:
        return _by_likelihood(run, texts, names, scorer)
    prompts = [
        CLASSIFY_PROMPT.format(
            instruction=run.instruction,
            categories=numbered(names),
            text=fence(t, run.options.max_text_chars),
        )
        for t in texts
    ]
    choices = [parse_choice(a, names) for a in run.asker.ask(STAGE_CLASSIFY, prompts)]
    invalid = sum(c is None for c in choices)
    if invalid:
        run.counts.rejections["classify:invalid"] += invalid
    return choices


def _by_likelihood(
    run: RunContext, texts: list[str], names: list[str], scorer: TokenScorer
) -> list[int | None]:
    """Every text labelled with its best-scoring name (only listed names can win)."""
    if len(names) == 1:
        return [0] * len(texts)
    continuations = [" " + n for n in names]

    def score(text: str) -> np.ndarray:
        return score_text(scorer, run.instruction, text, continuations, run.options.score_chars)

    rows = run.asker.map(STAGE_CLASSIFY, [CONTENT_FREE_TEXT, *texts], score)
    prior, scores = rows[0], np.stack(rows[1:])
    run.counts.scores, run.counts.prior_scores = scores, prior
    # Batch calibration needs a batch: one text would always get the first name.
    method = run.options.calibration if len(texts) > 1 else "content_free"
    return [int(i) for i in calibrate(scores, prior, method).argmax(axis=1)]


def merge_names(names: Iterable[str]) -> list[str]:
    """Distinct label names: names equal up to case and punctuation merge (first spelling wins)."""
    seen: dict[str, str] = {}
    for name in names:
        seen.setdefault(normalize_name(name), name)
    return list(seen.values())


def category_names(categories: Any) -> list[str]:
    """The user's category names, stripped, merged up to case and punctuation."""
    if isinstance(categories, (str, bytes)) or not isinstance(categories, Iterable):
        raise GSTError(f"categories must be a list of names, got {type(categories).__name__}")
    names = [str(c).strip() for c in categories]
    merged = merge_names(n for n in names if normalize_name(n))
    if not merged:
        raise GSTError(f"categories holds no usable name: {list(categories)!r}")
    return merged
