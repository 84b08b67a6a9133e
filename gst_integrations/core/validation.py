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
