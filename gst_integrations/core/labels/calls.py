"""LLM calls for one labelling run: concurrent, retried, bounded in time, stoppable.

Calls run on daemon worker threads, never in the caller's thread, because a call cannot be
interrupted: the caller's thread only waits, in short polls, so that

* a call that runs past the per-call ``timeout`` fails its stage at once with an
  :class:`LLMTimeoutError` naming the stage (it is not retried: a model that took that long
  is hung or overloaded, and retrying would multiply the wait);
* Ctrl-C (``KeyboardInterrupt``) stops the run at once;
* a call that never returns cannot keep the process alive: its thread is a daemon, and is
  abandoned.

Any exception from a call is retried with exponential backoff; after the last attempt an
:class:`LLMError` names the LLM and the stage.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

from gst_integrations.core.feedback import logger, progress
from gst_integrations.core.labels.cache import AnswerCache
from gst_integrations.core.labels.llm import LLMError, LLMFunction, LLMTimeoutError
from gst_integrations.core.labels.prompts import STAGE_WORDS, reduce_answer
from gst_integrations.core.labels.result import Counts

T = TypeVar("T")
R = TypeVar("R")

#: How often the waiting thread checks deadlines (and lets Ctrl-C in), in seconds.
POLL_SECONDS = 0.1
#: A run of fewer calls than this gets no progress bar (it takes about two seconds or less).
MIN_BAR_CALLS = 4


def backoff(stop: threading.Event, delay: float) -> bool:
    """Wait ``delay`` seconds before a retry; True when the run was stopped meanwhile."""
    return stop.wait(delay) if delay > 0 else stop.is_set()


def stage_words(stage: str) -> str:
    """``'name' stage (cluster names)``: how messages name a stage."""
    return f"{stage!r} stage ({STAGE_WORDS.get(stage, stage)})"


class CallRunner:
    """Maps a call over items on worker threads, with retries and a per-call timeout."""

    def __init__(
        self,
        label: str,
        *,
        workers: int,
        timeout: float | None,
        max_retries: int,
        retry_delay: float,
    ) -> None:
        self.label = label
        self.workers = workers
        self.timeout = timeout
        self.max_retries = max_retries
        self.retry_delay = retry_delay

    def map(
        self,
        stage: str,
        items: Sequence[T],
        call: Callable[[T], R],
        on_result: Callable[[int, R], None] | None = None,
    ) -> list[R]:
        """``[call(x) for x in items]``, concurrently; ``on_result(i, value)`` runs in the
        caller's thread as each call returns (to cache answers as they come)."""
        if not items:
            return []
        todo: queue.SimpleQueue[int] = queue.SimpleQueue()
        for i in range(len(items)):
            todo.put(i)
        done: queue.SimpleQueue[tuple[int, bool, Any]] = queue.SimpleQueue()
        started: dict[int, float] = {}  # item -> when its current attempt began
        lock = threading.Lock()
        stop = threading.Event()

        def work() -> None:
            while not stop.is_set():
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                try:
                    value = self._attempts(stage, partial(call, items[i]), i, started, lock, stop)
                    done.put((i, True, value))
                except BaseException as exc:  # handed to the waiting thread, which raises it
                    done.put((i, False, exc))

        for k in range(min(self.workers, len(items))):
            name = f"gst-labels-{stage}-{k}"
            threading.Thread(target=work, name=name, daemon=True).start()
        results: list[Any] = [None] * len(items)
        try:
            for _ in range(len(items)):
                i, ok, value = self._next(stage, done, started, lock)
                if not ok:
                    raise value
                results[i] = value
                if on_result is not None:
                    on_result(i, value)
        finally:
            stop.set()  # on any exit: workers take no new item; a hung one is abandoned
        return results

    def _next(
        self,
        stage: str,
        done: queue.SimpleQueue[tuple[int, bool, Any]],
        started: dict[int, float],
        lock: threading.Lock,
    ) -> tuple[int, bool, Any]:
        """The next finished call, waiting in short polls; raises on an overdue call."""
        while True:
            try:
                return done.get(timeout=POLL_SECONDS)
            except queue.Empty:
                pass
            if self.timeout is None:
                continue
            with lock:
                oldest = min(started.values(), default=None)
            if oldest is not None and time.monotonic() - oldest > self.timeout:
                raise LLMTimeoutError(
                    f"LLM {self.label!r} at the {stage_words(stage)}: no answer within "
                    f"{self.timeout:g} s. The model is hung or overloaded; check that it is "
                    "running, or give a slow model more time with LLMLabeler(llm, timeout=...)"
                )

    def _attempts(
        self,
        stage: str,
        call: Callable[[], R],
        item: int,
        started: dict[int, float],
        lock: threading.Lock,
        stop: threading.Event,
    ) -> R:
        """``call()``, retried with exponential backoff on any exception; then an LLMError."""
        attempts = self.max_retries + 1
        for attempt in range(attempts):
            with lock:
                started[item] = time.monotonic()
            try:
                return call()
            except Exception as exc:  # any provider error (rate limit, timeout) is retried
                if attempt + 1 >= attempts:
                    raise LLMError(
                        f"LLM {self.label!r} failed at the {stage_words(stage)} after "
                        f"{attempts} attempt(s): {type(exc).__name__}: {exc}"
                    ) from exc
                delay = self.retry_delay * (2**attempt)
                logger.warning(
                    "LLM call failed at the %s (%s: %s); retry %d/%d in %.2fs",
                    stage_words(stage), type(exc).__name__, exc, attempt + 1,
                    self.max_retries, delay,
                )  # fmt: skip
            finally:
                with lock:
                    started.pop(item, None)
            if backoff(stop, delay):
                raise LLMError(f"stopped at the {stage_words(stage)}")
        raise AssertionError("unreachable")  # pragma: no cover


