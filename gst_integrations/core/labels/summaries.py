"""Stage 1: an instruction-focused summary of each sampled text (at most about 10 words).

An answer that echoes the text, the prompt or its markup, or shares no word with the text,
is retried once with a simpler prompt; when most of the first few texts needed that retry,
the rest go straight to it (a circuit breaker for small models). Texts left without a usable
summary are still classified, but take no part in clustering and naming.
"""

from __future__ import annotations

from gst_integrations.core.feedback import logger
from gst_integrations.core.labels.checks import summary_problem
from gst_integrations.core.labels.context import RunContext
from gst_integrations.core.labels.prompts import (
    ECHO_REASONS,
    STAGE_SUMMARY,
    SUMMARY_PROMPT,
    SUMMARY_RETRY_PROMPT,
    clean_answer,
    fence,
)


def summarise(run: RunContext, texts: list[str]) -> list[str | None]:
    """A usable summary per text, or None: first prompt, check, one simpler retry.

    Circuit breaker: when at least 60% of the first ``breaker_probe`` texts echoed (see
    ``ECHO_REASONS``), the remaining texts go straight to the retry prompt (SmolLM2-135M
    echoed the first prompt nearly always, so this halves its calls).
    """
    counts = run.counts
    probe = min(run.options.breaker_probe, len(texts))
    summaries, failed = _round(run, SUMMARY_PROMPT, texts, list(range(probe)))
    rest = list(range(probe, len(texts)))
    echoed = sum(why in ECHO_REASONS for why in failed.values())
    counts.breaker = probe > 0 and echoed >= 0.6 * probe and bool(rest)
    if counts.breaker:
        logger.info("summaries: %d of the first %d echoed; the rest get the retry prompt",
                    echoed, probe)  # fmt: skip
        retry = [*failed, *rest]
    else:
        more, failed_rest = _round(run, SUMMARY_PROMPT, texts, rest)
        summaries.update(more)
        failed.update(failed_rest)
        retry = list(failed)
    counts.echoes += sum(why in ECHO_REASONS for why in failed.values())
    retried, still = _round(run, SUMMARY_RETRY_PROMPT, texts, sorted(retry))
    summaries.update(retried)
    counts.unsummarised = len(still)
    return [summaries.get(i) for i in range(len(texts))]


def _round(
    run: RunContext, template: str, texts: list[str], positions: list[int]
) -> tuple[dict[int, str], dict[int, str]]:
    """({position: usable summary}, {position: why a check rejected its answer})."""
    if not positions:
        return {}, {}
    opts = run.options
    prompts = [
        template.format(
            instruction=run.instruction,
            max_words=opts.summary_words,
            text=fence(texts[i], opts.max_text_chars),
        )
        for i in positions
    ]
    answers = run.asker.ask(STAGE_SUMMARY, prompts)
    summaries = [clean_answer(a, opts.summary_words) for a in answers]
    problems = [
        summary_problem(summ, texts[i], prompt=prompt, instruction=run.instruction)
        for i, prompt, summ in zip(positions, prompts, summaries, strict=True)
    ]
    _rescue_abstract(run, [texts[i] for i in positions], summaries, problems)
    good: dict[int, str] = {}
    bad: dict[int, str] = {}
    for i, summary, why in zip(positions, summaries, problems, strict=True):
        if why is None:
            good[i] = summary
        else:
            run.counts.rejections[f"summary:{why}"] += 1
            bad[i] = why
    return good, bad


def _rescue_abstract(
    run: RunContext, texts: list[str], summaries: list[str], problems: list[str | None]
) -> None:
    """Accept an "ungrounded" summary (no word shared with its text) whose embedding is
    still close to its text's (cosine >= ``min_summary_similarity``): a strong LLM's
    abstract "Football match result" for "The striker scored twice" is a good summary;
    junk such as "asdf qwerty" is not."""
    flagged = [n for n, why in enumerate(problems) if why == "ungrounded"]
    if not flagged:
        return
    V = run.embed([summaries[n] for n in flagged] + [texts[n] for n in flagged])
    sims = (V[: len(flagged)] * V[len(flagged) :]).sum(axis=1)
    for n, sim in zip(flagged, sims, strict=True):
        if sim >= run.options.min_summary_similarity:
            problems[n] = None
