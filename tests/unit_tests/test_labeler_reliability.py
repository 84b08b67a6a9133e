"""The labeller against LLMs that hang, repeat one name for every cluster, or answer at length;
and its feedback (one progress bar per call, the package logger, LabelQualityWarning).

Fakes only (a hashing encoder, scripted LLMs). Each test here reproduces a defect found with
the public API; the real model runs in tests/integration_tests/test_labeler_local_llm.py.
"""

from __future__ import annotations

import logging
import os
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from test_labeler import (
    INSTRUCTION,
    ScriptedLLM,
    animal_classify,
    animal_of,
    animal_summary,
    corpus,
    hash_encoder,
    majority_name,
    make,
    stage_of,
)

from gst_integrations.core.errors import LabelQualityWarning
from gst_integrations.core.labels.likelihood import TokenScorer
from gst_integrations.labels import LLMLabeler

ROOT = Path(__file__).resolve().parents[2]


def offset_encoder(texts: list[str]) -> np.ndarray:
    """The hashing encoder plus one direction shared by every text, as real sentence
    embeddings have: any two texts, a junk name and a cluster included, have cosine > 0."""
    X = hash_encoder(texts)
    return np.hstack([X, np.full((len(X), 1), 2.0, dtype=np.float32)])


def name_in_text(text: str, names: list[str]) -> str:
    """Classify by the listed name that occurs in the text (keyword names are words of it)."""
    return next((str(i) for i, n in enumerate(names, 1) if n.lower() in text.lower()), "none")


# --------------------------------------------------------------------------- one name for all
@pytest.mark.parametrize("junk", ["HACKED", "Unknown"])
def test_one_name_for_every_cluster_is_rejected(tmp_path: Path, junk: str) -> None:
    llm = ScriptedLLM(name=lambda members: junk, classify=name_in_text)
    lab = make(llm, tmp_path, cache=False, encoder=offset_encoder)
    with pytest.warns(LabelQualityWarning, match="replaced by keywords") as caught:
        res = lab.label_detailed(INSTRUCTION, corpus())
    assert [w.filename for w in caught] == [__file__]  # one warning, at the user's line
    assert sorted(res.label_names) == ["bird", "cat", "dog"]  # c-TF-IDF keywords take over
    assert res.rejections["name:duplicate"] == 3 and res.n_name_fallbacks == 3
    assert res.labels == [animal_of(t) for t in corpus()]


def test_a_repeated_name_that_fits_each_of_its_clusters_still_merges(tmp_path: Path) -> None:
    """The paper's merge: two clusters of cat texts both named "Cats" are one class."""
    texts = [*corpus(), "The tabby kitten purrs near house 1", "The tabby kitten naps near house 2"]

    def summary(text: str) -> str:
        return "A tabby kitten cat" if "kitten" in text else animal_summary(text)

    def namer(members: list[str]) -> str:
        return "Cats" if any("kitten" in m for m in members) else majority_name(members)

    def classify(text: str, names: list[str]) -> str:
        return animal_classify(text.replace("kitten", "cat"), names)

    llm = ScriptedLLM(summary=summary, name=namer, classify=classify)
    res = make(llm, tmp_path, cache=False, n_clusters=4).label_detailed(INSTRUCTION, texts)
    assert sorted(res.label_names) == ["Birds", "Cats", "Dogs"]
    assert sorted(n for n in res.cluster_names if n).count("Cats") == 2
    assert "name:duplicate" not in res.rejections


def test_merge_names_false_rejects_every_repeated_name(tmp_path: Path) -> None:
    llm = ScriptedLLM(name=lambda members: "Animals", classify=name_in_text)
    res = make(llm, tmp_path, cache=False, check_names=False, merge_names=False)
    out = res.label_detailed(INSTRUCTION, corpus())
    assert sorted(out.label_names) == ["bird", "cat", "dog"]
    assert out.rejections["name:duplicate"] == 3


# --------------------------------------------------------------------------- a hung LLM
def hangs_at(stage: str, release: threading.Event):
    inner = ScriptedLLM()

    def llm(prompt: str) -> str:
        if stage_of(prompt) == stage:
            release.wait()  # never answers (until the test ends)
        return inner(prompt)

    return llm


@pytest.mark.parametrize(
    ("stage", "words"),
    [("summary", "summaries"), ("name", "cluster names"), ("classify", "classification")],
)
def test_hung_llm_fails_within_the_timeout_naming_the_stage(
    tmp_path: Path, stage: str, words: str
) -> None:
    from gst_integrations.core.labels.llm import LLMTimeoutError

    release = threading.Event()
    lab = make(hangs_at(stage, release), tmp_path, cache=False, timeout=0.5, max_retries=3)
    t0 = time.perf_counter()
    try:
        with pytest.raises(LLMTimeoutError, match=rf"'{stage}' stage \({words}\).*0\.5 s"):
            lab.label(INSTRUCTION, corpus())
    finally:
        release.set()
    assert time.perf_counter() - t0 < 3.0  # the timeout is per call and not retried


