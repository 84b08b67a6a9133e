"""A local Hugging Face model as a LlamaIndex LLM, and its log-probabilities.

``local_llm()`` wraps SmolLM2-135M-Instruct (or any loaded causal LM) as a ``HuggingFaceLLM``,
offline. Two settings matter: ``completion_to_prompt`` applies the chat template
(``complete()`` otherwise feeds the raw prompt to an instruct model, which then rambles), and
``model_name`` names the model (the default would name a 3B model it is not, in caches too).

Importing this module registers a log-prob adapter for ``HuggingFaceLLM`` (matched by type),
so ``LLMLabeler`` classifies by likelihood with it. ``HuggingFaceLLM`` keeps its model and
tokenizer in private attributes (``_model``, ``_tokenizer``), with no public accessor: the
adapter reads them, in this one place. Optional: needs the ``local-llm`` extra.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from gst_integrations.core.labels.likelihood import (
    TokenScorer,
    TransformersScorer,
    register_scorer_adapter,
)
from gst_integrations.core.labels.local_model import chat_prompt, load_local_model, model_name

MODULE = "llama_index.llms.huggingface"


def local_llm(
    model: Any = None,
    tokenizer: Any = None,
    *,
    max_new_tokens: int = 32,
    num_threads: int | None = 1,
) -> Any:
    """A ``HuggingFaceLLM`` over a local model (default: SmolLM2-135M-Instruct, offline),
    greedy, with the chat template applied to completions."""
    from llama_index.llms.huggingface import HuggingFaceLLM

    if model is None:
        model, tokenizer = load_local_model(num_threads=num_threads)
    elif tokenizer is None:
        raise ValueError("pass the model's tokenizer with the model")
    name = model_name(model)
    return HuggingFaceLLM(
        model=model,
        tokenizer=tokenizer,
        model_name=name,
        tokenizer_name=name,
        max_new_tokens=max_new_tokens,
        context_window=int(getattr(model.config, "max_position_embeddings", 2048)),
        device_map=str(model.device),
        generate_kwargs={"do_sample": False},
        is_chat_model=True,
        completion_to_prompt=partial(chat_prompt, tokenizer),
    )


def huggingface_llm_scorer(llm: Any) -> TokenScorer:
    """Log-probs of the model behind a ``HuggingFaceLLM`` (private attributes, see above)."""
    return TransformersScorer(llm._model, llm._tokenizer, name=llm.model_name)


register_scorer_adapter(MODULE, "HuggingFaceLLM", huggingface_llm_scorer)

__all__ = ["huggingface_llm_scorer", "local_llm"]
