"""Public home of the LLM labeler: ``from gst_integrations.labels import LLMLabeler``.

``LLMLabeler(llm, **options).label(instruction, texts)``; every option is a field of
``LabelerOptions`` (e.g. ``timeout``, seconds one LLM call may take before its stage fails
with ``LLMTimeoutError``). ``TransformersScorer`` classifies by likelihood with any local
``transformers`` causal LM; ``load_local_model`` loads SmolLM2-135M-Instruct offline (the
optional ``local-llm`` extra).
"""

from gst_integrations.core.labels import (
    DEFAULT_TIMEOUT,
    LabelerOptions,
    LabelingResult,
    LLMError,
    LLMLabeler,
    LLMTimeoutError,
    NotAnLLMError,
    TokenScorer,
    TransformersScorer,
    load_local_model,
)

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
    "load_local_model",
]
