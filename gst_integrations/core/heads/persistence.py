"""The head file: one safetensors file, weights as tensors, the JSON card in its header.

One file means one atomic rename on save (temp file in the same folder, fsync, rename), and
loading reads JSON and raw tensors only: nothing is unpickled. A truncated, corrupt or
foreign file raises ``HeadFileError``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from gst_integrations.core.errors import HeadFileError

FORMAT_NAME = "gst-head"
FORMAT_VERSION = 1
CARD_KEY = "gst_card"


def head_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with the ``.safetensors`` suffix."""
    path = Path(path)
    return path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")


def write_head_file(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], card: dict[str, Any]
) -> Path:
    """Write tensors and card atomically; returns the final path."""
    path = head_path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    metadata = {"format": FORMAT_NAME, CARD_KEY: json.dumps(card, sort_keys=True)}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata=metadata)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_head_file(
    path: str | os.PathLike[str],
) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
    """(path, tensors, card) of a head file, or HeadFileError saying what is wrong."""
    path = Path(path)
    if not path.exists() and head_path(path).exists():
        path = head_path(path)
    if not path.is_file():
        raise HeadFileError(f"no head file at {path}")
    try:
        with safe_open(str(path), framework="pt", device="cpu") as fh:
            metadata = fh.metadata() or {}
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise HeadFileError(
            f"{path} is not a readable head file (corrupt or truncated): {exc}"
        ) from exc
    if metadata.get("format") != FORMAT_NAME or CARD_KEY not in metadata:
        raise HeadFileError(f"{path} is a safetensors file but not a gst-integrations head")
    try:
        card = json.loads(metadata[CARD_KEY])
        version = int(card["format_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise HeadFileError(f"{path} has an unreadable head card: {exc}") from exc
    if version > FORMAT_VERSION:
        raise HeadFileError(
            f"{path} uses head format {version}; this version of gst-integrations reads "
            f"up to {FORMAT_VERSION}: upgrade the package"
        )
    return path, tensors, card
