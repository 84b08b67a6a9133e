"""Core engine: heads, training, encoders and views. Imports torch and numpy only."""

from .encoder import (
    BaseEncoder,
    EncoderFingerprint,
    as_encoder,
    default_encoder,
)
from .errors import (
    DimensionMismatchError,
    EncoderMismatchError,
    GSTError,
    HeadFileError,
    InvalidLabelsError,
    InvalidVectorsError,
    StoreError,
    UnknownViewError,
)
from .head import Head, load_head
from .options import HeadOptions
from .train import fit_head

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
