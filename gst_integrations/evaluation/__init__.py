"""Evaluation, benchmarks, offline datasets and plots: users of the public API.

Nothing in ``gst_integrations``, its stores or its framework adapters imports this package
(an import-linter contract keeps it so). It needs the ``eval`` extra
(``pip install "gst-integrations[eval]"``) for plots and the evaluation corpora.
"""

from gst_integrations.evaluation.metrics import (
    clustering_v_measure,
    precision_at_k,
    sample_triplets,
    sts_spearman,
    triplet_accuracy,
)
from gst_integrations.evaluation.protocol import EvalReport, run_protocol

__all__ = [
    "EvalReport",
    "clustering_v_measure",
    "precision_at_k",
    "run_protocol",
    "sample_triplets",
    "sts_spearman",
    "triplet_accuracy",
]
