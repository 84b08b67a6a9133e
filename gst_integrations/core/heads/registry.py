"""The one place a view name becomes a head: a ``HeadStore`` folder or a mapping of heads.

Every retrieval path (the materialised engine, the query-side backend) and both framework
adapters hold a ``HeadRegistry``, so a view is looked up, registered and checked the same
way everywhere, and an unknown name reads the same (with the nearest known name).

Checks that compare a head with its surroundings (the store's vectors, the query encoder,
the query-side path's need for a linear head) run once per view, head object and kind:
a refitted or replaced head is a new object and is checked again. Checked heads are held
by weak reference, so a registry does not keep replaced heads alive.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any

from gst_integrations.core.errors import UnknownViewError, unknown_view
from gst_integrations.core.heads.head import Head, load_head
from gst_integrations.core.heads.store import HeadStore, check_view_name

__all__ = ["HeadRegistry"]


class HeadRegistry:
    """Named heads, from a ``HeadStore`` or a mapping (a ``dict`` is copied)."""

    def __init__(self, heads: Any = None) -> None:
        if isinstance(heads, HeadRegistry):
            heads = heads.backing
        if heads is not None and not isinstance(heads, (HeadStore, Mapping)):
            raise TypeError(
                "heads must be a HeadStore (a folder of heads), a dict of name -> Head or None, "
                f"got {type(heads).__name__}"
            )
        self.backing: HeadStore | dict[str, Head] = (
            heads if isinstance(heads, HeadStore) else dict(heads or {})
        )
        self._checked: dict[tuple[str, str], weakref.ref[Head]] = {}
        self._lock = threading.Lock()

    @classmethod
    def of(cls, heads: Any) -> HeadRegistry:
        """``heads`` itself when it already is a registry, else a new one over it."""
        return heads if isinstance(heads, HeadRegistry) else cls(heads)

    # -- lookup ---------------------------------------------------------------------------
    def names(self) -> list[str]:
        """Sorted names of the registered views (for a store: every head file, readable or not)."""
        if isinstance(self.backing, HeadStore):
            return self.backing.names()
        return sorted(self.backing)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.backing

    def get(self, name: str) -> Head:
        """The head of view ``name``; ``UnknownViewError`` (with the nearest name) otherwise."""
        if not isinstance(name, str):
            raise UnknownViewError(f"view names are strings, got {name!r}")
        if isinstance(self.backing, HeadStore):
            if name not in self.backing:
                raise unknown_view(name, self.names())
            return self.backing.get(name)  # HeadFileError for a bad file: only this view
        try:
            return self.backing[name]
        except KeyError:
            raise unknown_view(name, self.names()) from None

    def resolve(self, head: Head | str | os.PathLike[str] | None) -> Head | None:
        """A ``Head`` from a Head, a registered name, or a head file path (None stays None)."""
        if head is None or isinstance(head, Head):
            return head
        if not isinstance(head, (str, os.PathLike)):
            raise TypeError(f"expected a Head, a view name or a head file path, got {head!r}")
        if isinstance(head, str) and head in self:
            return self.get(head)
        if os.path.exists(head) or os.path.exists(f"{head}.safetensors"):
            return load_head(head)
        if not self.names():
            raise UnknownViewError(
                f"view {str(head)!r} is neither a head file nor a registered view: pass "
                "head_store=HeadStore(folder) (or a dict of heads) to look views up by name"
            )
        raise unknown_view(str(head), self.names())

    # -- changes --------------------------------------------------------------------------
    def register(self, name: str, head: Head) -> None:
        """Add or replace view ``name`` (written to the folder when there is one)."""
        check_view_name(name)
        if not isinstance(head, Head):
            raise TypeError(f"expected a Head for view {name!r}, got {type(head).__name__}")
        if isinstance(self.backing, HeadStore):
            self.backing.save(name, head)
        else:
            self.backing[name] = head

    # -- checks ---------------------------------------------------------------------------
    def checked(self, name: str, kind: str, check: Callable[[Head], Any]) -> Head:
        """The head of ``name``, after ``check(head)`` passed once for this head and kind.

        ``check`` raises when the head cannot serve (a typed error naming the view). It is
        not remembered when it returns False (a check that could not be settled yet, such
        as one against a store that is still empty).
        """
        head = self.get(name)
        key = (name, kind)
        with self._lock:
            ref = self._checked.get(key)
            if ref is not None and ref() is head:
                return head
        if check(head) is not False:
            with self._lock:
                self._checked[key] = weakref.ref(head)
        return head

    def __repr__(self) -> str:
        return f"HeadRegistry(views={self.names()})"
