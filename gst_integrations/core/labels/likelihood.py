"""Classification by likelihood: score each category as the LLM's answer, pick the best.

Where an LLM exposes token log-probabilities (a local Hugging Face model), every text gets a
label and only a listed category can come out, whatever the text says. Measured on
SmolLM2-135M-Instruct (docs/research/llm-labelling-smollm2.md), the best generic setup is a
plain completion prompt (no chat template, no option list) with each category scored as
``" <name>"`` by its mean token log-probability, then calibrated: uncalibrated scores are
dominated by the model's prior for an answer.

An LLM object is matched to a :class:`TokenScorer` by its type: the framework packages
(``gst_integrations.langchain``, ``gst_integrations.llama_index``) register adapters for their
Hugging Face wrappers are matched by type (``_ADAPTERS``); core never imports a framework.
"""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np

from gst_integrations.core.feedback import progress

Calibration = Literal["none", "content_free", "batch"]
CALIBRATIONS: tuple[str, ...] = ("none", "content_free", "batch")

#: Measured best for SmolLM2-135M (plain completion, options not listed).
LIKELIHOOD_PROMPT = """Text: {text}
Question: {instruction}
Answer:"""

#: The text scored to estimate the model's answer prior (Zhao et al. 2021).
CONTENT_FREE_TEXT = "N/A"


class TokenScorer(ABC):
    """A causal LM whose token log-probabilities can be read."""

    name: str = "scorer"

    @abstractmethod
    def continuation_logprobs(self, prompt: str, continuations: Sequence[str]) -> list[list[float]]:
        """Per-token log-probabilities of each continuation right after ``prompt``."""


class TransformersScorer(TokenScorer):
    """Log-probabilities from a ``transformers`` causal LM and its tokenizer.

    One forward pass over the prompt fills a KV cache, then one right-padded batch scores all
    continuations (causal attention never lets a real token see padding). Only torch is
    imported, lazily; the model and tokenizer are whatever the caller loaded.
    """

    def __init__(self, model: Any, tokenizer: Any, name: str | None = None) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.name = name or str(getattr(model, "name_or_path", "") or type(model).__name__)

    def __repr__(self) -> str:
        return f"TransformersScorer(name={self.name!r})"

    def _cache_keyword(self) -> str:
        """The KV-cache argument (and output) name: ``cache`` from transformers 5.2x on,
        ``past_key_values`` before (deprecated since)."""
        import inspect

        params = inspect.signature(self.model.forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    def continuation_logprobs(self, prompt: str, continuations: Sequence[str]) -> list[list[float]]:
        import torch

        tok = self.tokenizer
        prompt_ids = tok(prompt, add_special_tokens=False).input_ids
        conts = [tok(c, add_special_tokens=False).input_ids for c in continuations]
        if not prompt_ids or any(not c for c in conts):
            raise ValueError("the prompt or a continuation tokenises to nothing")
        pad = tok.pad_token_id if tok.pad_token_id is not None else (tok.eos_token_id or 0)
        device = getattr(self.model, "device", "cpu")
        cache_kw = self._cache_keyword()
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([prompt_ids], device=device), use_cache=True)
            first = out.logits[0, -1].float().log_softmax(-1)
            longest = max(len(c) for c in conts)
            rest = None
            if longest > 1:
                cache = out[cache_kw]
                cache.batch_repeat_interleave(len(conts))
                rows = [c[:-1] + [pad] * (longest - len(c)) for c in conts]
                logits = self.model(
                    input_ids=torch.tensor(rows, device=device),
                    use_cache=False,
                    **{cache_kw: cache},
                ).logits
                rest = logits.float().log_softmax(-1)
        result = []
        for i, c in enumerate(conts):
            lps = [float(first[c[0]])]
            if rest is not None:
                lps += [float(rest[i, j - 1, c[j]]) for j in range(1, len(c))]
            result.append(lps)
        return result


# --------------------------------------------------------------------------- type dispatch
def _instance_of(obj: Any, module: str, class_name: str) -> bool:
    """Whether ``obj`` is a ``module.class_name`` (looked up only if the module is loaded:
    an instance implies it is, so core imports no framework)."""
    cls = getattr(sys.modules.get(module), class_name, None)
    return isinstance(cls, type) and isinstance(obj, cls)


def pipeline_scorer(llm: Any) -> TokenScorer | None:
    """LangChain ``HuggingFacePipeline``: its causal LM (None for other pipeline tasks)."""
    pipe = llm.pipeline
    if pipe.task != "text-generation":
        return None
    return TransformersScorer(pipe.model, pipe.tokenizer, name=llm.model_id)


