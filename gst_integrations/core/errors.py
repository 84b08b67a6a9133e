"""Errors raised by gst-integrations, each naming the problem in its message."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class GSTError(ValueError):
    """Base class for every error this package raises on bad input."""


class InvalidVectorsError(GSTError):
    """Vectors are empty, not 2-D, or contain NaN or inf."""


class InvalidTextError(GSTError):
    """A text that cannot be encoded: not a string, or not valid Unicode (a lone surrogate)."""


class DimensionMismatchError(GSTError):
    """Vectors have another dimension than the head or store expects."""


class EncoderMismatchError(GSTError):
    """Vectors or a head come from a different base encoder."""


class InvalidLabelsError(GSTError):
    """Labels do not fit the vectors, or give fewer than two classes."""


class HeadFileError(GSTError):
    """A head file is missing, truncated, corrupt or not a head at all."""


class UnknownViewError(GSTError, KeyError):
    """A view name that is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it readable
        return str(self.args[0]) if self.args else "unknown view"


def unknown_view(name: object, known: Iterable[str]) -> UnknownViewError:
    """The error for a view name that is not registered: the known views, and the nearest."""
    names = sorted(str(n) for n in known)
    close = difflib.get_close_matches(str(name), names, n=1) if isinstance(name, str) else []
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    return UnknownViewError(
        f"unknown view {name!r}{hint}; known views: {', '.join(names) if names else '(none)'}"
    )


class StoreError(GSTError):
    """A vector store is unreachable, empty, or holds no base vectors."""


# -- warnings: something worked, but not the way the user may think -------------------------
class GSTWarning(UserWarning):
    """Base class for every warning this package issues."""


class ViewFallbackWarning(GSTWarning):
    """A view is (or falls back to) the generic vectors, or a blend part was dropped."""


class UnknownEncoderWarning(GSTWarning):
    """Vectors or a head record no base encoder, so only the dimension can be checked."""


class ApproximateSearchWarning(GSTWarning):
    """A search path is approximate where the user may expect it to be exact."""


class StaleDataWarning(GSTWarning):
    """A search served a snapshot because the store could not be read."""


class LabelQualityWarning(GSTWarning):
    """Labels were dropped, merged or are too few to validate."""
