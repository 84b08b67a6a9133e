"""Public home of the LLM labeler: ``from gst_integrations.labels import LLMLabeler``."""

from .core.labeler import LabelingResult, LLMLabeler

__all__ = ["LLMLabeler", "LabelingResult"]
