"""Evaluation: the EVAL.md metrics and protocol, usable from code and from ``gst eval``."""

from .metrics import (
    clustering_v_measure,
    precision_at_k,
    sample_triplets,
    sts_spearman,
    triplet_accuracy,
)
from .protocol import EvalReport, run_protocol

__all__ = [
    "EvalReport",
    "clustering_v_measure",
    "precision_at_k",
    "run_protocol",
    "sample_triplets",
    "sts_spearman",
    "triplet_accuracy",
]
