"""Input checks shared by heads, views and stores: clear errors before any work."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gst_integrations.core.errors import (
    DimensionMismatchError,
    GSTError,
    InvalidTextError,
    InvalidVectorsError,
)

#: The most results one search may ask for. A search returns hits, not a corpus: larger k
#: is a mistake (k=10**9 times the query side's over-fetch overflows a store's request).
MAX_K = 1_000_000


def as_float32_matrix(X: Any, *, name: str = "vectors", dim: int | None = None) -> np.ndarray:
    """Return X as a C-contiguous (n, d) float32 array, or raise naming the problem."""
    if isinstance(X, torch.Tensor):
        X = X.detach().cpu().numpy()
    try:
        arr = np.asarray(X, dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise InvalidVectorsError(f"{name} are not numeric: {exc}") from exc
    if arr.ndim == 1 and arr.size and dim is not None and arr.shape[0] == dim:
        arr = arr[None, :]
    if arr.ndim != 2:
        raise InvalidVectorsError(f"{name} must be a 2-D (n, d) array, got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InvalidVectorsError(f"{name} are empty (shape {arr.shape})")
    if dim is not None and arr.shape[1] != dim:
        raise DimensionMismatchError(
            f"{name} have dimension {arr.shape[1]}, but {dim} was expected "
            "(were they made by another base encoder?)"
        )
    check_finite(arr, name=name)
    return np.ascontiguousarray(arr)


#: A query whose norm lies outside this range is rescaled to unit length before scoring:
#: every view ranks the same under a positive scale (cosine, inner product and blends alike),
#: and float32 scoring of a vector of norm 1e30 overflows (1e-30: underflows) to ties at 0.
SAFE_QUERY_NORM = (1e-6, 1e6)


def check_query_vector(
    vector: Any, *, dim: int | None = None, name: str = "query vector"
) -> np.ndarray:
    """One query vector as (d,) float32, or a typed error saying why it cannot be searched.

    NaN or inf, and an all-zero vector (no direction to rank by), raise
    ``InvalidVectorsError``; a vector of extreme norm is rescaled (``SAFE_QUERY_NORM``),
    in float64 so that its direction survives the cast to float32.
    """
    if isinstance(vector, torch.Tensor):
        vector = vector.detach().cpu().numpy()
    try:
        arr = np.asarray(vector, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise InvalidVectorsError(f"{name} is not numeric: {exc}") from exc
    if arr.ndim == 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 1:
        raise InvalidVectorsError(f"expected one {name} of shape (d,), got shape {arr.shape}")
    if arr.size == 0:
        raise InvalidVectorsError(f"{name} is empty")
    if dim is not None and arr.shape[0] != dim:
        raise DimensionMismatchError(
            f"{name} has dimension {arr.shape[0]}, but {dim} was expected "
            "(was it made by another base encoder?)"
        )
    if not np.isfinite(arr).all():
        raise InvalidVectorsError(f"{name} contains NaN or inf")
    peak = float(np.abs(arr).max())
    if peak == 0.0:
        raise InvalidVectorsError(
            f"{name} is all zeros: it has no direction to rank documents by "
            "(an empty text, or an encoder output that was masked out?)"
        )
    unit = arr / peak
    norm = peak * float(np.linalg.norm(unit))
    if not SAFE_QUERY_NORM[0] <= norm <= SAFE_QUERY_NORM[1]:
        arr = unit / np.linalg.norm(unit)
    return np.ascontiguousarray(arr, dtype=np.float32)


def check_k(k: Any, name: str = "k") -> int:
    """``k`` as a positive int up to ``MAX_K`` (the number of results), or a clear error."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise GSTError(f"{name} must be a positive integer (the number of results), got {k!r}")
    if k > MAX_K:
        raise GSTError(
            f"{name}={k:,} is more results than one search returns: use at most {MAX_K:,} "
            "(read a whole collection through the store itself)"
        )
    return int(k)


def check_text(text: Any, what: str = "text") -> str:
    """``text`` as a str that encodes as UTF-8, or InvalidTextError naming the problem."""
    if not isinstance(text, str):
        raise InvalidTextError(f"{what} must be a string, got {type(text).__name__}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidTextError(
            f"{what} is not valid Unicode: a lone surrogate {text[exc.start]!r} at position "
            f"{exc.start} (text decoded with errors='surrogateescape' or cut mid-character?)"
        ) from None
    return text


def check_finite(arr: np.ndarray | torch.Tensor, *, name: str = "vectors") -> None:
    """Raise if any value is NaN or infinite, saying how many rows are affected."""
    if isinstance(arr, torch.Tensor):
        bad_rows = (~torch.isfinite(arr)).any(dim=1)
        n_bad = int(bad_rows.sum())
        first = int(bad_rows.nonzero()[0, 0]) if n_bad else -1
    else:
        bad = ~np.isfinite(arr).all(axis=1)
        n_bad = int(bad.sum())
        first = int(np.argmax(bad)) if n_bad else -1
    if n_bad:
        raise InvalidVectorsError(
            f"{name} contain NaN or inf in {n_bad} row(s), the first at row {first}"
        )
