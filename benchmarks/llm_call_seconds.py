"""Seconds per LLM call of the local SmolLM2-135M-Instruct, per labelling stage (CPU).

    nice -n 10 python benchmarks/llm_call_seconds.py [--n 8] [--out results/llm_calls.json]

Measures what the labeller's per-call ``timeout`` must allow for the slowest local model a
user is likely to run: each stage's real prompt (summary, the summary retry, a cluster name
contrasting 25 + 25 summaries, classification into 50 listed names) on the longest drug
reviews, through LangChain's ``ChatHuggingFace`` and LlamaIndex's ``HuggingFaceLLM``, and
the likelihood scoring of one text against 3 and 50 names. Prints and writes median and max
seconds per call with the machine's load average.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from gst_integrations.core.labels.likelihood import find_scorer, score_text  # noqa: E402
from gst_integrations.core.labels.prompts import (  # noqa: E402
    CLASSIFY_PROMPT,
    NAME_PROMPT,
    SUMMARY_PROMPT,
    SUMMARY_RETRY_PROMPT,
    bullets,
    fence,
)
from gst_integrations.evaluation.datasets.drug_reviews import load_drug_reviews  # noqa: E402
from gst_integrations.labels import load_local_model  # noqa: E402

RATING = "How satisfied is the patient with the drug?"


def timed(call: Callable[[], object], n: int) -> list[float]:
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        call()
        out.append(time.perf_counter() - t0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=8, help="calls per stage")
    ap.add_argument("--out", type=Path, default=None, help="JSON file for the figures")
    args = ap.parse_args()

    from gst_integrations.langchain import local_chat_model
    from gst_integrations.llama_index import local_llm

    t0 = time.perf_counter()
    model, tokenizer = load_local_model(num_threads=1)
    load_s = time.perf_counter() - t0
    chat, li = local_chat_model(model, tokenizer), local_llm(model, tokenizer)
    reviews = sorted(load_drug_reviews().texts, key=len, reverse=True)[: args.n]
    summaries = [" ".join(r.split()[:10]) for r in reviews]
    names = [f"category number {i} of many" for i in range(50)]
    fenced = [fence(r, 4000) for r in reviews]
    prompts = {
        "summary": [
            SUMMARY_PROMPT.format(instruction=RATING, max_words=10, text=t) for t in fenced
        ],
        "summary_retry": [SUMMARY_RETRY_PROMPT.format(instruction=RATING, text=t) for t in fenced],
        "name": [
            NAME_PROMPT.format(
                instruction=RATING,
                max_words=5,
                members=bullets((summaries * 4)[i : i + 25]),
                others=bullets((summaries * 4)[i + 1 : i + 26]),
            )
            for i in range(args.n)
        ],
        "classify_50_names": [
            CLASSIFY_PROMPT.format(
                instruction=RATING,
                categories="\n".join(f"{i}. {n}" for i, n in enumerate(names, 1)),
                text=t,
            )
            for t in fenced
        ],
    }
    results: dict[str, dict[str, float]] = {}

    def record(key: str, secs: list[float]) -> None:
        results[key] = {"median_s": statistics.median(secs), "max_s": max(secs), "calls": len(secs)}
        print(f"{key:40s} median {results[key]['median_s']:6.2f} s  max {max(secs):6.2f} s",
              flush=True)  # fmt: skip

    for stage, ps in prompts.items():
        it = iter(ps)
        record(f"langchain {stage}", timed(lambda it=it: chat.invoke(next(it)), len(ps)))
    for stage in ("summary", "classify_50_names"):
        it = iter(prompts[stage])
        record(f"llama_index {stage}", timed(lambda it=it: li.complete(next(it)), args.n))
    scorer = find_scorer(chat)
    assert scorer is not None
    for k in (3, 50):
        conts = [" " + n for n in (["positive", "neutral", "negative"] if k == 3 else names)]
        it = iter(reviews)
        record(
            f"likelihood 1 text x {k} names",
            timed(lambda it=it, c=conts: score_text(scorer, RATING, next(it), c, 600), args.n),
        )
    load = os.getloadavg()
    summary = {"model_load_s": load_s, "loadavg": load, "cpu_count": os.cpu_count(),
               "calls": results}  # fmt: skip
    print(f"model load {load_s:.1f} s; load average {load}; {os.cpu_count()} CPUs")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
