"""How the package talks back: one logger, warnings at the user's line, one progress rule.

* ``logger`` (``logging.getLogger("gst_integrations")``) records events: refreshes,
  failures, fallbacks. Configure it like any library logger.
* ``warn`` issues a package warning (a ``GSTWarning`` subclass from ``core.errors``) whose
  location is the first frame outside this package, so it points at the user's line.
  ``warn_once`` does so once per key and process (``reset_warnings`` forgets the keys).
* ``progress`` is the one progress-bar rule: a bar for work that can take more than about
  two seconds, unless switched off with ``show_progress=False`` or ``GST_PROGRESS=0``.
  ``quiet_weight_loading`` hides transformers' "Loading weights" bar while the package
  loads a model of its own (well under two seconds), leaving the user's own loads alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import threading
import warnings
from collections.abc import Hashable, Iterable, Iterator
from typing import Any, TypeVar

from tqdm.auto import tqdm

from gst_integrations.core.errors import GSTWarning

__all__ = [
    "PROGRESS_ENV",
    "logger",
    "progress",
    "progress_enabled",
    "quiet_weight_loading",
    "reset_warnings",
    "user_stacklevel",
    "warn",
    "warn_once",
]

logger = logging.getLogger("gst_integrations")

#: Environment switch for every progress bar: "0"/"false"/"off" hides them, "1" shows them.
PROGRESS_ENV = "GST_PROGRESS"

_WARNED: set[Hashable] = set()
_WARNED_LOCK = threading.Lock()

T = TypeVar("T")


#: Modules whose frames stand between the user's line and ours (the frameworks calling
#: our retrievers, and the machinery that runs them), skipped when locating a warning.
_PASS_THROUGH = (
    "gst_integrations",
    "langchain",
    "llama_index",
    "pydantic",
    "importlib",
    "concurrent.futures",
    "threading",
    "asyncio",
    "contextvars",
    "functools",
)


def user_stacklevel() -> int:
    """The ``stacklevel`` that points ``warnings.warn`` at the user's line: the first frame
    outside this package and the frameworks that call it."""
    frame = sys._getframe(1)
    level = 1
    while frame is not None:
        module = str(frame.f_globals.get("__name__", ""))
        if not module.startswith(_PASS_THROUGH):
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return level


def warn(message: str, category: type[GSTWarning] = GSTWarning) -> None:
    """Warn at the user's line (the first caller outside gst_integrations), and log it."""
    logger.warning("%s: %s", category.__name__, message)
    warnings.warn(message, category, stacklevel=user_stacklevel())


def warn_once(key: Hashable, message: str, category: type[GSTWarning] = GSTWarning) -> bool:
    """``warn`` once per ``key`` and process; returns whether it warned."""
    with _WARNED_LOCK:
        if key in _WARNED:
            return False
        _WARNED.add(key)
    logger.warning("%s: %s", category.__name__, message)
    warnings.warn(message, category, stacklevel=user_stacklevel())
    return True


def reset_warnings() -> None:
    """Forget which warnings were given (tests, long-lived processes)."""
    with _WARNED_LOCK:
        _WARNED.clear()


def progress_enabled(show: bool | None = None) -> bool:
    """Whether bars are shown: an explicit ``show`` wins, then ``GST_PROGRESS``, then on."""
    if show is not None:
        return bool(show)
    value = os.environ.get(PROGRESS_ENV, "").strip().lower()
    return value not in ("0", "false", "off", "no")


def progress(
    iterable: Iterable[T] | None = None,
    *,
    total: int | None = None,
    desc: str = "",
    unit: str = "it",
    show: bool | None = None,
    min_total: int = 0,
) -> Any:
    """A tqdm bar under the one rule: shown unless switched off, and only for work of at
    least ``min_total`` units (callers set it to what takes about two seconds)."""
    size = total
    if size is None and iterable is not None and hasattr(iterable, "__len__"):
        size = len(iterable)  # type: ignore[arg-type]
    disable = not progress_enabled(show) or (size is not None and size < min_total)
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=disable, leave=False)


@contextlib.contextmanager
def quiet_weight_loading() -> Iterator[None]:
    """Hide transformers' progress bars (its "Loading weights" bar) inside the block only,
    and restore its and huggingface_hub's switches afterwards."""
    try:
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars
        from transformers.utils import logging as hf_logging
    except ImportError:  # no transformers: nothing prints such a bar
        yield
        return
    if not hf_logging.is_progress_bar_enabled():
        yield
        return
    hub_was_disabled = are_progress_bars_disabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.enable_progress_bar()
        if hub_was_disabled:
            disable_progress_bars()
