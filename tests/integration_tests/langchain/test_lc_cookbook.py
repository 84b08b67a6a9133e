"""The LangChain cookbook recipes run offline and print what they claim.

They run in-process (``runpy``) and share the tests' vector cache, so the reviews both use
are encoded once per test session.
"""

from __future__ import annotations

import re
import runpy
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from lc_testdata import embeddings

COOKBOOK = Path(__file__).resolve().parents[3] / "cookbook"


def run_recipe(name: str, workdir: Path) -> dict[str, Any]:
    recipe = runpy.run_path(str(COOKBOOK / name), run_name="recipe")
    return recipe["main"](workdir=workdir, cache=embeddings().base_encoder.cache)


def facet_lines(block: str) -> list[tuple[str, str]]:
    """(condition, rating) of each ``- [condition | rating | ...]`` context line."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^- \[([^|]+) \| (\w+) \|", block, re.M)]


def test_rag_recipe_retrieves_different_context_per_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_recipe("langchain_rag_views.py", tmp_path)
    printed = capsys.readouterr().out
    assert "embedded 200 reviews once" in printed
    cond_block = printed.split("[view=condition] ")[1].split("[view=rating]")[0]
    rating_block = printed.split("[view=rating] ")[1].split("[view=condition, filter")[0]
    cond, rating = facet_lines(cond_block), facet_lines(rating_block)
    assert len(cond) == len(rating) == 5
    assert cond != rating  # same question, same chain, different context
    # The question is about acne and about being unhappy: each view retrieves by its aspect.
    assert Counter(c for c, _ in cond)["Acne"] >= 4, cond
    assert Counter(r for _, r in rating)["negative"] >= 4, rating
    # The rating view ranks by satisfaction, not by condition: acne no longer dominates.
    assert Counter(c for c, _ in rating)["Acne"] < 4, rating
    assert "(echo) 5 reviews retrieved" in cond_block
    assert out["answers"]["condition"] != out["answers"]["rating"]
    assert {d.metadata["rating"] for d in out["negatives"]} == {"negative"}
    assert out["n_encoded"] <= 201  # the corpus at most once, plus the question


def test_agent_recipe_calls_view_tools(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = run_recipe("langchain_agent_tools.py", tmp_path)
    printed = capsys.readouterr().out
    assert out["tools"] == ["search_by_condition", "search_by_rating", "search_reviews"]
    assert out["view_enum"] == ["condition", "rating"]
    assert "search_by_condition: Search patient drug reviews" in printed
    assert "tool call: search_by_condition(" in printed
    assert "tool call: search_reviews({'query': 'terrible drug, awful side effects'" in printed
    traces = re.findall(r"^    (condition|rating)\s+[\d.]+\s+(.+?)\s{2,}(\w+)$", printed, re.M)
    by_view = {v: [(c, r) for vv, c, r in traces if vv == v] for v in ("condition", "rating")}
    assert [c for c, _ in by_view["condition"]].count("Insomnia") >= 2
    assert [r for _, r in by_view["rating"]].count("negative") >= 3
    assert all(
        a.startswith(("3 reviews found", "4 reviews found")) for a in out["answers"].values()
    )
