"""What every stage of one labelling run reads: instruction, options, encoder, asker, counters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from gst_integrations.core.encoders.base import BaseEncoder
from gst_integrations.core.labels.calls import Asker
from gst_integrations.core.labels.options import LabelerOptions
from gst_integrations.core.labels.result import Counts


def unit_rows(X: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (zero rows stay zero)."""
    return X / np.maximum(np.linalg.norm(X, axis=1, keepdims=True), 1e-12)


@dataclass
class RunContext:
    """One labelling run's shared state; the encoder is loaded only when a stage embeds."""

    instruction: str
    options: LabelerOptions
    asker: Asker
    counts: Counts
    llm_label: str
    encoder: Callable[[], BaseEncoder]

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length float64 embeddings of ``texts`` by the summary encoder."""
        return unit_rows(np.asarray(self.encoder().encode(texts), dtype=np.float64))
