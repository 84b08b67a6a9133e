"""Label construction for an instruction with an LLM (the GSTransform recipe)."""

from gst_integrations.core.labels.labeler import LLMLabeler
from gst_integrations.core.labels.likelihood import (
    TokenScorer,
    TransformersScorer,
    find_scorer,
    register_scorer_adapter,
)
from gst_integrations.core.labels.llm import LLMError, LLMTimeoutError, NotAnLLMError
from gst_integrations.core.labels.local_model import load_local_model
from gst_integrations.core.labels.options import DEFAULT_TIMEOUT, LabelerOptions
from gst_integrations.core.labels.result import LabelingResult

__all__ = [
    "DEFAULT_TIMEOUT",
    "LLMError",
    "LLMLabeler",
    "LLMTimeoutError",
    "LabelerOptions",
    "LabelingResult",
    "NotAnLLMError",
    "TokenScorer",
    "TransformersScorer",
    "find_scorer",
    "load_local_model",
    "register_scorer_adapter",
]
