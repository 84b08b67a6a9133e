"""A local Hugging Face model as a LlamaIndex LLM, and its log-probabilities.

``local_llm()`` wraps SmolLM2-135M-Instruct (or any loaded causal LM) as a ``HuggingFaceLLM``,
offline. Two settings matter: ``completion_to_prompt`` applies the chat template
(``complete()`` otherwise feeds the raw prompt to an instruct model, which then rambles), and
``model_name`` names the model (the default would name a 3B model it is not, in caches too).

``LLMLabeler`` reads the log-probabilities of a ``HuggingFaceLLM`` (core matches it by type)
and classifies by likelihood with it. Optional: needs the ``local-llm`` extra.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from gst_integrations.core.labels.local_model import chat_prompt, load_local_model, model_name


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


__all__ = ["local_llm"]
