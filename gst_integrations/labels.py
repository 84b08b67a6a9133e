"""Public home of the LLM labeler: ``from gst_integrations.labels import LLMLabeler``."""

from gst_integrations.core.labels.labeler import LabelingResult, LLMLabeler

__all__ = ["LLMLabeler", "LabelingResult"]
