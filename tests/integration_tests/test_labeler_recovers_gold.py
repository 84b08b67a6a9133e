"""The labeler recovers gold topics through a noisy stand-in LLM and the real base encoder.

The stand-in answers every prompt from the gold topic of the quoted text, wrong 20% of the
time (and with a few unparseable classify answers), so the test measures the plumbing
(sampling, clustering of real summary embeddings, naming, merging, strict parsing) rather than
an LLM.
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections import Counter
from pathlib import Path

import pytest
from sklearn.metrics import adjusted_rand_score

from gst_integrations.core.encoders.default import default_encoder
from gst_integrations.core.errors import LabelQualityWarning
from gst_integrations.core.labels.checks import normalize_name
from gst_integrations.labels import LLMLabeler

pytestmark = pytest.mark.integration

NOISE = 0.2
GARBAGE = 0.05

#: topic -> (name the stand-in gives clusters, summary paraphrases, sentence parts)
TOPICS: dict[str, tuple[list[str], list[str], list[str]]] = {
    "sports": (
        ["football match result", "athletes winning a competition", "team sports game"],
        ["The striker", "Our goalkeeper", "The tennis champion", "The home team", "A sprinter"],
        ["scored twice in the final", "won the championship", "trained hard before the race"],
    ),
    "cooking": (
        ["cooking a recipe", "baking bread at home", "preparing a dinner dish"],
        ["My grandmother", "The chef", "A home cook", "The baker", "My roommate"],
        ["roasted vegetables with garlic", "baked sourdough bread", "simmered a tomato sauce"],
    ),
    "finance": (
        ["stock market prices", "company quarterly earnings", "interest rates and banking"],
        ["The central bank", "Investors", "The tech company", "Shareholders", "The fund"],
        ["raised interest rates again", "reported record quarterly profit", "sold bonds"],
    ),
    "weather": (
        ["stormy weather forecast", "heavy rain and wind", "hot sunny summer days"],
        ["The forecast", "A thunderstorm", "The heatwave", "Heavy snow", "The coastal town"],
        ["brought flooding overnight", "closed the mountain roads", "hit record temperatures"],
    ),
    "health": (
        ["treating an illness", "doctor visit and medication", "hospital patient care"],
        ["The patient", "My doctor", "The nurse", "A hospital", "The clinic"],
        ["prescribed antibiotics for the infection", "treated my migraine", "ran blood tests"],
    ),
}
TOPIC_NAMES = {"sports": "Sports", "cooking": "Cooking", "finance": "Finance"}
TOPIC_NAMES |= {"weather": "Weather", "health": "Health."}  # a trailing period must not matter
TAILS = ["", " last week", " yesterday", " this morning", ", people said", " again"]


def make_corpus(n: int = 300, seed: int = 0) -> tuple[list[str], list[str]]:
    """``n`` distinct texts over five topics, from templates, with their gold topics."""
    rng = random.Random(seed)
    texts: list[str] = []
    gold: list[str] = []
    seen: set[str] = set()
    topics = list(TOPICS)
    while len(texts) < n:
        topic = topics[len(texts) % len(topics)]
        _, subjects, predicates = TOPICS[topic]
        text = f"{rng.choice(subjects)} {rng.choice(predicates)}{rng.choice(TAILS)}"
        text += f" ({rng.randint(1, 999)})."
        if text not in seen:
            seen.add(text)
            texts.append(text)
            gold.append(topic)
    return texts, gold


class StandInLLM:
    """Parses the labeler's prompts and answers from gold labels, with seeded noise."""

    def __init__(self, gold_of: dict[str, str]) -> None:
        self.gold_of = gold_of
        self.topic_of_summary = {s: t for t, (sums, _, _) in TOPICS.items() for s in sums}
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    @staticmethod
    def _rng(*parts: str) -> random.Random:
        """Noise fixed per prompt, so thread timing cannot change an answer."""
        return random.Random(hashlib.sha256("|".join(parts).encode()).hexdigest())

    def __call__(self, prompt: str) -> str:
        stage = "classify" if "Categories:" in prompt else "name" if "GROUP:" in prompt else "sum"
        with self._lock:
            self.calls[stage] += 1
        if stage == "classify":
            return self._classify(prompt)
        return self._name(prompt) if stage == "name" else self._summary(prompt)

    def _text(self, prompt: str) -> str:
        if prompt.startswith("Text: "):  # the summary retry prompt
            return prompt[len("Text: ") :].split("\n\nQuestion:", 1)[0]
        return prompt.rsplit("<text>\n", 1)[1].rsplit("\n</text>", 1)[0]

    def _summary(self, prompt: str) -> str:
        text = self._text(prompt)
        rng = self._rng("summary", text)
        topic = self.gold_of[text]
        if rng.random() < NOISE:
            topic = rng.choice([t for t in TOPICS if t != topic])
        return rng.choice(TOPICS[topic][0]).capitalize() + "."

    def _name(self, prompt: str) -> str:
        block = prompt.split("GROUP:\n", 1)[1].split("\n\nOTHER:", 1)[0]
        members = [line[2:].lower() for line in block.splitlines()]
        votes = Counter(self.topic_of_summary[m] for m in members)
        return TOPIC_NAMES[votes.most_common(1)[0][0]]

    def _classify(self, prompt: str) -> str:
        text = self._text(prompt)
        block = prompt.split("Categories:\n", 1)[1].split("\n\n", 1)[0]
        names = [line.split(". ", 1)[1] for line in block.splitlines()]
        rng = self._rng("classify", text)
        if rng.random() < GARBAGE:
            return "I cannot decide between these categories."
        wanted = normalize_name(TOPIC_NAMES[self.gold_of[text]])
        listed = [n for n in names if normalize_name(n) == wanted]
        if not listed or rng.random() < NOISE:
            return rng.choice(names)
        return listed[0]


