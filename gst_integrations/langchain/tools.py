"""Agent tools over instruction views.

``view_tools`` gives one retriever tool per registered view (``create_retriever_tool``),
named after the view and described by its instruction, so a tool-calling model picks the
view by picking the tool. ``view_choice_tool`` gives a single tool whose ``view`` argument
is an enum of the registered views, for models that handle few tools better.
"""

from __future__ import annotations

from typing import Any, Literal

from langchain_core.callbacks import Callbacks
from langchain_core.documents import Document
from langchain_core.prompts import BasePromptTemplate, PromptTemplate, format_document
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from langchain_core.tools.retriever import create_retriever_tool
from pydantic import BaseModel, Field, create_model

from gst_integrations.core.views.naming import label_examples, tool_name
from gst_integrations.langchain.retriever import GSTRetriever


def describe_view(retriever: GSTRetriever, view: str, corpus: str = "the documents") -> str:
    """A tool description built from the view's instruction and label names."""
    head = retriever.head(view)
    shown = label_examples(head)
    return (
        f"Search {corpus} by similarity under the instruction: {head.instruction!r}. "
        f"Use it when the question is about that aspect (for example: {shown}). "
        "Input: a search query."
    )


def _views(retriever: GSTRetriever, views: list[str] | None) -> list[str]:
    names = retriever.views() if views is None else list(views)
    for name in names:
        retriever.engine.check(name)  # UnknownViewError naming the nearest registered view
    if not names:
        raise ValueError("no views are registered: register a head before making tools")
    return names


def view_tools(
    retriever: GSTRetriever,
    views: list[str] | None = None,
    *,
    prefix: str = "search_by_",
    corpus: str = "the documents",
    document_prompt: BasePromptTemplate | None = None,
    document_separator: str = "\n\n",
    response_format: Literal["content", "content_and_artifact"] = "content",
) -> list[BaseTool]:
    """One ``create_retriever_tool`` per view (all registered views by default)."""
    return [
        create_retriever_tool(
            retriever.with_view(view),
            tool_name(view, prefix),
            describe_view(retriever, view, corpus),
            document_prompt=document_prompt,
            document_separator=document_separator,
            response_format=response_format,
        )
        for view in _views(retriever, views)
    ]


def view_choice_tool(
    retriever: GSTRetriever,
    views: list[str] | None = None,
    *,
    name: str = "search_documents",
    corpus: str = "the documents",
    document_prompt: BasePromptTemplate | None = None,
    document_separator: str = "\n\n",
    response_format: Literal["content", "content_and_artifact"] = "content",
) -> StructuredTool:
    """One tool whose ``view`` argument is an enum of the views (their instructions listed)."""
    names = _views(retriever, views)
    listing = "; ".join(f"{v!r}: {retriever.head(v).instruction}" for v in names)
    args_schema: type[BaseModel] = create_model(
        "ViewSearchInput",
        query=(str, Field(description="What to search for")),
        view=(
            Literal[tuple(names)],  # type: ignore[valid-type]
            Field(description=f"Which aspect to compare documents by. {listing}"),
        ),
        k=(int, Field(default=retriever.k, ge=1, le=50, description="Number of documents")),
        weights=(
            dict[str, float] | None,
            Field(
                default=None,
                description=(
                    "Optional blend instead of one view, for questions about several aspects: "
                    "weights per view name (and 'generic' for plain similarity), e.g. "
                    f"{{{names[0]!r}: 0.7, 'generic': 0.3}}"
                ),
            ),
        ),
    )
    prompt = document_prompt or PromptTemplate.from_template("{page_content}")

    def _format(docs: list[Document]) -> str:
        return document_separator.join(format_document(d, prompt) for d in docs)

    def _view(view: str, weights: dict[str, float] | None) -> Any:
        if not weights:
            return view
        return {None if name == "generic" else name: w for name, w in weights.items()}

    # ``callbacks`` is filled in by the tool (as for create_retriever_tool), so retriever
    # runs appear in agent traces under the tool's run.
    def search(
        query: str,
        view: str,
        k: int = retriever.k,
        weights: dict[str, float] | None = None,
        callbacks: Callbacks = None,
    ) -> Any:
        config: RunnableConfig = {"callbacks": callbacks}
        docs = retriever.invoke(query, config, view=_view(view, weights), k=k)
        text = _format(docs)
        return (text, docs) if response_format == "content_and_artifact" else text

    async def asearch(
        query: str,
        view: str,
        k: int = retriever.k,
        weights: dict[str, float] | None = None,
        callbacks: Callbacks = None,
    ) -> Any:
        config: RunnableConfig = {"callbacks": callbacks}
        docs = await retriever.ainvoke(query, config, view=_view(view, weights), k=k)
        text = _format(docs)
        return (text, docs) if response_format == "content_and_artifact" else text

    return StructuredTool.from_function(
        func=search,
        coroutine=asearch,
        name=tool_name(name, prefix=""),
        description=(
            f"Search {corpus}, comparing them under one of several instructions (views). "
            f"Pick the view that matches the question. Views: {listing}"
        ),
        args_schema=args_schema,
        response_format=response_format,
    )


__all__ = ["describe_view", "tool_name", "view_choice_tool", "view_tools"]
