"""Where gst-integrations keeps its caches on disk."""

from __future__ import annotations

import os
from pathlib import Path


def default_cache_dir(*parts: str) -> Path:
    """``$GST_CACHE_DIR`` (``~`` expanded) or ``~/.cache/gst_integrations``, joined with parts."""
    root = os.environ.get("GST_CACHE_DIR")
    base = Path(root).expanduser() if root else Path.home() / ".cache" / "gst_integrations"
    return base.joinpath(*parts)
