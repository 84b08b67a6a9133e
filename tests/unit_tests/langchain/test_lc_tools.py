"""Agent tools: one retriever tool per view, and one tool with a view enum."""

from __future__ import annotations

import pytest
from langchain_core.tools import BaseTool
from lc_testdata import heads, in_memory_store
from pydantic import ValidationError

from gst_integrations.core.errors import UnknownViewError
from gst_integrations.langchain import (
    GSTVectorStoreRetriever,
    tool_name,
    view_choice_tool,
    view_tools,
)

QUERY = "my skin broke out badly"


@pytest.fixture(scope="module")
def retriever() -> GSTVectorStoreRetriever:
    return GSTVectorStoreRetriever(vectorstore=in_memory_store(), heads=heads(), k=2)


def test_one_tool_per_view(retriever: GSTVectorStoreRetriever) -> None:
    tools = view_tools(retriever, corpus="patient drug reviews")
    assert [t.name for t in tools] == ["search_by_condition", "search_by_rating"]
    cond, rating = tools
    assert isinstance(cond, BaseTool)
    assert "Which condition is the patient treating?" in cond.description
    assert "patient drug reviews" in cond.description and "Acne" in cond.description
    assert "How satisfied" in rating.description
    out = cond.invoke({"query": QUERY})
    expected = retriever.invoke(QUERY, view="condition")
    assert out == "\n\n".join(d.page_content for d in expected)
    assert out != rating.invoke({"query": QUERY})


def test_tools_for_chosen_views_and_artifacts(retriever: GSTVectorStoreRetriever) -> None:
    (tool,) = view_tools(
        retriever, ["rating"], prefix="reviews_", response_format="content_and_artifact"
    )
    assert tool.name == "reviews_rating"
    msg = tool.invoke({"type": "tool_call", "id": "1", "name": tool.name, "args": {"query": QUERY}})
    assert [d.metadata["gst_view"] for d in msg.artifact] == ["rating", "rating"]
    with pytest.raises(UnknownViewError, match="unknown view 'dosage'"):
        view_tools(retriever, ["dosage"])


def test_view_choice_tool_has_an_enum_of_views(retriever: GSTVectorStoreRetriever) -> None:
    tool = view_choice_tool(retriever, corpus="patient drug reviews")
    schema = tool.tool_call_schema.model_json_schema()
    assert schema["properties"]["view"]["enum"] == ["condition", "rating"]
    assert "How satisfied" in schema["properties"]["view"]["description"]
    assert set(schema["required"]) == {"query", "view"}
    out = tool.invoke({"query": QUERY, "view": "rating", "k": 3})
    expected = retriever.invoke(QUERY, view="rating", k=3)
    assert out == "\n\n".join(d.page_content for d in expected)
    with pytest.raises(ValidationError):
        tool.invoke({"query": QUERY, "view": "dosage"})


async def test_view_choice_tool_async(retriever: GSTVectorStoreRetriever) -> None:
    tool = view_choice_tool(retriever)
    out = await tool.ainvoke({"query": QUERY, "view": "condition"})
    assert out == tool.invoke({"query": QUERY, "view": "condition"})


def test_tool_names_are_provider_safe() -> None:
    assert tool_name("Which condition? (v2)") == "search_by_Which_condition_v2"
    assert len(tool_name("x" * 100)) == 64


def test_view_choice_tool_traces_the_retriever_run_and_blends(
    retriever: GSTVectorStoreRetriever,
) -> None:
    from langchain_core.callbacks import BaseCallbackHandler

    class Recorder(BaseCallbackHandler):
        def __init__(self) -> None:
            self.events: list[str] = []

        def on_tool_start(self, *args, **kwargs) -> None:
            self.events.append("tool")

        def on_retriever_start(self, *args, **kwargs) -> None:
            self.events.append("retriever")

    recorder = Recorder()
    tool = view_choice_tool(retriever)
    tool.invoke({"query": QUERY, "view": "condition"}, config={"callbacks": [recorder]})
    assert recorder.events == ["tool", "retriever"]  # the retriever run sits under the tool's
    blended = tool.invoke(
        {"query": QUERY, "view": "condition", "weights": {"condition": 0.7, "generic": 0.3}}
    )
    expected = retriever.invoke(QUERY, view={"condition": 0.7, None: 0.3})
    assert blended == "\n\n".join(d.page_content for d in expected)
    assert expected[0].metadata["gst_view"] == "condition*0.7+generic*0.3"
