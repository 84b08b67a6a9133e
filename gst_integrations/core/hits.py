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
    """One search result; ``view`` names what was scored (None: the generic base vectors).

    ``vector`` is the hit's vector in the view's scoring space when the search was asked
    for it (``with_vectors=True``: MMR re-ranking), else None.
    """

    id: str
    document: str | None
    metadata: dict[str, Any]
    score: float
    view: str | None
    vector: np.ndarray | None = field(default=None, repr=False, compare=False)
    #: The framework object the store returned, on the query-side path (else None).
    payload: Any = field(default=None, repr=False, compare=False)


@dataclass
class Candidate:
    """A base-index hit: id, document, metadata, and its base vector when the store gives it."""

    id: str
    document: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    vector: np.ndarray | None = None
    score: float | None = None
    #: The framework object the store returned (a LangChain Document, a LlamaIndex node).
    payload: Any = field(default=None, repr=False, compare=False)


#: Metadata key of a row's revision (an int that grows with every write of the row): the
#: package's own bookkeeping, never shown in hits.
REV_KEY = "gst_rev"

#: Metadata keys the framework adapters add to every returned document or node.
VIEW_KEY = "gst_view"
SCORE_KEY = "gst_score"
