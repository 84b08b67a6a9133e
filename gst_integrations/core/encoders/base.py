"""The encoder protocol core relies on, and the shared base of the adapters."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gst_integrations.core.encoders.fingerprint import PROBE_SENTENCES, EncoderFingerprint
from gst_integrations.core.errors import InvalidVectorsError


@runtime_checkable
class BaseEncoder(Protocol):
    """What core needs from an encoder."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Document vectors (the path that fills a store)."""
        ...

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors (asymmetric encoders embed queries differently)."""
        ...

    def fingerprint(self) -> EncoderFingerprint: ...


class EncoderBase(ABC):
    """Shared behaviour: float32 output checks, dimension and fingerprint memo."""

    name: str = "encoder"
    _dim: int | None = None
    _fingerprint: EncoderFingerprint | None = None

    @abstractmethod
    def _encode(self, texts: list[str]) -> Any:
        """Document vectors of a non-empty list of texts, in whatever array form."""

    def _encode_query(self, texts: list[str]) -> Any:
        """Query vectors; the document path unless the model has a query path of its own."""
        return self._encode(texts)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode documents into an (n, d) float32 array."""
        return self._checked(texts, self._encode)

    def encode_query(self, texts: Sequence[str]) -> np.ndarray:
        """Encode queries into an (n, d) float32 array (through the model's query path)."""
        return self._checked(texts, self._encode_query)

    def _checked(self, texts: Sequence[str], fn: Any) -> np.ndarray:
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of texts, not a single string")
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.asarray(fn(texts), dtype=np.float32)
        if out.ndim != 2 or out.shape[0] != len(texts):
            raise InvalidVectorsError(
                f"encoder {self.name!r} returned shape {out.shape} for {len(texts)} texts"
            )
        return out

    @property
    def dim(self) -> int:
        if self._dim is None:
            self._dim = int(np.asarray(self._encode([PROBE_SENTENCES[0]])).shape[1])
        return self._dim

    def fingerprint(self) -> EncoderFingerprint:
        if self._fingerprint is None:
            vecs = self.encode(list(PROBE_SENTENCES))
            qvecs = self.encode_query(list(PROBE_SENTENCES))
            asymmetric = not np.allclose(vecs, qvecs, atol=1e-5)
            self._fingerprint = EncoderFingerprint(
                name=self.name,
                dim=int(vecs.shape[1]),
                probes=_rounded(vecs),
                query_probes=_rounded(qvecs) if asymmetric else (),
            )
        return self._fingerprint

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


def _rounded(vecs: np.ndarray) -> tuple[tuple[float, ...], ...]:
    return tuple(tuple(round(float(v), 6) for v in row) for row in vecs)
