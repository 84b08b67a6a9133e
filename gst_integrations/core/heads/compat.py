"""Whether a head can serve a view: over a store's vectors, for a query encoder, query-side.

Every place that puts a head in front of vectors (the view engine, both framework adapters,
the view embeddings) asks these, so a mismatch always reads the same and names the view.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gst_integrations.core.errors import DimensionMismatchError, EncoderMismatchError, GSTError
from gst_integrations.core.heads.head import Head


def check_store(head: Head, view: str, dim: int | None, fingerprint: dict[str, Any] | None) -> None:
    """Raise unless ``head`` reads vectors of ``dim`` made by the recorded encoder."""
    if dim is not None and dim != head.in_dim:
        raise DimensionMismatchError(
            f"view {view!r} expects {head.in_dim}-d base vectors, but the store holds "
            f"{dim}-d vectors (made by another base encoder?)"
        )
    if fingerprint:
        try:
            head.check_encoder(fingerprint)
        except EncoderMismatchError as exc:
            raise EncoderMismatchError(f"view {view!r} cannot read this store: {exc}") from None


def check_query_encoder(head: Head, view: str | None, encoder: Any) -> None:
    """Raise unless queries encoded by ``encoder`` fit ``head``."""
    try:
        head.check_encoder(encoder)
    except EncoderMismatchError as exc:
        name = f"view {view!r}" if view else "the head"
        raise EncoderMismatchError(f"{name} does not fit the query encoder: {exc}") from None


def check_query_side(head: Head, view: str, where: str = "an arbitrary vector store") -> None:
    """Raise unless ``head`` is linear with a finite WᵀW, as the query-side path needs."""
    if not head.is_linear:
        raise GSTError(
            f"view {view!r} has a {head.family} head; the query-side path over {where} needs a "
            "linear head: fit the view with a linear family ('lda' or 'linear'), or "
            "materialise it over Chroma (GSTRetriever.from_chroma / from_index)"
        )
    if not np.isfinite(head.query_matrix()).all():
        raise GSTError(
            f"view {view!r}: the head's WᵀW overflows float32, so its query cannot be "
            "rewritten for the base index; refit it, or materialise the view over Chroma"
        )