def test_labeler_recovers_gold_topics(tmp_path: Path) -> None:
    texts, gold = make_corpus()
    llm = StandInLLM(dict(zip(texts, gold, strict=True)))
    labeler = LLMLabeler(
        llm,
        encoder=default_encoder(),
        n_clusters=10,
        sample_size=250,
        seed=0,
        cache_dir=tmp_path,
        max_workers=4,
        show_progress=False,
    )
    res = labeler.label_detailed("What is the topic of this text?", texts)

    assert len(res.labels) == len(texts) and len(res.sample_indices) == 250
    outside = set(range(len(texts))) - set(res.sample_indices)
    assert all(res.labels[i] is None for i in outside)
    # Merged names are the gold topics (up to spelling); one name per topic at most.
    keys = {normalize_name(n) for n in res.label_names}
    assert keys <= {normalize_name(n) for n in TOPIC_NAMES.values()}
    assert len(keys) == len(res.label_names) >= 3
    # Every invalid classify answer is dropped, and counted.
    invalid = [i for i in res.sample_indices if res.labels[i] is None]
    assert res.n_dropped == len(invalid) > 0
    assert res.n_llm_calls == sum(llm.calls.values())

    kept = [i for i, label in enumerate(res.labels) if label is not None]
    ari = adjusted_rand_score([gold[i] for i in kept], [res.labels[i] for i in kept])
    print(
        f"\nLLMLabeler gold recovery: ARI={ari:.3f} on {len(kept)} labelled texts, "
        f"{len(res.cluster_names)} clusters -> {len(res.label_names)} names, "
        f"{res.n_dropped} dropped, {res.n_llm_calls} LLM calls"
    )
    assert ari >= 0.5

    again = labeler.label_detailed("What is the topic of this text?", texts)
    assert again.n_llm_calls == 0 and again.labels == res.labels


class OneNameLLM(StandInLLM):
    """The stand-in, except that it names every cluster the same ("HACKED", "Unknown")."""

    def __init__(self, gold_of: dict[str, str], name: str) -> None:
        super().__init__(gold_of)
        self.one_name = name

    def _name(self, prompt: str) -> str:
        return self.one_name


@pytest.mark.parametrize("junk", ["HACKED", "Unknown"])
def test_one_name_for_every_cluster_gives_keyword_classes(tmp_path: Path, junk: str) -> None:
    """With the real encoder every name has a positive cosine with every cluster, so a name
    given to all clusters used to pass the grounding check and make one class of everything."""
    texts, gold = make_corpus(120)
    labeler = LLMLabeler(
        OneNameLLM(dict(zip(texts, gold, strict=True)), junk),
        encoder=default_encoder(),
        n_clusters=5,
        cache_dir=tmp_path,
        show_progress=False,
    )
    with pytest.warns(LabelQualityWarning, match="replaced by keywords"):
        res = labeler.label_detailed("What is the topic of this text?", texts)
    assert junk.lower() not in {normalize_name(n) for n in res.label_names}
    assert len(res.label_names) == 5 and res.rejections["name:duplicate"] == 5
