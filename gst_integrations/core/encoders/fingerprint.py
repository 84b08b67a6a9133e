"""The fingerprint of a base encoder: name, dimension and the vectors of fixed probe sentences."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from gst_integrations.core.errors import EncoderMismatchError

#: Fixed sentences whose vectors identify an encoder (stored in every head card).
PROBE_SENTENCES: tuple[str, ...] = (
    "The patient felt much better after two weeks on this medication.",
    "Quarterly profits rose sharply on strong overseas sales.",
    "A quiet harbour town at dawn, gulls circling over the boats.",
)


@dataclass(frozen=True)
class EncoderFingerprint:
    """Name, dimension and probe-sentence vectors of a base encoder."""

    name: str
    dim: int
    probes: tuple[tuple[float, ...], ...]
    #: The probe sentences through the query path; empty when it equals the document path.
    query_probes: tuple[tuple[float, ...], ...] = ()

    @property
    def key(self) -> str:
        """A short stable id, used to namespace caches."""
        rounded = np.round(np.asarray(self.probes, dtype=np.float64), 2).tobytes()
        if self.query_probes:
            rounded += np.round(np.asarray(self.query_probes, dtype=np.float64), 2).tobytes()
        digest = hashlib.sha256(self.name.encode() + str(self.dim).encode() + rounded)
        return digest.hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "dim": self.dim,
            "probes": [list(p) for p in self.probes],
        }
        if self.query_probes:
            out["query_probes"] = [list(p) for p in self.query_probes]
        return out

    @property
    def asymmetric(self) -> bool:
        """True when queries are embedded differently from documents."""
        return bool(self.query_probes)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderFingerprint:
        return cls(
            name=str(data["name"]),
            dim=int(data["dim"]),
            probes=tuple(tuple(float(v) for v in p) for p in data.get("probes", [])),
            query_probes=tuple(tuple(float(v) for v in p) for p in data.get("query_probes", [])),
        )

    def mismatch(self, other: EncoderFingerprint, tol: float = 0.98) -> str | None:
        """Why ``other`` is a different encoder, or None when it is the same one.

        Names may differ (one model, two paths); dimension and probe vectors decide.
        """
        if self.dim != other.dim:
            return f"dimension {other.dim} differs from {self.dim}"
        if not self.probes or not other.probes:
            return None if self.name == other.name else f"name {other.name!r} != {self.name!r}"
        a = np.asarray(self.probes, dtype=np.float64)
        b = np.asarray(other.probes, dtype=np.float64)
        if a.shape != b.shape:
            return "probe sets differ"
        cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
        if float(cos.min()) < tol:
            return (
                f"probe-sentence vectors differ (cosine {cos.min():.3f}); "
                f"expected encoder {self.name!r}, got {other.name!r}"
            )
        if self.query_probes and other.query_probes:
            a = np.asarray(self.query_probes, dtype=np.float64)
            b = np.asarray(other.query_probes, dtype=np.float64)
            cos = (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1) + 1e-12)
            if a.shape != b.shape or float(cos.min()) < tol:
                return f"the query paths differ; expected encoder {self.name!r}, got {other.name!r}"
        elif bool(self.query_probes) != bool(other.query_probes):
            return (
                f"encoder {other.name!r} "
                + ("embeds queries like documents" if self.query_probes else "has a query path")
                + f", unlike {self.name!r}"
            )
        return None

    def require_same(self, other: EncoderFingerprint, what: str = "vectors") -> None:
        """Raise EncoderMismatchError when ``other`` is a different encoder."""
        why = self.mismatch(other)
        if why:
            raise EncoderMismatchError(
                f"{what} come from another base encoder than this head was fitted on: {why}"
            )
