"""The options of a ``ViewEngine``, validated in one place."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["EngineOptions", "split_engine_options"]


class EngineOptions(BaseModel):
    """How an engine holds and refreshes a store's rows (every field has a safe default)."""

    model_config = ConfigDict(arbitrary_types_allowed=True, extra="forbid", frozen=True)

    device: Any = "auto"
    """"auto" (CUDA when available), "cpu", "cuda", or a torch device."""
    metric: Literal["cosine", "ip"] = "cosine"
    """How views score: cosine of view vectors (what heads are trained for) or inner product."""
    page_size: int = Field(1000, ge=1)
    """Rows per store read."""
    max_staleness: float = Field(60.0, ge=0)
    """Seconds a search may serve rows older than the store (0: refresh before every search)."""
    reconcile_every: float | None = Field(None, ge=0)
    """Seconds between full reconciliations with a store that keeps no change feed (None:
    bounded by the reconciliation's measured cost, see ``core.views.freshness``)."""
    max_snapshot_age: float = Field(300.0, ge=0)
    """After a failed refresh, the last snapshot is served only while it is at most this
    many seconds old; then searches raise ``StaleSnapshotError``."""
    dtype: torch.dtype = torch.float32
    """Storage type of the base matrix and views (float16/bfloat16 halve the memory)."""
    keep_base: bool = True
    """Hold the base matrix (a view switch is a matmul); False reads the store per new view."""
    catalogue: Literal["memory", "store"] = "memory"
    """Where documents, metadata and filters live: in memory, or read from the store."""
    show_progress: bool | None = None
    """Progress bar for the first store read (None: the package rule, ``GST_PROGRESS``)."""
    ann: Literal["auto", "on", "off"] = "auto"
    """Approximate search (``core.views.sketch``): the base query's dot product with every
    row estimated from an int8 sketch, the best ``ann_candidates`` rows re-scored exactly.
    "auto": on the CPU once the store holds ``ann_min_rows`` rows; "on": always; "off":
    every search scans the full base matrix."""
    ann_min_rows: int = Field(100_000, ge=0)
    """Rows from which "auto" builds the sketch and uses it (exact below: an exact query over
    100k rows takes about 17 ms on a 2-core CPU, over 1M about 170 ms; docs/bench)."""
    ann_candidates: int = Field(200, ge=1)
    """Rows re-scored exactly per search (recall against speed)."""
    ann_dims: int = Field(192, ge=1)
    """Dimensions of the sketch: bytes per row (192: recall@10 1.000 at 1M rows, docs/bench)."""


def split_engine_options(
    engine_options: EngineOptions | Mapping[str, Any] | None, kwargs: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(engine options, the rest) for a framework factory's ``engine_options=`` and kwargs.

    Engine options given as plain keyword arguments (the older spelling) still work, with a
    ``DeprecationWarning``: factories take them as ``engine_options={...}``, and their
    other keyword arguments are the framework retriever's own fields.
    """
    if isinstance(engine_options, EngineOptions):
        options = engine_options.model_dump(exclude_unset=True)
    else:
        options = dict(engine_options or {})
    legacy = {k: v for k, v in kwargs.items() if k in EngineOptions.model_fields}
    if legacy:
        warnings.warn(
            f"engine options as keyword arguments ({', '.join(sorted(legacy))}) are "
            "deprecated: pass engine_options={...}",
            DeprecationWarning,
            stacklevel=3,
        )
        options.update(legacy)
    EngineOptions(**options)  # validate now, with the factory's error
    return options, {k: v for k, v in kwargs.items() if k not in legacy}