class StageProgress:
    """The one progress bar of a labelling run. Its total starts as the calls planned per
    stage and grows when a stage turns out to need more (retries, cluster names)."""

    def __init__(self, planned: dict[str, int], show: bool | None) -> None:
        self.planned = dict(planned)
        self.used: Counter[str] = Counter()
        self.bar = progress(
            total=sum(self.planned.values()),
            desc="label",
            unit="call",
            show=show,
            min_total=MIN_BAR_CALLS,
        )

    def begin(self, stage: str, calls: int) -> None:
        """A stage is about to make ``calls`` more calls."""
        self.used[stage] += calls
        self.planned[stage] = max(self.planned.get(stage, 0), self.used[stage])
        self.bar.total = sum(self.planned.values())
        self.bar.set_description(f"label: {STAGE_WORDS.get(stage, stage)}", refresh=False)
        self.bar.refresh()

    def advance(self, n: int = 1) -> None:
        self.bar.update(n)

    def close(self) -> None:
        self.bar.close()


class Asker:
    """Answers one run's prompts: from the cache where it has them, else from the LLM."""

    def __init__(
        self,
        llm: LLMFunction | None,
        runner: CallRunner,
        cache: AnswerCache | None,
        instruction: str,
        counts: Counts,
        bar: StageProgress,
    ) -> None:
        self.llm = llm
        self.runner = runner
        self.cache = cache
        self.instruction = instruction
        self.counts = counts
        self.bar = bar

    def ask(self, stage: str, prompts: list[str]) -> list[str]:
        """The answer to each prompt (each distinct prompt asked once)."""
        llm = self.llm
        assert llm is not None
        unique = list(dict.fromkeys(prompts))
        answers: dict[str, str] = {}
        for p in unique:
            hit = self.cache.get(stage, llm.name, self.instruction, p) if self.cache else None
            if hit is not None:
                answers[p] = hit
        missing = [p for p in unique if p not in answers]
        self.counts.cache_hits += len(answers)
        self.bar.begin(stage, len(unique))
        self.bar.advance(len(answers))

        def keep(i: int, answer: str) -> None:
            answer = reduce_answer(answer)  # all that parsing reads (and the cache keeps)
            answers[missing[i]] = answer
            self.counts.llm_calls += 1
            if self.cache is not None:  # cache as we go: an interrupted run keeps its work
                self.cache.put(stage, llm.name, self.instruction, missing[i], answer)
            self.bar.advance()

        self.runner.map(stage, missing, llm, on_result=keep)
        return [answers[p] for p in prompts]

    def map(self, stage: str, items: Sequence[T], call: Callable[[T], R]) -> list[R]:
        """Uncached calls (likelihood scoring) under the same timeout, retries and bar."""
        self.bar.begin(stage, len(items))
        return self.runner.map(stage, items, call, on_result=lambda i, v: self.bar.advance())