def chat_scorer(chat: Any) -> TokenScorer | None:
    """LangChain ``ChatHuggingFace``: the local pipeline behind it (None for an endpoint)."""
    if _instance_of(chat.llm, "langchain_huggingface", "HuggingFacePipeline"):
        return pipeline_scorer(chat.llm)
    return None


def huggingface_llm_scorer(llm: Any) -> TokenScorer:
    """LlamaIndex ``HuggingFaceLLM``: its model and tokenizer (it has no public accessor)."""
    return TransformersScorer(llm._model, llm._tokenizer, name=llm.model_name)


#: The LLM classes whose log-probabilities the labeller reads, by (module, class name).
_ADAPTERS: list[tuple[str, str, Callable[[Any], TokenScorer | None]]] = [
    ("langchain_huggingface", "ChatHuggingFace", chat_scorer),
    ("langchain_huggingface", "HuggingFacePipeline", pipeline_scorer),
    ("llama_index.llms.huggingface", "HuggingFaceLLM", huggingface_llm_scorer),
]


def register_scorer_adapter(
    module: str, class_name: str, adapter: Callable[[Any], TokenScorer | None]
) -> None:
    """Let the labeller read log-probabilities from your own LLM class ``module.class_name``.

    The local Hugging Face wrappers of LangChain and LlamaIndex are known already. The class
    is looked up in ``sys.modules`` only when an LLM is matched, so this imports nothing.
    """
    entry = (module, class_name, adapter)
    if entry not in _ADAPTERS:
        _ADAPTERS.append(entry)


def find_scorer(llm: Any) -> TokenScorer | None:
    """The :class:`TokenScorer` behind ``llm`` (matched by type), or None."""
    if isinstance(llm, TokenScorer):
        return llm
    for module, class_name, adapter in _ADAPTERS:
        if _instance_of(llm, module, class_name):
            return adapter(llm)
    return None


# --------------------------------------------------------------------------- scoring
def cut_text(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` characters (0: no limit)."""
    return text[:max_chars] if max_chars > 0 else text


def score_text(
    scorer: TokenScorer,
    instruction: str,
    text: str,
    continuations: Sequence[str],
    max_chars: int = 600,
    template: str = LIKELIHOOD_PROMPT,
) -> np.ndarray:
    """Mean token log-prob of each continuation as the answer for one text (one LLM call)."""
    prompt = template.format(text=cut_text(text, max_chars), instruction=instruction)
    lps = scorer.continuation_logprobs(prompt, continuations)
    return np.array([sum(t) / len(t) for t in lps])


def category_scores(
    scorer: TokenScorer,
    instruction: str,
    texts: Sequence[str],
    categories: Sequence[str],
    *,
    max_chars: int = 600,
    template: str = LIKELIHOOD_PROMPT,
    show_progress: bool | None = False,
) -> tuple[np.ndarray, np.ndarray]:
    """(n, k) mean token log-prob of each category as the answer for each text, and the (k,)
    scores for a content-free text. Texts are cut to ``max_chars`` (600 scored as well as
    1500 on drug reviews, and faster)."""
    continuations = [" " + c for c in categories]

    def score(text: str) -> np.ndarray:
        return score_text(scorer, instruction, text, continuations, max_chars, template)

    base = score(CONTENT_FREE_TEXT)
    rows = [score(t) for t in progress(texts, desc="score", unit="text", show=show_progress)]
    scores = np.stack(rows) if rows else np.zeros((0, len(categories)))
    return scores, base


def calibrate(scores: np.ndarray, content_free: np.ndarray, method: Calibration) -> np.ndarray:
    """Scores with the model's prior for each answer removed.

    ``none``: as is (SmolLM2-135M then gives nearly every text one category); ``content_free``:
    minus the scores of a content-free text (Zhao et al. 2021); ``batch``: log-softmax over
    the categories minus its mean over the batch (Zhou et al. 2024). ``batch`` suits roughly
    balanced classes; it spreads predictions, so it costs accuracy on a skewed label set.
    """
    if method == "none":
        return scores
    if method == "content_free":
        return scores - content_free
    if method == "batch":
        z = scores - scores.max(axis=1, keepdims=True)
        z = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
        return z - z.mean(axis=0, keepdims=True)
    raise ValueError(f"calibration must be one of {CALIBRATIONS}, got {method!r}")
