"""Category descriptions written by an LLM, for views from category names.

A category name alone ("Naut") may mean little to a base encoder; a sentence about it
("ships, sailing and seamanship") places it better. ``describe_categories`` asks any LLM for
one such sentence per name, for the instruction at hand; pass the result as
``fit_head(..., categories={name: description}, encoder=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gst_integrations.core.labels.llm import as_llm

__all__ = ["describe_categories"]


def describe_categories(
    llm: Any, instruction: str, names: Sequence[str], *, max_words: int = 20
) -> dict[str, str]:
    """One-sentence descriptions of category names, written by an LLM for the instruction.

    ``llm``: a LangChain chat model or LLM, a LlamaIndex LLM, or a ``str -> str`` callable.
    An empty or failed answer leaves that category without a description (its name alone is
    used), so a weak model can only add to the names, not remove them.
    """
    fn = as_llm(llm)
    out: dict[str, str] = {}
    for name in names:
        prompt = (
            f"Task: {instruction}\nIn one short sentence (at most {max_words} words), describe "
            f'what a text in the category "{name}" is about.\nDescription:'
        )
        try:
            answer = fn(prompt)
        except Exception:  # noqa: BLE001 - an LLM failure only loses this description
            continue
        lines = [ln.strip() for ln in str(answer).strip().splitlines() if ln.strip()]
        words = (lines[0].strip('"') if lines else "").split()
        if words:
            out[str(name)] = " ".join(words[:max_words])
    return out
