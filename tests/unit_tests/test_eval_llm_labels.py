"""The LLM-label evaluation: agreement with gold, and one run end to end with fakes."""

from __future__ import annotations

import random
from collections.abc import Sequence

import pytest
from test_labeler import hash_encoder

from gst_integrations.core.labels.likelihood import TokenScorer
from gst_integrations.evaluation.datasets.dataset import LabelledCorpus
from gst_integrations.evaluation.llm_labels import label_agreement, run_label_eval


def test_label_agreement_maps_names_and_counts_unlabelled() -> None:
    gold = ["a", "a", "b", "b"]
    perfect = label_agreement(["x", "x", "y", "y"], gold)
    assert perfect["accuracy_hungarian"] == 1.0 and perfect["ari"] == pytest.approx(1.0)
    half = label_agreement(["x", None, "y", None], gold)
    assert half["labelled"] == 0.5 and half["accuracy_hungarian"] == 0.5
    assert half["distinct"] == 2 and half["majority_share"] == 0.5


class KeywordScorer(TokenScorer):
    """Scores a category higher when the text (first prompt line) contains it."""

    name = "keyword-scorer"

    def continuation_logprobs(self, prompt: str, continuations: Sequence[str]) -> list[list[float]]:
        text = prompt.split("\n", 1)[0].lower()
        return [[0.0 if c.strip().lower() in text else -3.0] for c in continuations]


def test_run_label_eval_end_to_end_with_fakes() -> None:
    rng = random.Random(0)
    animals, moods = ["cat", "dog", "bird"], ["happy", "sad"]
    texts, animal, mood = [], [], []
    for i in range(90):
        a, m = animals[i % 3], moods[(i // 3) % 2]
        texts.append(f"The {a} is {m} today {rng.randint(0, 10**6)}")
        animal.append(a)
        mood.append(m)
    corpus = LabelledCorpus("toy", texts, {"animal": animal, "mood": mood})
    report = run_label_eval(
        corpus, KeywordScorer(), ("animal", "mood"), n_label=30, encoder=hash_encoder,
        instructions={"animal": "Which animal?", "mood": "Which mood?"}, show_progress=False,
        head_variants={"lda": {"family": "lda"}},
    )  # fmt: skip
    run = report.runs["animal / categories"]
    agreement = run["agreement"]["likelihood (batch)"]
    assert agreement["labelled"] == 1.0 and agreement["accuracy_hungarian"] == 1.0
    assert set(run["agreement"]) == {f"likelihood ({c})" for c in ("batch", "none", "content_free")}
    assert set(run["views"]) == {"generic", "lda head on gold labels", "lda head on LLM labels"}
    assert run["fell_back_to_generic"] == {
        "lda head on gold labels": False,
        "lda head on LLM labels": False,
    }
    assert report.n_label == 30 and report.n_held_out == 60
    md = report.to_markdown()
    assert "| animal / categories | likelihood (batch) | 1.00 |" in md
    assert '"runs"' in report.to_json()
