"""Errors raised by gst-integrations, each naming the problem in its message."""

from __future__ import annotations


class GSTError(ValueError):
    """Base class for every error this package raises on bad input."""


class InvalidVectorsError(GSTError):
    """Vectors are empty, not 2-D, or contain NaN or inf."""


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


class StoreError(GSTError):
    """A vector store is unreachable, empty, or holds no base vectors."""