def test_hung_scorer_fails_within_the_timeout(tmp_path: Path) -> None:
    from gst_integrations.core.labels.llm import LLMTimeoutError

    release = threading.Event()

    class HungScorer(TokenScorer):
        name = "hung"

        def continuation_logprobs(self, prompt: str, continuations: Sequence[str]):
            release.wait()
            return [[0.0] for _ in continuations]

    lab = LLMLabeler(HungScorer(), timeout=0.3, cache=False, show_progress=False)
    t0 = time.perf_counter()
    try:
        with pytest.raises(LLMTimeoutError, match="'classify' stage"):
            lab.label(INSTRUCTION, corpus(1), categories=["cat", "dog"])
    finally:
        release.set()
    assert time.perf_counter() - t0 < 3.0


def test_default_timeout_and_bad_timeouts() -> None:
    from gst_integrations.core.errors import GSTError

    lab = LLMLabeler(lambda p: "x", encoder=hash_encoder)
    assert lab.timeout is not None and 10 <= lab.timeout <= 600
    assert LLMLabeler(lambda p: "x", timeout=None).timeout is None
    for bad in (0, -1, "soon", float("nan")):
        with pytest.raises(GSTError, match="timeout"):
            LLMLabeler(lambda p: "x", timeout=bad)


HUNG_SCRIPT = """
import threading
from gst_integrations.labels import LLMLabeler

def hang(prompt):
    print("called", flush=True)
    threading.Event().wait()

lab = LLMLabeler(hang, encoder=lambda texts: [[1.0, 0.0]] * len(texts), cache=False,
                 show_progress=False)
lab.label("Which animal is the text about?", ["a cat", "a dog", "a bird"])
"""


def test_ctrl_c_stops_a_hung_llm() -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GST_PROGRESS": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-c", HUNG_SCRIPT],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        # as in a terminal: a shell's background job inherits SIGINT ignored, and Python
        # then installs no KeyboardInterrupt handler
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 60)
        # calls run in parallel, so two threads may print on one line
        first = proc.stdout.readline() if ready else ""
        if "called" not in first:
            proc.kill()
            pytest.fail(f"the LLM was never called: {proc.communicate()[1]}")
        time.sleep(0.2)
        t0 = time.perf_counter()
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("Ctrl-C did not stop label() while the LLM hung")
        assert time.perf_counter() - t0 < 5.0
        assert proc.returncode != 0 and "KeyboardInterrupt" in err
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


# --------------------------------------------------------------------------- long answers
def test_long_answers_are_cached_bounded(tmp_path: Path) -> None:
    tail = "x" * 100_000

    llm = ScriptedLLM(
        summary=lambda t: animal_summary(t) + "\n" + tail,
        name=lambda m: majority_name(m) + "\n" + tail,
        classify=lambda t, names: animal_classify(t, names) + " " * 100_000,
    )
    first = make(llm, tmp_path).label_detailed(INSTRUCTION, corpus())
    assert first.labels == [f"{animal_of(t).title()}s" for t in corpus()]
    with sqlite3.connect(tmp_path / "cache" / "answers.sqlite3") as conn:
        longest = conn.execute("SELECT max(length(answer)) FROM answers").fetchone()[0]
    assert longest <= 1100
    again = make(ScriptedLLM(), tmp_path).label_detailed(INSTRUCTION, corpus())
    assert again.n_llm_calls == 0 and again.labels == first.labels


# --------------------------------------------------------------------------- feedback
def test_one_progress_bar_per_label_call(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tqdm.auto

    from gst_integrations.core import feedback

    shown: list[str] = []

    class CountingBar(tqdm.auto.tqdm):  # type: ignore[misc]
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            if not kwargs.get("disable"):
                shown.append(str(kwargs.get("desc")))

    monkeypatch.setattr(tqdm.auto, "tqdm", CountingBar)
    monkeypatch.setattr(feedback, "tqdm", CountingBar)
    lab = make(ScriptedLLM(), tmp_path, show_progress=True)
    for _ in range(3):
        lab.label(INSTRUCTION, corpus(2))
    assert len(shown) == 3, shown


def test_logs_through_the_package_logger(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="gst_integrations")
    make(ScriptedLLM(), tmp_path, cache=False).label(INSTRUCTION, corpus(2))
    names = {r.name for r in caplog.records}
    assert names == {"gst_integrations"}, names
    assert any("labelled" in r.getMessage() for r in caplog.records)
