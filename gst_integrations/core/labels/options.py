"""The labeller's options: one pydantic model, checked once, with errors that name the option."""

from __future__ import annotations

import difflib
import math
import numbers
from pathlib import Path
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    ValidationError,
    field_validator,
)

from gst_integrations.core.errors import GSTError
from gst_integrations.core.labels.likelihood import Calibration, TokenScorer

#: Seconds one LLM call may take before its stage fails. Measured with the local
#: SmolLM2-135M-Instruct on a 2-core CPU under a load average of 8-9 (benchmarks/
#: llm_call_seconds.py, docs/bench/llm-call-seconds.json): the slowest call, classifying a
#: long review among 50 listed names, took 19 s (a cluster name 18 s, a summary 11 s, a
#: likelihood score 9 s). 120 s leaves six times that for a loaded machine, a larger local
#: model or a queueing server, and still reports a hung LLM within two minutes.
DEFAULT_TIMEOUT = 120.0


def _whole(value: Any) -> Any:
    """Integers of any kind (numpy's too) as int; bools, floats and strings are refused."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    raise ValueError(f"must be an integer, not {type(value).__name__}")


Whole = Annotated[int, BeforeValidator(_whole)]
Positive = Annotated[Whole, Field(ge=1)]
NonNegative = Annotated[Whole, Field(ge=0)]


class LabelerOptions(BaseModel):
    """How :class:`~gst_integrations.labels.LLMLabeler` samples, asks and checks.

    Sampling and clustering: ``n_clusters`` (KMeans k; the paper's reference code uses 50),
    ``sample_size`` texts drawn with ``seed``. Answers: ``summary_words``, ``name_words``
    (at most this many words), ``names_per_cluster`` summaries shown per side when naming,
    ``max_text_chars`` of a text quoted in a prompt (0: all). Calls: ``max_workers``
    concurrent calls (None: 8, or 1 for a model that runs in this process), ``max_retries``
    after an error with ``retry_delay * 2**i`` s backoff, ``timeout`` seconds per call (None:
    no limit; a call past it fails its stage at once, it is not retried). Cache: ``cache``,
    ``cache_dir`` (None: ``default_cache_dir("llm")``), ``llm_name`` (the cache's name for
    the LLM). Classification: ``scorer`` (``"auto"``, None or a ``TokenScorer``),
    ``calibration``, ``score_chars``. Checks: ``check_names``, ``merge_names``,
    ``min_summary_similarity``, ``breaker_probe``. ``show_progress``: None follows
    ``GST_PROGRESS``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    n_clusters: Positive = 50
    sample_size: Positive = 3000
    seed: Whole = 0
    cache: StrictBool = True
    cache_dir: Path | None = None
    max_workers: Positive | None = None
    max_retries: NonNegative = 3
    retry_delay: Annotated[float, Field(ge=0, allow_inf_nan=False)] = 1.0
    timeout: Annotated[float, Field(gt=0)] | None = DEFAULT_TIMEOUT
    names_per_cluster: Positive = 25
    show_progress: StrictBool | None = None
    summary_words: Positive = 10
    name_words: Positive = 5
    max_text_chars: NonNegative = 4000
    llm_name: str | None = None
    scorer: Any = "auto"
    calibration: Calibration = "batch"
    score_chars: NonNegative = 600
    #: reject LLM cluster names not grounded in their own cluster
    check_names: StrictBool = True
    #: clusters given the same grounded name merge into one class (the paper); False: every
    #: name given to more than one cluster is replaced by keywords
    merge_names: StrictBool = True
    min_summary_similarity: Annotated[float, Field(ge=-1.0, le=1.0)] = 0.2
    breaker_probe: NonNegative = 5

    @field_validator("scorer")
    @classmethod
    def _scorer(cls, value: Any) -> Any:
        if value is None or value == "auto" or isinstance(value, TokenScorer):
            return value
        raise ValueError("must be 'auto', None or a TokenScorer")

    @field_validator("timeout")
    @classmethod
    def _timeout(cls, value: float | None) -> float | None:
        if value is not None and math.isinf(value):
            return None  # inf: no limit
        return value

    @field_validator("cache_dir")
    @classmethod
    def _cache_dir(cls, value: Path | None) -> Path | None:
        return None if value is None else value.expanduser()


def make_options(base: LabelerOptions | None = None, **overrides: Any) -> LabelerOptions:
    """``base`` (or the defaults) with ``overrides``; a ``GSTError`` names each bad option."""
    fields = LabelerOptions.model_fields
    unknown = [k for k in overrides if k not in fields]
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, list(fields), n=1)
            hints.append(f"{key!r}" + (f" (did you mean {close[0]!r}?)" if close else ""))
        raise GSTError(
            f"unknown LLMLabeler option {', '.join(hints)}; options: {', '.join(fields)}"
        )
    values = {k: getattr(base, k) for k in fields} if base is not None else {}
    values.update(overrides)
    try:
        return LabelerOptions(**values)
    except ValidationError as exc:
        problems: dict[str, str] = {}
        for err in exc.errors():
            name = str(err["loc"][0]) if err["loc"] else "options"
            msg = str(err["msg"]).removeprefix("Value error, ")
            problems.setdefault(name, f"{name}: {msg} (got {err['input']!r})")
        raise GSTError(f"bad LLMLabeler option: {'; '.join(problems.values())}") from None
