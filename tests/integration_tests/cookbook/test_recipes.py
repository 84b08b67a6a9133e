"""The cookbook recipes run as users run them (`python cookbook/<name>.py`), offline, and print
real results. They start together (one subprocess each) to share the wall-clock time."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

COOKBOOK = Path(__file__).resolve().parents[3] / "cookbook"
RECIPES = ["llm_labelling", "instruction_clustering", "scaling_out", "bring_your_own_encoder"]
TIMEOUT = 240
#: The labelling recipe loads a real LLM (47-310 s measured on 2 shared cores), scores 40 texts.
TIMEOUTS = {"llm_labelling": 600}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str, Path]]:
    """Run every recipe once; name -> (exit code, stdout + stderr, its --out / work dir)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    procs = {}
    for name in RECIPES:
        out_dir = tmp_path_factory.mktemp(name)
        args = [sys.executable, str(COOKBOOK / f"{name}.py")]
        if name == "instruction_clustering":
            args += ["--out", str(out_dir)]
        proc = subprocess.Popen(
            args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
            cwd=out_dir,
        )  # fmt: skip
        procs[name] = (proc, out_dir)
    results = {}
    for name, (proc, out_dir) in procs.items():
        try:
            text, _ = proc.communicate(timeout=TIMEOUTS.get(name, TIMEOUT))
        except subprocess.TimeoutExpired:
            proc.kill()
            text, _ = proc.communicate()
            text += f"\n(timed out after {TIMEOUTS.get(name, TIMEOUT)} s)"
        results[name] = (proc.returncode, text, out_dir)
    return results


def result(outputs, name: str) -> tuple[str, Path]:
    code, text, out_dir = outputs[name]
    assert code == 0, text[-3000:]
    assert "Traceback" not in text
    return text, out_dir


def test_llm_labelling(outputs) -> None:
    """The recipe labels 40 reviews with the real SmolLM2-135M (likelihood, named conditions)."""
    text, _ = result(outputs, "llm_labelling")
    names = re.search(r"label names \((\d+)\): (.*)", text)
    assert names and int(names.group(1)) == 11 and "Birth Control" in names.group(2)
    assert re.search(r"labelled 40/40 texts by likelihood", text)
    ari = float(re.search(r"ARI = ([-0-9.]+)", text).group(1))
    assert ari > 0.05  # above chance (measured 0.2 here); a 135M model is no annotator
    assert "fitted view:" in text and "held-out metrics" in text


def test_instruction_clustering(outputs) -> None:
    text, out_dir = result(outputs, "instruction_clustering")
    rows = dict(re.findall(r"^.+?\s(condition|rating)\s+([0-9.]+\s+[0-9.]+)$", text, re.M))
    assert set(rows) == {"condition", "rating"}
    gen, view = map(float, rows["condition"].split())
    assert view >= gen - 0.02  # the condition view clusters at least as well as generic
    for facet in ("condition", "rating"):
        png = out_dir / f"clusters-{facet}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000


def test_scaling_out(outputs) -> None:
    text, _ = result(outputs, "scaling_out")
    assert re.search(r"chroma server running on port \d+", text)
    assert "embedded 165 reviews once" in text
    assert "'reviews.condition' holds 165" in text
    assert "chroma server stopped" in text
    recall = float(re.search(r"recall@10 vs the materialised view: ([0-9.]+)", text).group(1))
    assert recall >= 0.8
    top = re.search(r"InMemoryVectorStore \(nothing materialised\): \[(.*)\]", text)
    assert top and "Insomnia" in top.group(1)


def test_bring_your_own_encoder(outputs) -> None:
    text, _ = result(outputs, "bring_your_own_encoder")
    assert "LangChainEmbeddingsEncoder(name='my-minilm'), 384-d" in text
    assert "same encoder accepted; view vectors shape (2, " in text
    assert "wrong encoder refused: EncoderMismatchError" in text
    assert "probe-sentence vectors differ" in text
