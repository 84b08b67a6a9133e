"""A fitted head: a small module plus its card, applied to cached base vectors.

Its file format lives in ``heads.persistence``.

On disk a head is one safetensors file. Its weights are the tensors; its JSON card
(instruction, label names, encoder fingerprint, options, held-out metrics, creation time,
format version) sits in the safetensors header metadata. One file means one atomic
rename on save, and loading reads JSON and raw tensors only: nothing is unpickled.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from gst_integrations.core.device import resolve_device
from gst_integrations.core.encoders.base import BaseEncoder
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import (
    DimensionMismatchError,
    EncoderMismatchError,
    HeadFileError,
    UnknownEncoderWarning,
)
from gst_integrations.core.feedback import warn
from gst_integrations.core.heads.families import build_head_module, linear_weight
from gst_integrations.core.heads.persistence import HeadFile, read_head, write_head_file
from gst_integrations.core.validation import as_float32_matrix, check_finite


class Head:
    """Maps (m, d) base vectors to (m, z) view vectors for one instruction."""

    def __init__(self, module: torch.nn.Module, card: dict[str, Any], device: Any = "auto"):
        self.card = card
        self._warned_unknown = False  # a head of an unknown encoder warns once
        self.device = resolve_device(device)
        self.module = module.to(self.device).eval()
        for p in self.module.parameters():
            p.requires_grad_(False)

    # -- identity -------------------------------------------------------------------------
    @property
    def instruction(self) -> str:
        return str(self.card["instruction"])

    @property
    def label_names(self) -> list[str]:
        return list(self.card["label_names"])

    @property
    def name(self) -> str:
        return str(self.card.get("name") or "")

    @property
    def family(self) -> str:
        return str(self.card["options"]["family"])

    @property
    def in_dim(self) -> int:
        return int(self.card["in_dim"])

    @property
    def out_dim(self) -> int:
        return int(self.card["out_dim"])

    @property
    def fingerprint(self) -> EncoderFingerprint | None:
        fp = self.card.get("encoder")
        return EncoderFingerprint.from_dict(fp) if fp else None

    @property
    def fell_back(self) -> bool:
        """True when the fit found the facet barely in the base vectors and the view *is*
        the generic vectors (``lda_mix``'s feasibility gate; see the card's ``view_fit``)."""
        return bool((self.card.get("view_fit") or {}).get("fell_back_to_generic", False))

    @property
    def is_linear(self) -> bool:
        """True when the view is x -> Wx, which allows the query-side path."""
        return linear_weight(self.module) is not None

    @property
    def weight(self) -> np.ndarray:
        """W of a linear head, shape (z, d)."""
        W = linear_weight(self.module)
        if W is None:
            raise TypeError(f"head {self.name!r} is a {self.family} head, not a linear one")
        return W.detach().cpu().numpy().astype(np.float32)

    def __repr__(self) -> str:
        return (
            f"Head(name={self.name!r}, instruction={self.instruction!r}, family={self.family}, "
            f"{self.in_dim}->{self.out_dim}, labels={len(self.label_names)}, device={self.device})"
        )

    # -- checks ---------------------------------------------------------------------------
    def check_encoder(
        self, encoder: BaseEncoder | EncoderFingerprint | dict[str, Any] | Any
    ) -> None:
        """Raise EncoderMismatchError unless ``encoder`` is the one this head was fitted on.

        ``encoder`` is a fingerprint (or its dict) or any encoder ``as_encoder`` adapts.
        """
        if isinstance(encoder, dict):
            other = EncoderFingerprint.from_dict(encoder)
        elif isinstance(encoder, EncoderFingerprint):
            other = encoder
        else:
            other = as_encoder(encoder).fingerprint()
        if other.dim != self.in_dim:
            raise EncoderMismatchError(
                f"head {self.name or self.instruction!r} expects {self.in_dim}-d vectors from "
                f"{self._encoder_name()}, but encoder {other.name!r} makes {other.dim}-d vectors"
            )
        mine = self.fingerprint
        if mine is not None:
            mine.require_same(other, what=f"vectors of encoder {other.name!r}")
        elif not self._warned_unknown:
            self._warned_unknown = True
            warn(
                f"head {self.name or self.instruction!r} records no base encoder (fitted with "
                "encoder=None), so it cannot tell whether vectors of "
                f"{other.name!r} are the ones it was fitted on; only the dimension is checked",
                UnknownEncoderWarning,
            )

    def _encoder_name(self) -> str:
        fp = self.fingerprint
        return repr(fp.name) if fp else "an unrecorded encoder"

    # -- inference ------------------------------------------------------------------------
    def to(self, device: Any) -> Head:
        """Move the head to another device (in place) and return it."""
        self.device = resolve_device(device)
        self.module.to(self.device)
        return self

    @torch.inference_mode()
    def transform_tensor(self, X: torch.Tensor, batch_size: int = 65536) -> torch.Tensor:
        """Transform a tensor, keeping the result on this head's device (no copy back)."""
        if X.ndim != 2 or X.shape[0] == 0:
            raise DimensionMismatchError(
                f"expected a non-empty (m, d) tensor, got {tuple(X.shape)}"
            )
        if X.shape[1] != self.in_dim:
            raise DimensionMismatchError(
                f"vectors have dimension {X.shape[1]}, but head {self.name or self.instruction!r} "
                f"expects {self.in_dim} (made by {self._encoder_name()})"
            )
        check_finite(X)
        parts = [
            self.module(X[i : i + batch_size].to(self.device, torch.float32, non_blocking=True))
            for i in range(0, X.shape[0], batch_size)
        ]
        return parts[0] if len(parts) == 1 else torch.cat(parts)

    def transform(
        self,
        X: Any,
        batch_size: int = 65536,
        fingerprint: EncoderFingerprint | dict[str, Any] | None = None,
    ) -> np.ndarray:
        """(m, d) base vectors (numpy or torch) -> (m, z) float32 numpy view vectors.

        Pass ``fingerprint`` (of the encoder that made X) to also check its identity.
        """
        if fingerprint is not None:
            self.check_encoder(fingerprint)
        if isinstance(X, torch.Tensor):
            if X.ndim == 1:
                X = X[None, :]
            return self.transform_tensor(X, batch_size).float().cpu().numpy()
        arr = as_float32_matrix(X, dim=self.in_dim)
        out = np.empty((arr.shape[0], self.out_dim), dtype=np.float32)
        with torch.inference_mode():
            for i in range(0, arr.shape[0], batch_size):
                chunk = torch.from_numpy(arr[i : i + batch_size]).to(self.device)
                out[i : i + batch_size] = self.module(chunk).float().cpu().numpy()
        return out

    def query_matrix(self) -> np.ndarray:
        """WᵀW (d, d): a query q rewritten as WᵀWq scores base vectors x as (Wq)·(Wx)."""
        W = self.weight.astype(np.float64)
        return (W.T @ W).astype(np.float32)

    # -- persistence ----------------------------------------------------------------------
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the head atomically (temp file in the same folder, then rename)."""
        tensors = {k: v.detach().cpu().contiguous() for k, v in self.module.state_dict().items()}
        return write_head_file(path, tensors, self.card)


def load_head(
    path: str | os.PathLike[str], device: Any = "auto", module: torch.nn.Module | None = None
) -> Head:
    """Load a head written by ``Head.save``; every bad file raises HeadFileError.

    ``module`` is an untrained instance of your own module, for heads fitted with
    ``fit_head(..., module=...)``; heads of a named family are rebuilt from the registry.
    """
    return head_from_file(read_head(path), device=device, module=module)


def _shapes(module: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


#: The largest card dimension a family that cannot be built on the meta device may have
#: beyond its file's own tensor shapes (a 4096 x 4096 float32 matrix is 64 MB).
FALLBACK_DIM = 4096
_BUILD_ERRORS = (ValueError, TypeError, RuntimeError, OverflowError, NotImplementedError)


def _card_module(f: HeadFile, dims: tuple[Any, ...]) -> tuple[dict, torch.nn.Module | None]:
    """(parameter shapes of the module the card describes, the module when it had to be
    built for real). Built on torch's ``meta`` device first: no memory, whatever the card
    says. A builder that reads its tensors' values cannot run there; it is built for real
    only once every card dimension is bounded by the file's own tensor shapes (or by
    ``FALLBACK_DIM``, for a hidden size the family may not use)."""
    try:
        with torch.device("meta"):
            return _shapes(build_head_module(*dims)), None
    except (ValueError, TypeError, OverflowError) as exc:
        raise HeadFileError(f"{f.path} has a head card that describes no module: {exc}") from exc
    except (RuntimeError, NotImplementedError):
        pass
    largest = max((max(t.shape, default=0) for t in f.tensors.values()), default=0)
    if max(dims[1:]) > max(largest, FALLBACK_DIM):
        raise HeadFileError(
            f"{f.path} has a head card with dimensions {dims[1:]} larger than any of its "
            f"weights ({largest})"
        )
    try:
        module = build_head_module(*dims)
    except _BUILD_ERRORS as exc:
        raise HeadFileError(f"{f.path} has a head card that describes no module: {exc}") from exc
    return _shapes(module), module


def head_from_file(
    f: HeadFile, device: Any = "auto", module: torch.nn.Module | None = None
) -> Head:
    """The Head of a file read by ``read_head``. The module the card describes is compared
    with the file's tensor shapes before it is built (``_card_module``), so a card cannot
    make the loader allocate more than the file holds."""
    card, path = f.checked, f.path
    family = card.options.family
    if module is None and family == "custom":
        raise HeadFileError(
            f"{path} holds a head trained from your own module: pass an untrained instance "
            "as load_head(path, module=...)"
        )
    dims = (family, card.in_dim, card.out_dim, card.options.hidden_dim)
    if module is None:
        expected, module = _card_module(f, dims)
    else:
        expected = _shapes(module)
    got = {k: tuple(t.shape) for k, t in f.tensors.items()}
    if got != expected:
        diff = sorted(
            f"{k}: card {expected.get(k)}, file {got.get(k)}"
            for k in set(expected) | set(got)
            if expected.get(k) != got.get(k)
        )
        raise HeadFileError(f"{path} weights do not match its card: {'; '.join(diff[:4])}")
    try:
        if module is None:
            module = build_head_module(*dims)  # the shapes are the file's: bounded by its size
        module.load_state_dict(f.tensors, strict=True)
    except _BUILD_ERRORS as exc:
        raise HeadFileError(f"{path} weights do not match its card: {exc}") from exc
    return Head(module, f.card, device=device)
