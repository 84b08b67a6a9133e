"""What searches return: a ranked hit, and a base-index candidate before re-ranking.

Both the materialised views (``core.views``) and the query-side path (``core.search``) speak
these types, so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class SearchHit:
    """One search result; ``view`` is None for the generic base vectors."""

    id: str
    document: str | None
    metadata: dict[str, Any]
    score: float
    view: str | None


@dataclass
class Candidate:
    """A base-index hit: id, document, metadata, and its base vector when the store gives it."""

    id: str
    document: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: np.ndarray | None = None
    score: float | None = None


#: Metadata keys the framework adapters add to every returned document or node.
VIEW_KEY = "gst_view"
SCORE_KEY = "gst_score"
