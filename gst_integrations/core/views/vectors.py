"""Texts to vectors in a view: base vectors through a cached encoder, then a head."""

from __future__ import annotations

from typing import Any

import numpy as np

from gst_integrations.core.heads.head import Head


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 length (zero rows stay zero), float32."""
    X = np.asarray(X, dtype=np.float32)
    return X / np.maximum(np.linalg.norm(X, axis=-1, keepdims=True), 1e-12)


def view_vectors(
    encoder: Any, head: Head | None, texts: Any, normalize: bool, query: bool = False
) -> np.ndarray:
    """(n, d|z) float32 vectors of ``texts``: base vectors through ``encoder`` (a cached
    encoder, so no text is encoded twice; its query path when ``query``), then ``head``."""
    if isinstance(texts, str):
        raise TypeError("expected a list of texts, not a single string")
    texts = list(texts)
    X = encoder.encode_query(texts) if query else encoder.encode(texts)
    if head is not None and texts:
        X = head.transform(X)
        if normalize:
            X = unit_rows(X)
    return X.astype(np.float32, copy=False)
