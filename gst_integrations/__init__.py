"""gst-integrations: instruction views over vectors you already stored (GSTransform)."""

from .core import (
    EncoderFingerprint,
    GSTError,
    Head,
    HeadOptions,
    as_encoder,
    default_encoder,
    fit_head,
    load_head,
)

__version__ = "0.1.0"

__all__ = [
    "EncoderFingerprint",
    "GSTError",
    "Head",
    "HeadOptions",
    "__version__",
    "as_encoder",
    "default_encoder",
    "fit_head",
    "load_head",
]
