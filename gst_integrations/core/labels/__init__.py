"""Label construction for an instruction with an LLM (the GSTransform recipe)."""

from gst_integrations.core.labels.labeler import LabelingResult, LLMLabeler
from gst_integrations.core.labels.likelihood import (
    TokenScorer,
    TransformersScorer,
    find_scorer,
    register_scorer_adapter,
)
from gst_integrations.core.labels.local_model import load_local_model

__all__ = [
    "LLMLabeler",
    "LabelingResult",
    "TokenScorer",
    "TransformersScorer",
    "find_scorer",
    "load_local_model",
    "register_scorer_adapter",
]
