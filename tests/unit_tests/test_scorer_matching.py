"""The labeller finds a local model's log-probabilities by type, with no import side effect."""

from __future__ import annotations

import subprocess
import sys


def test_local_wrappers_are_matched_without_importing_our_adapters() -> None:
    code = """
import sys, types
from langchain_huggingface import ChatHuggingFace, HuggingFacePipeline
from gst_integrations.core.labels.likelihood import TransformersScorer, find_scorer

pipe = types.SimpleNamespace(task="text-generation", model=object(), tokenizer=object())
llm = HuggingFacePipeline.model_construct(pipeline=pipe, model_id="tiny")
chat = ChatHuggingFace.model_construct(llm=llm, model_id="tiny")
assert isinstance(find_scorer(llm), TransformersScorer)
assert isinstance(find_scorer(chat), TransformersScorer)
pipe.task = "summarization"
assert find_scorer(llm) is None
assert "gst_integrations.langchain" not in sys.modules
print("ok")
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "ok" in out.stdout, out.stdout + out.stderr
