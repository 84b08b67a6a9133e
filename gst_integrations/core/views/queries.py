"""An engine's query side: the cached query encoder, built on first use, and query rows.

A query text is encoded once through a ``CachedEncoder`` (the default offline encoder when
none is given); before the first text is encoded, the encoder is checked once against the
fingerprint the store recorded, so queries are never compared with another encoder's
vectors.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import EncoderMismatchError
from gst_integrations.core.validation import check_query_vector
from gst_integrations.core.views.source import VectorSource

__all__ = ["QueryEncoding"]


class QueryEncoding:
    """Turns query texts or vectors into base query rows for one engine."""

    def __init__(self, source: VectorSource, encoder: Any = None, cache: Any = None) -> None:
        self.source = source
        self._encoder_arg = encoder
        self._cache_arg = cache
        self._encoder: CachedEncoder | None = None
        self._store_checked = False

    @property
    def known(self) -> bool:
        """Whether the query encoder was given or already built (so heads can be checked)."""
        return self._encoder is not None or self._encoder_arg is not None

    @property
    def encoder(self) -> CachedEncoder:
        """The cached query encoder (built on first use)."""
        if self._encoder is None:
            enc = self._encoder_arg
            if isinstance(enc, CachedEncoder):
                self._encoder = enc
            else:
                if enc is None:
                    from gst_integrations.core.encoders.default import default_encoder

                    enc = default_encoder()
                self._encoder = CachedEncoder(enc, cache=self._cache_arg)
        return self._encoder

    def _check_store(self) -> None:
        if self._store_checked:
            return
        info = self.source.fingerprint_info()
        if info:
            why = EncoderFingerprint.from_dict(info).mismatch(self.encoder.fingerprint())
            if why:
                raise EncoderMismatchError(
                    f"the query encoder is not the encoder that made the store's vectors: {why}"
                )
        if info or self.source.dim() is not None:  # empty: check again once filled
            self._store_checked = True

    def row(self, query: str | np.ndarray | torch.Tensor, dim: int | None) -> np.ndarray:
        """The base query row (d,) of a text (encoded) or a vector (checked)."""
        if isinstance(query, str):
            self._check_store()
            encoded = self.encoder.encode_query([query])[0]
            return check_query_vector(encoded, dim=dim, name=f"the encoded query {query[:40]!r}")
        return check_query_vector(query, dim=dim)
