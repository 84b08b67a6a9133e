"""A directory of named heads (``<name>.safetensors``), loaded lazily and cached.

A view switch is a dict lookup once a head is loaded. A corrupt or foreign file only
breaks its own view: ``names()`` still lists it, ``get()`` raises ``HeadFileError`` for it,
and ``errors()`` says why, while every other view keeps working.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Any

from gst_integrations.core.errors import GSTError, HeadFileError, UnknownViewError
from gst_integrations.core.heads.head import Head, head_from_file
from gst_integrations.core.heads.persistence import file_identity, read_head, remove_orphans

SUFFIX = ".safetensors"
_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
#: Longest view name: with the suffix and a save's temp-file name it stays under the
#: 255-byte file-name limit of common file systems.
MAX_VIEW_NAME = 200


class InvalidViewNameError(GSTError):
    """A view name that cannot name a head file."""


def _identity(path: Path) -> tuple[int, ...]:
    return file_identity(path.stat())


def check_view_name(name: str) -> str:
    """Return ``name`` if it is a valid view name (letters, digits, ``_ . -``, at most
    ``MAX_VIEW_NAME`` characters)."""
    if not isinstance(name, str) or not _NAME.match(name) or name in (".", ".."):
        raise InvalidViewNameError(
            f"invalid view name {name!r}: use letters, digits, '_', '.' and '-' only"
        )
    if len(name) > MAX_VIEW_NAME:
        raise InvalidViewNameError(
            f"invalid view name {name[:20]!r}... ({len(name)} characters): too long, "
            f"use at most {MAX_VIEW_NAME}"
        )
    return name


class HeadStore:
    """Named heads stored as ``<root>/<name>.safetensors``."""

    def __init__(self, root: str | os.PathLike[str], device: Any = "auto") -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        remove_orphans(self.root)  # temp files of saves that were killed
        self.device = device
        self._cache: dict[str, tuple[tuple[int, ...], Head]] = {}
        self._lock = threading.Lock()

    def path(self, name: str) -> Path:
        return self.root / f"{check_view_name(name)}{SUFFIX}"

    def save(self, name: str, head: Head) -> Path:
        """Write ``head`` under ``name`` (atomic rename) and cache it."""
        path = head.save(self.path(name))
        with self._lock:
            self._cache[name] = (_identity(path), head)
        return path

    def names(self) -> list[str]:
        """Sorted names of every head file in the store, readable or not."""
        return sorted(
            p.name[: -len(SUFFIX)]
            for p in self.root.glob(f"*{SUFFIX}")
            if p.is_file()
            and _NAME.match(p.name[: -len(SUFFIX)])
            and len(p.name) - len(SUFFIX) <= MAX_VIEW_NAME
        )

    def get(self, name: str) -> Head:
        """The head called ``name``; reloaded when its file was replaced since it was cached."""
        path = self.path(name)
        try:
            ident = _identity(path)
        except FileNotFoundError:
            with self._lock:
                self._cache.pop(name, None)
            known = self.names()
            raise UnknownViewError(
                f"unknown view {name!r}; known views: {', '.join(known) if known else '(none)'}"
            ) from None
        with self._lock:
            cached = self._cache.get(name)
        if cached is not None and cached[0] == ident:
            return cached[1]
        try:
            read = read_head(path)  # one handle: the identity is the one of the bytes read
        except HeadFileError as exc:
            if not path.exists():  # removed since the stat above
                raise UnknownViewError(f"unknown view {name!r}: its file was removed") from exc
            raise
        head = head_from_file(read, device=self.device)  # HeadFileError for a bad file
        with self._lock:
            self._cache[name] = (read.identity, head)
        return head

    def cards(self) -> dict[str, dict[str, Any]]:
        """Cards of the readable heads, by name."""
        out: dict[str, dict[str, Any]] = {}
        for name in self.names():
            try:
                out[name] = self.get(name).card
            except (HeadFileError, UnknownViewError):
                continue
        return out

    def errors(self) -> dict[str, str]:
        """Why each unreadable head cannot be loaded, by name."""
        out: dict[str, str] = {}
        for name in self.names():
            try:
                self.get(name)
            except HeadFileError as exc:
                out[name] = str(exc)
            except UnknownViewError:
                continue
        return out

    def remove(self, name: str) -> None:
        """Delete a head file (UnknownViewError when there is none)."""
        path = self.path(name)
        with self._lock:
            self._cache.pop(name, None)
        try:
            path.unlink()
        except FileNotFoundError:
            raise UnknownViewError(f"unknown view {name!r}; nothing to remove") from None

    def __contains__(self, name: object) -> bool:
        try:
            return self.path(name).is_file()  # type: ignore[arg-type]
        except InvalidViewNameError:
            return False

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"HeadStore({str(self.root)!r}, views={self.names()})"
