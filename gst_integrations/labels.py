"""Public home of the LLM labeler: ``from gst_integrations.labels import LLMLabeler``.

``TransformersScorer`` classifies by likelihood with any local ``transformers`` causal LM;
``load_local_model`` loads SmolLM2-135M-Instruct offline (the optional ``local-llm`` extra).
"""

from gst_integrations.core.labels import (
    LabelingResult,
    LLMLabeler,
    TokenScorer,
    TransformersScorer,
    load_local_model,
)

__all__ = ["LLMLabeler", "LabelingResult", "TokenScorer", "TransformersScorer", "load_local_model"]
