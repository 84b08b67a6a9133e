"""The head file: one safetensors file, weights as tensors, the JSON card in its header.

Saving writes a temp file in the same folder, fsyncs it and renames it over the target, so
a reader sees the old file or the new one, never a mix. Loading reads the file's bytes once,
from one open handle, and parses header and tensors from that one buffer: a save that
renames a new file in between cannot pair one save's card with another's weights.

Nothing is unpickled, and nothing the card says is allocated before it has been checked:
the card is validated (``HeadCard``), the header's tensor shapes are checked against the
file's size, and the module the card describes is compared with those shapes on torch's
``meta`` device (``head.load_head``). Every way a file can be wrong (truncated, corrupt,
foreign, a card that does not fit its weights, NaN or inf weights) raises ``HeadFileError``.

A save killed mid-write (SIGKILL, power loss) leaves a temp file named after its process;
the next save to that folder removes the temp files of processes that no longer run.
"""

from __future__ import annotations

import json
import os
import re
import struct
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save_file

from gst_integrations.core.errors import HeadFileError

FORMAT_NAME = "gst-head"
FORMAT_VERSION = 1
CARD_KEY = "gst_card"
#: Float dtypes a head's weights may have in its file (safetensors' names).
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
#: A temp file of a dead process older than this is removed even where pids cannot be
#: checked (another host sharing the folder).
ORPHAN_AGE_S = 24 * 3600.0
_TMP = re.compile(r"^\.(?P<target>.+?\.safetensors)\.(?:(?P<pid>\d+)-)?[^.]+\.tmp$")
#: Any card dimension above this cannot be a real head (and would overflow a shape).
MAX_DIM = 1 << 31


class CardOptions(BaseModel):
    """The part of a card's ``options`` that loading needs; other options pass through."""

    model_config = ConfigDict(extra="allow")
    family: str
    hidden_dim: int = Field(default=512, gt=0, lt=MAX_DIM)


class HeadCard(BaseModel):
    """What loading relies on in a head card (the card itself is kept as the JSON dict)."""

    model_config = ConfigDict(extra="allow")
    format_version: int = Field(ge=0)
    instruction: str
    label_names: list[str]
    in_dim: int = Field(gt=0, lt=MAX_DIM)
    out_dim: int = Field(gt=0, lt=MAX_DIM)
    options: CardOptions


@dataclass(frozen=True)
class HeadFile:
    """A head file as read: its path, its identity when read, tensors and the card."""

    path: Path
    identity: tuple[int, ...]
    tensors: dict[str, torch.Tensor]
    card: dict[str, Any]
    checked: HeadCard


def head_path(path: str | os.PathLike[str]) -> Path:
    """``path`` with the ``.safetensors`` suffix."""
    path = Path(path)
    return path if path.suffix == ".safetensors" else path.with_name(path.name + ".safetensors")


