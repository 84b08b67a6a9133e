"""Input checks shared by heads, views and stores: clear errors before any work."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gst_integrations.core.errors import DimensionMismatchError, InvalidVectorsError


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
    """``k`` as a positive int (the number of results), or a ValueError saying what is wrong."""
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k <= 0:
        raise ValueError(f"{name} must be a positive integer (the number of results), got {k!r}")
    return int(k)


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
