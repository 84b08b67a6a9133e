"""The LangChain cookbook recipes run offline and print what they claim.

They run in-process (``runpy``) and share the tests' vector cache, so the reviews both use
are encoded once per test run, and the one local model (SmolLM2-135M-Instruct, loaded once)
writes their answers.
"""

from __future__ import annotations

import re
import runpy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from lc_testdata import embeddings, heads

COOKBOOK = Path(__file__).resolve().parents[3] / "cookbook"


def run_recipe(name: str, workdir: Path, **kwargs: Any) -> dict[str, Any]:
    recipe = runpy.run_path(str(COOKBOOK / name), run_name="recipe")
    return recipe["main"](workdir=workdir, cache=embeddings().base_encoder.cache, **kwargs)


def facet_lines(block: str) -> list[tuple[str, str]]:
    """(condition, rating) of each ``- [condition | rating | ...]`` context line."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^- \[([^|]+) \| (\w+) \|", block, re.M)]


def test_rag_recipe_retrieves_different_context_per_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], local_chat: Any
) -> None:
    out = run_recipe("langchain_rag_views.py", tmp_path, llm=local_chat)
    printed = capsys.readouterr().out
    assert "embedded 200 reviews once" in printed
    # The base vectors barely encode the rating: its view says so and falls back to generic.
    assert re.search(r"view 'rating': feasibility: .* barely encoded", printed)
    assert re.search(r"view 'condition': feasibility: .* encoded: view mix alpha", printed)
    cond_block = printed.split("[view=condition] ")[1].split("[view=rating]")[0]
    rating_block = printed.split("[view=rating] ")[1].split("[view={")[0]
    cond, rating = facet_lines(cond_block), facet_lines(rating_block)
    assert len(cond) == len(rating) == 5
    assert cond != rating  # same question, same chain, different context
    # The question is about acne and about being unhappy: the condition view finds acne.
    assert Counter(c for c, _ in cond)["Acne"] >= 4, cond
    # The real local model answered each question from its view's context.
    answers = re.findall(r"^answer: (.+)$", printed, re.M)
    assert len(answers) == 3 and all(len(a.split()) >= 3 for a in answers), answers
    assert all(isinstance(a, str) and a.strip() for a in out["answers"].values())
    assert [d.id for d in out["contexts"]["condition"]] != [d.id for d in out["contexts"]["rating"]]
    # A blend of both views and the generic vectors, through the chain's config: it keeps
    # the condition, and its scores (like the fallen-back rating view's) spread out.
    blend_block = printed.split("[view={'condition': 0.6, 'rating': 0.4, None: 0.2}] ")[1]
    assert Counter(c for c, _ in facet_lines(blend_block)[:5])["Acne"] >= 4
    assert all(d.metadata["gst_view"] == "condition*0.6+generic*0.2"
               for d in out["blended"])  # fmt: skip
    assert blend_block.count("| condition*0.6+generic*0.2 ") >= 5
    assert set(out["spread"]) == {"rating", "condition*0.6+generic*0.2"}
    assert all(s > 0.01 for s in out["spread"].values()), out["spread"]
    assert {d.metadata["rating"] for d in out["negatives"]} == {"negative"}
    assert out["n_encoded"] <= 202  # the corpus at most once, plus the two questions


def test_agent_recipe_calls_view_tools(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], local_chat: Any
) -> None:
    out = run_recipe("langchain_agent_tools.py", tmp_path, llm=local_chat)
    printed = capsys.readouterr().out
    assert out["tools"] == ["search_by_condition", "search_by_rating", "search_reviews"]
    assert out["view_enum"] == ["condition", "rating"]
    assert "search_by_condition: Search patient drug reviews" in printed
    assert re.search(r"view 'rating': feasibility: .* barely encoded", printed)
    assert "tool call: search_by_condition(" in printed
    assert "tool call: search_reviews({'query': 'terrible drug, awful side effects'" in printed
    traces = re.findall(r"^    (\S+)\s+([\d.]+)\s+(.+?)\s{2,}(\w+)$", printed, re.M)
    by_view: dict[str, list[tuple[float, str, str]]] = {}
    for view, score, condition, rating in traces:
        by_view.setdefault(view, []).append((float(score), condition, rating))
    assert set(by_view) == {"condition", "rating", "condition*0.6+generic*0.2"}
    assert [c for _, c, _ in by_view["condition"]].count("Insomnia") >= 2
    # The rating view fell back to the generic vectors: 4 results, scores that still rank.
    rating_scores = [s for s, _, _ in by_view["rating"]]
    assert len(rating_scores) == 4 and max(rating_scores) - min(rating_scores) > 0.01
    # The blend answers the mixed question ("negative experiences with acne treatments").
    blend = by_view["condition*0.6+generic*0.2"]
    assert [c for _, c, _ in blend].count("Acne") >= 2
    assert "'weights': {'condition': 0.6, 'rating': 0.4, 'generic': 0.2}" in printed
    # The real local model answered every question from the tool's output.
    assert len(out["answers"]) == 3
    assert all(len(a.split()) >= 3 for a in out["answers"].values()), out["answers"]


class ScriptedToolModel(BaseChatModel):
    """Plumbing only: a chat model that emits one scripted tool call, then answers."""

    call: dict[str, Any]
    tool_names: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-model"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolModel:  # type: ignore[override]
        return self.model_copy(update={"tool_names": [t.name for t in tools]})

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            message = AIMessage(f"{len(last.artifact or [])} reviews found with {last.name}")
        else:
            assert self.call["name"] in self.tool_names
            message = AIMessage("", tool_calls=[{**self.call, "id": "call_1"}])
        return ChatResult(generations=[ChatGeneration(message=message)])


def test_run_agent_runs_the_calls_a_model_makes(reviews_store: Any) -> None:
    """``run_agent``, the loop a tool-calling model gets, runs each call and feeds it back."""
    from gst_integrations.langchain import GSTRetriever, view_choice_tool

    recipe = runpy.run_path(str(COOKBOOK / "langchain_agent_tools.py"), run_name="recipe")
    retriever = GSTRetriever.from_chroma(reviews_store, heads(), k=2)
    tool = view_choice_tool(
        retriever, name="search_reviews", response_format="content_and_artifact"
    )
    model = ScriptedToolModel(
        call={"name": "search_reviews", "args": {"query": "acne", "view": "condition"}}
    )
    assert recipe["run_agent"](model, [tool], "Reviews about acne?") == (
        "2 reviews found with search_reviews"
    )
