"""Resolving a view to a head: a ``Head``, a registered name or a head file path.

Both the LangChain and the LlamaIndex adapters accept a view as a ``Head``, a registered
name (looked up in a ``HeadStore`` or a plain dict of heads) or a head file path; keeping
that resolution here means both give the same errors.
"""

from __future__ import annotations

import os
from typing import Any

from gst_integrations.core.errors import UnknownViewError
from gst_integrations.core.heads.head import Head, load_head


def view_names(head_store: Any) -> list[str]:
    """Sorted names registered in a HeadStore (``.names()``) or a dict of heads."""
    if head_store is None:
        return []
    names = head_store.names() if hasattr(head_store, "names") else list(head_store)
    return sorted(str(n) for n in names)


def unknown_view(name: str, head_store: Any = None) -> UnknownViewError:
    """The error for a view name that is not registered, listing those that are."""
    return UnknownViewError(f"unknown view {name!r}; registered views: {view_names(head_store)}")


def resolve_head(head: Any, head_store: Any = None) -> Head | None:
    """A Head from a Head, a registered name (looked up in ``head_store``) or a file path."""
    if head is None or isinstance(head, Head):
        return head
    if not isinstance(head, (str, os.PathLike)):
        raise TypeError(f"expected a Head, a view name or a head file path, got {type(head)!r}")
    if head_store is not None:
        getter = head_store.get if hasattr(head_store, "get") else head_store.__getitem__
        try:
            found = getter(str(head))
        except KeyError as exc:  # UnknownViewError is a KeyError too
            raise unknown_view(str(head), head_store) from exc
        if found is None:
            raise unknown_view(str(head), head_store)
        return found
    if os.path.exists(head) or os.path.exists(f"{head}.safetensors"):
        return load_head(head)
    raise UnknownViewError(
        f"view {str(head)!r} is neither a head file nor resolvable without a head_store; "
        "pass head_store=HeadStore(...) (or a dict of heads) to look views up by name"
    )


__all__ = ["resolve_head", "unknown_view", "view_names"]