def file_identity(st: os.stat_result) -> tuple[int, ...]:
    """What changes when a head file is replaced: inode (saves rename a new file over the
    old), size, and modification and change times in ns (an mtime tick alone is too coarse:
    two saves within one tick would look the same)."""
    return (st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def check_finite_weights(tensors: dict[str, torch.Tensor], where: str) -> None:
    """HeadFileError naming the first tensor that holds NaN or inf."""
    for key, t in tensors.items():
        if t.is_floating_point() and not bool(torch.isfinite(t).all()):
            raise HeadFileError(f"{where}: weight {key!r} contains NaN or inf")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # exists, owned by someone else
        return True
    return True


def remove_orphans(folder: Path, target: str | None = None) -> list[Path]:
    """Remove temp files left by saves that were killed (their process is gone, or the file
    is older than ``ORPHAN_AGE_S``); only those for ``target`` when given."""
    removed = []
    try:
        entries = list(folder.iterdir())
    except OSError:
        return removed
    now = time.time()
    for p in entries:
        m = _TMP.match(p.name)
        if m is None or (target is not None and m["target"] != target):
            continue
        try:
            old = now - p.stat().st_mtime > ORPHAN_AGE_S
        except OSError:
            continue
        if old or (m["pid"] is not None and not _pid_alive(int(m["pid"]))):
            p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def write_head_file(
    path: str | os.PathLike[str], tensors: dict[str, torch.Tensor], card: dict[str, Any]
) -> Path:
    """Write tensors and card atomically; returns the final path. Refuses NaN or inf."""
    path = head_path(path)
    check_finite_weights(tensors, f"refusing to save head {card.get('name') or path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_orphans(path.parent, path.name)
    metadata = {"format": FORMAT_NAME, CARD_KEY: json.dumps(card, sort_keys=True)}
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{os.getpid()}-", suffix=".tmp", dir=path.parent
    )
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


def _parse_header(data: bytes, path: Path) -> tuple[dict[str, str], dict[str, Any]]:
    """(metadata, tensor entries) of a safetensors buffer, checked against its length."""
    if len(data) < 8:
        raise HeadFileError(f"{path} is not a readable head file (corrupt or truncated)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise HeadFileError(
            f"{path} is not a readable head file (corrupt or truncated): its header says "
            f"{n} bytes, the file holds {len(data) - 8}"
        )
    try:
        header = json.loads(data[8 : 8 + n])
    except (ValueError, UnicodeDecodeError) as exc:
        raise HeadFileError(f"{path} is not a readable head file (corrupt header): {exc}") from exc
    if not isinstance(header, dict):
        raise HeadFileError(f"{path} is not a readable head file (corrupt header)")
    metadata = header.pop("__metadata__", None) or {}
    if not isinstance(metadata, dict):
        raise HeadFileError(f"{path} is not a readable head file (corrupt metadata)")
    return metadata, header


def _check_entries(entries: dict[str, Any], body: int, path: Path) -> None:
    """Every tensor is a float tensor whose bytes lie inside the file's data section."""
    for key, entry in entries.items():
        try:
            dtype, shape, (start, end) = entry["dtype"], entry["shape"], entry["data_offsets"]
            bad_shape = not all(isinstance(s, int) and 0 <= s < MAX_DIM for s in shape)
            inside = isinstance(start, int) and isinstance(end, int) and 0 <= start <= end <= body
        except (KeyError, TypeError, ValueError) as exc:
            msg = f"{path} is not a readable head file (corrupt entry {key!r})"
            raise HeadFileError(msg) from exc
        if dtype not in FLOAT_DTYPES:
            raise HeadFileError(f"{path}: weight {key!r} has dtype {dtype}, not a float type")
        if bad_shape or not inside:
            raise HeadFileError(
                f"{path} is not a readable head file (corrupt or truncated): weight {key!r} "
                f"of shape {shape} lies at bytes {start}..{end} of a {body}-byte body"
            )


def read_head(path: str | os.PathLike[str]) -> HeadFile:
    """Read a head file once, from one handle, and check everything but the module shapes."""
    path = Path(path)
    try:
        if not path.exists() and head_path(path).exists():
            path = head_path(path)
        with open(path, "rb") as fh:
            identity = file_identity(os.fstat(fh.fileno()))
            data = fh.read()
    except FileNotFoundError:
        raise HeadFileError(f"no head file at {path}") from None
    except OSError as exc:  # a folder, a name too long, no permission
        raise HeadFileError(f"cannot read a head file at {path}: {exc}") from exc
    metadata, entries = _parse_header(data, path)
    if metadata.get("format") != FORMAT_NAME or CARD_KEY not in metadata:
        raise HeadFileError(f"{path} is a safetensors file but not a gst-integrations head")
    try:
        card = json.loads(metadata[CARD_KEY])
        checked = HeadCard.model_validate(card)
    except (ValueError, TypeError, ValidationError) as exc:
        raise HeadFileError(f"{path} has an unreadable head card: {exc}") from exc
    if checked.format_version > FORMAT_VERSION:
        raise HeadFileError(
            f"{path} uses head format {checked.format_version}; this version of "
            f"gst-integrations reads up to {FORMAT_VERSION}: upgrade the package"
        )
    _check_entries(entries, len(data) - 8 - struct.unpack("<Q", data[:8])[0], path)
    try:  # sizes are checked by safetensors against this one buffer
        tensors = load_tensors(data)
    except (SafetensorError, ValueError, RuntimeError, OverflowError) as exc:
        raise HeadFileError(
            f"{path} is not a readable head file (corrupt or truncated): {exc}"
        ) from exc
    check_finite_weights(tensors, str(path))
    return HeadFile(path, identity, tensors, card, checked)


def read_head_file(
    path: str | os.PathLike[str],
) -> tuple[Path, dict[str, torch.Tensor], dict[str, Any]]:
    """(path, tensors, card) of a head file, or HeadFileError saying what is wrong."""
    f = read_head(path)
    return f.path, f.tensors, f.card
