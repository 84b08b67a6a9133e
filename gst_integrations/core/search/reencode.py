"""The explicit, approximate fallback of the query-side path: re-encoding candidate texts."""

from __future__ import annotations

import warnings
import weakref
from typing import Any

_WARNED: weakref.WeakSet[Any] = weakref.WeakSet()
_WARNED_IDS: set[int] = set()  # stores that cannot be weakly referenced


def warn_reencode_once(store: Any, source: str) -> None:
    """One warning per store that ``vector_lookup="reencode"`` is approximate.

    ``source`` says which text is re-encoded (``page_content``, a node's embedding text).
    """
    try:
        if store in _WARNED:
            return
        _WARNED.add(store)
    except TypeError:
        if id(store) in _WARNED_IDS:
            return
        _WARNED_IDS.add(id(store))
    warnings.warn(
        f"vector_lookup='reencode': candidate vectors for the {type(store).__name__} are "
        f"re-encoded from {source} with the base encoder, not read from the store. The view "
        "re-rank is approximate if the store embedded anything else (text plus metadata, "
        "other chunks); pass a vector_lookup callable that reads the stored vectors for an "
        "exact re-rank",
        UserWarning,
        stacklevel=4,
    )
