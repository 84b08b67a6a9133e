"""Label construction for an instruction with an LLM (the GSTransform recipe)."""

from gst_integrations.core.labels.labeler import LabelingResult, LLMLabeler

__all__ = ["LLMLabeler", "LabelingResult"]
