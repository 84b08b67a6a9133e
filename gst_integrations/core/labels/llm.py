"""Any LLM as a plain ``prompt -> answer`` function.

The labeller only needs to send a prompt and read back text. The adapter is chosen by type: a
LangChain runnable (chat model, LLM or chain: ``.invoke``), a LlamaIndex LLM
(``.complete(prompt).text``), or a plain ``str -> str`` callable. Framework classes are
looked up in ``sys.modules`` (an instance implies its module is loaded), so core imports
neither LangChain nor LlamaIndex.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

from gst_integrations.core.errors import GSTError

#: (module, class, method): framework LLM types and the method that answers a prompt.
FRAMEWORK_LLMS: tuple[tuple[str, str, str], ...] = (
    ("langchain_core.runnables.base", "Runnable", "invoke"),
    ("llama_index.core.base.llms.base", "BaseLLM", "complete"),
)


class LLMError(RuntimeError):
    """An LLM call failed (after retries) or returned something that is not text."""


class LLMTimeoutError(LLMError):
    """An LLM call gave no answer within the labeller's per-call ``timeout``."""


class NotAnLLMError(GSTError, TypeError):
    """An object that is none of the LLM types the labeller can call."""


class LLMFunction:
    """A ``prompt -> answer`` callable with a ``name`` that identifies the model (for caches)."""

    def __init__(self, fn: Callable[[str], Any], name: str, source: Any = None) -> None:
        self._fn = fn
        self.name = name
        self.source = source

    def __call__(self, prompt: str) -> str:
        return _to_text(self._fn(prompt))

    def __repr__(self) -> str:
        return f"LLMFunction(name={self.name!r})"


def _to_text(result: Any) -> str:
    """Text of an LLM result: a str, a message with ``.content``, or a ``.text`` response."""
    if result is None:
        return ""
    if isinstance(result, str):
        return result
    if hasattr(result, "content"):  # LangChain message (str or list of content blocks)
        return _content_to_text(result.content)
    text = getattr(result, "text", None)  # LlamaIndex CompletionResponse
    if isinstance(text, str):
        return text
    raise LLMError(
        f"the LLM returned a {type(result).__name__}, not text: expected a str, a message "
        "with .content, or a response with .text"
    )


def _content_to_text(content: Any) -> str:
    """Join the text parts of a LangChain message content (str or list of blocks)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts: list[str] = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type", "text") == "text":
                parts.append(str(block.get("text", "")))
        return "".join(parts)
    return str(content)


def _instance_of(obj: Any, module: str, cls: str) -> bool:
    """isinstance against a framework class, without importing the framework."""
    kind = getattr(sys.modules.get(module), cls, None)
    return isinstance(kind, type) and isinstance(obj, kind)


def llm_name(llm: Any) -> str:
    """A stable name for an LLM object: its model name when it has one, else its type."""
    if isinstance(llm, LLMFunction):
        return llm.name
    for attr in ("model_name", "model", "model_id", "deployment_name"):
        value = getattr(llm, attr, None)
        if isinstance(value, str) and value:
            return value
    meta = getattr(llm, "metadata", None)
    value = getattr(meta, "model_name", None)
    if isinstance(value, str) and value and value != "unknown":
        return value
    framework = any(_instance_of(llm, m, c) for m, c, _ in FRAMEWORK_LLMS)
    if callable(llm) and not framework and hasattr(llm, "__qualname__"):
        return f"{getattr(llm, '__module__', '')}.{llm.__qualname__}"
    return type(llm).__name__


def as_llm(llm: Any, name: str | None = None) -> LLMFunction:
    """Adapt a LangChain runnable, a LlamaIndex LLM or a ``str -> str`` callable, by type."""
    if isinstance(llm, LLMFunction):
        return llm if name is None else LLMFunction(llm._fn, name, llm.source)
    label = name or llm_name(llm)
    for module, cls, method in FRAMEWORK_LLMS:
        if _instance_of(llm, module, cls):
            return LLMFunction(getattr(llm, method), label, llm)
    if callable(llm):
        return LLMFunction(llm, label, llm)
    raise NotAnLLMError(
        f"{type(llm).__name__} is not an LLM: pass a LangChain chat model, LLM or runnable, "
        "a LlamaIndex LLM, or a callable prompt -> answer (for another client, wrap it: "
        "lambda prompt: client.ask(prompt))"
    )
