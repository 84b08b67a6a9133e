"""A local Hugging Face model as a LangChain chat model, and its log-probabilities.

``local_chat_model()`` wraps SmolLM2-135M-Instruct (or any loaded causal LM) as a
``ChatHuggingFace`` over a local text-generation pipeline, offline. The pipeline is built with
``return_full_text=False``: without it ``HuggingFacePipeline`` returns the prompt plus the
answer, and every answer starts with the chat template (the cause of the labeller's 0/40).

``LLMLabeler`` reads the log-probabilities of such a model (core matches ``ChatHuggingFace``
and ``HuggingFacePipeline`` by type) and classifies by likelihood.
Optional: needs the ``local-llm`` extra; transformers is imported only by the builder.
"""

from __future__ import annotations

from typing import Any

from gst_integrations.core.labels.local_model import load_local_model, model_name


def local_chat_model(
    model: Any = None,
    tokenizer: Any = None,
    *,
    max_new_tokens: int = 32,
    num_threads: int | None = 1,
) -> Any:
    """A ``ChatHuggingFace`` over a local model (default: SmolLM2-135M-Instruct, offline).

    Greedy decoding; ``num_threads`` is passed to ``load_local_model`` (1 is fastest on a
    small shared CPU). Nothing is downloaded: the tokenizer is passed in, so
    ``ChatHuggingFace`` does not look the model up on the Hub.
    """
    import transformers
    from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline

    if model is None:
        model, tokenizer = load_local_model(num_threads=num_threads)
    elif tokenizer is None:
        raise ValueError("pass the model's tokenizer with the model")
    name = model_name(model)
    pipe = transformers.pipeline(
        "text-generation",
        model=model,
        tokenizer=tokenizer,
        max_new_tokens=max_new_tokens,
        do_sample=False,
        return_full_text=False,
    )
    llm = HuggingFacePipeline(pipeline=pipe, model_id=name)
    return ChatHuggingFace(llm=llm, tokenizer=tokenizer, model_id=name)


__all__ = ["local_chat_model"]
