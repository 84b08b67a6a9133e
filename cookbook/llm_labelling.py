"""Labelling with an LLM: from an instruction and unlabelled texts to a fitted view.

GSTransform builds labels for a new instruction with an LLM: it summarises each sampled text
with respect to the instruction, clusters the summaries, names each cluster, and classifies
every text into one of the names (`gst_integrations.labels.LLMLabeler`). Those labels then fit a
head, exactly as human annotations would.

This recipe runs offline: the "LLM" is a tiny LangChain chat model that answers by keyword
rules, so you can see every stage work end to end. To use a real model, swap one line:

    # LangChain (any chat model or LLM with .invoke):
    from langchain_openai import ChatOpenAI
    llm = ChatOpenAI(model="gpt-4o-mini", temperature=0)
    # LlamaIndex (any LLM with .complete):
    from llama_index.llms.ollama import Ollama
    llm = Ollama(model="llama3.1", request_timeout=120)
    # or any plain callable: llm = lambda prompt: my_client.generate(prompt)

LLM answers are cached in SQLite ($GST_CACHE_DIR/llm), so rerunning a labelling job is free.
The CLI does the same: `gst fit --llm mymodule:make_llm --instruction ... --data texts.csv`.

Run: python cookbook/llm_labelling.py
"""

from __future__ import annotations

import os
import re
import tempfile
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from langchain_core.language_models.chat_models import BaseChatModel  # noqa: E402
from langchain_core.messages import AIMessage, BaseMessage  # noqa: E402
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from gst_integrations import fit_head  # noqa: E402
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.paths import default_cache_dir
from gst_integrations.evaluation.datasets import load_drug_reviews  # noqa: E402
from gst_integrations.labels import LLMLabeler  # noqa: E402

INSTRUCTION = "Which condition is the patient treating?"
RULES = [
    ("birth control", ("birth control", "period", "pill", "bleeding", "iud")),
    ("depression", ("depress",)),
    ("acne", ("acne", "skin", "pimple")),
    ("pain", ("pain", "ache")),
    ("sleep problems", ("sleep", "insomnia")),
    ("weight loss", ("weight", "lbs", "pounds")),
]


def topic(text: str) -> str:
    low = text.lower()
    return next((name for name, words in RULES if any(w in low for w in words)), "other")


class KeywordChatModel(BaseChatModel):
    """A stand-in chat model: answers the labeler's three prompts by keyword rules."""

    @property
    def _llm_type(self) -> str:
        return "keyword-rules"

    def _answer(self, prompt: str) -> str:
        if "Categories:" in prompt:  # classify: reply with the category number
            text = prompt.rsplit("<text>", 1)[1]
            cats = re.findall(r"^(\d+)\. (.+)$", prompt, re.M)
            return next((n for n, c in cats if c.strip().lower() == topic(text)), cats[-1][0])
        if "GROUP:" in prompt:  # name a cluster from its member summaries
            group = prompt.split("GROUP:", 1)[1].split("OTHER:", 1)[0]
            return max([n for n, _ in RULES] + ["other"], key=group.count)
        return f"treating {topic(prompt.rsplit('<text>', 1)[1])}"  # summarise

    def _generate(self, messages: list[BaseMessage], stop: Any = None, **kw: Any) -> ChatResult:
        answer = self._answer(str(messages[-1].content))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=answer))])


def main() -> None:
    corpus = load_drug_reviews()
    texts, gold = corpus.texts[:150], corpus.facets["condition"][:150]
    with tempfile.TemporaryDirectory() as cache_dir:
        labeler = LLMLabeler(
            KeywordChatModel(), n_clusters=8, sample_size=150, cache_dir=cache_dir,
            show_progress=False,
        )  # fmt: skip
        result = labeler.label_detailed(INSTRUCTION, texts)
    print(f"instruction: {INSTRUCTION}")
    print(f"label names from the LLM ({len(result.label_names)}): {result.label_names}")
    print(
        f"labelled {result.n_labelled}/{len(texts)} texts with {result.n_llm_calls} LLM calls "
        f"({result.n_dropped} invalid answers dropped)"
    )
    for i in range(3):
        print(f"  {result.summaries[i]!r:32} -> {result.labels[i]!r:18} (gold: {gold[i]})")
    keep = [i for i, y in enumerate(result.labels) if y is not None]
    ari = adjusted_rand_score([gold[i] for i in keep], [result.labels[i] for i in keep])
    print(f"agreement with the gold conditions: ARI = {ari:.2f}")

    encoder = CachedEncoder(None, VectorCache(default_cache_dir() / "vectors.sqlite"))
    X = encoder.encode([texts[i] for i in keep])
    head = fit_head(INSTRUCTION, X, [result.labels[i] for i in keep], encoder=encoder.base_encoder)
    print(
        f"fitted view: {head.family} head {head.in_dim}->{head.out_dim}, "
        f"held-out metrics {head.card['metrics']}"
    )


if __name__ == "__main__":
    main()
