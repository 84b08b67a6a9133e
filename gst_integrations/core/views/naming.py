"""Names and descriptions of views as agent tools, shared by both framework adapters."""

from __future__ import annotations

import re

from gst_integrations.core.heads.head import Head

_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")
MAX_LABELS_SHOWN = 12


def tool_name(view: str, prefix: str = "search_by_", suffix: str = "") -> str:
    """A tool name valid for every major provider (``^[A-Za-z0-9_-]{1,64}$``)."""
    slug = _UNSAFE.sub("_", f"{prefix}{view}{suffix}").strip("_")
    return (slug or "search")[:64]


def label_examples(head: Head, max_labels: int = MAX_LABELS_SHOWN) -> str:
    """The head's label names, at most ``max_labels`` of them, comma-separated."""
    labels = head.label_names
    return ", ".join(labels[:max_labels]) + (", ..." if len(labels) > max_labels else "")
