"""Core engine: heads, training, encoders and views. Imports torch and numpy only."""

from gst_integrations.core.encoders.base import BaseEncoder
from gst_integrations.core.encoders.coerce import as_encoder
from gst_integrations.core.encoders.default import default_encoder
from gst_integrations.core.encoders.fingerprint import EncoderFingerprint
from gst_integrations.core.errors import (
    DimensionMismatchError,
    EncoderMismatchError,
    GSTError,
    HeadFileError,
    InvalidLabelsError,
    InvalidVectorsError,
    StoreError,
    UnknownViewError,
)
from gst_integrations.core.heads.head import Head, load_head
from gst_integrations.core.heads.options import HeadOptions
from gst_integrations.core.heads.training import fit_head

__all__ = [
    "BaseEncoder",
    "DimensionMismatchError",
    "EncoderFingerprint",
    "EncoderMismatchError",
    "GSTError",
    "Head",
    "HeadFileError",
    "HeadOptions",
    "InvalidLabelsError",
    "InvalidVectorsError",
    "StoreError",
    "UnknownViewError",
    "as_encoder",
    "default_encoder",
    "fit_head",
    "load_head",
]
