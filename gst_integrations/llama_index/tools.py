"""Views as LlamaIndex tools: one ``RetrieverTool`` per view, a router, a query engine.

Each view becomes a ``RetrieverTool`` named after the view and described by its head's
instruction and label names, so an agent or a selector can choose a view from what the
view is *for*. ``view_router_retriever`` puts those tools behind a ``RouterRetriever``:

* with a real LLM, the selector is ``LLMSingleSelector`` (the LLM reads the descriptions);
* offline (no LLM, or ``MockLLM``), it is ``EmbeddingSingleSelector`` over the base
  encoder: deterministic, it picks the view whose description is nearest the query.
  (``MockLLM`` cannot drive ``LLMSingleSelector``: it echoes the prompt, which is not the
  JSON the selector parses.)

``view_query_engine`` answers with sources from one view, or from the routed view. It
uses ``MockLLM`` unless you pass a real LLM, e.g.
``view_query_engine(retriever, route=True, llm=OpenAI(model="gpt-4o-mini"))``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core.base.base_selector import BaseSelector
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import LLM, MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import RouterRetriever
from llama_index.core.selectors import EmbeddingSingleSelector, LLMSingleSelector
from llama_index.core.tools import RetrieverTool, ToolMetadata

from gst_integrations.core.views.naming import label_examples, tool_name
from gst_integrations.llama_index.embedding import GSTEmbedding
from gst_integrations.llama_index.retriever import GSTRetriever


def view_description(retriever: GSTRetriever, view: str) -> str:
    """What a view is for, from its head's instruction and label names."""
    head = retriever.head(view)
    shown = label_examples(head)
    return (
        f"{head.instruction.strip()} Retrieves texts that are similar in this respect "
        f"(view '{view}'; e.g. {shown})."
    )


def view_tools(
    retriever: GSTRetriever,
    views: Sequence[str] | None = None,
    similarity_top_k: int | None = None,
) -> list[RetrieverTool]:
    """One ``RetrieverTool`` per view (all registered views by default)."""
    names = list(views) if views is not None else retriever.views()
    if not names:
        raise ValueError("no views to make tools from: register a head first")
    tools = []
    for view in names:
        scoped = retriever.with_options(view=view, similarity_top_k=similarity_top_k)
        tools.append(
            RetrieverTool(
                retriever=scoped,
                metadata=ToolMetadata(
                    name=tool_name(view, prefix="", suffix="_view"),
                    description=view_description(retriever, view),
                ),
            )
        )
    return tools


def _is_real_llm(llm: LLM | None) -> bool:
    return llm is not None and not isinstance(llm, MockLLM)


def view_selector(
    retriever: GSTRetriever,
    llm: LLM | None = None,
    embed_model: BaseEmbedding | None = None,
) -> BaseSelector:
    """``LLMSingleSelector`` for a real LLM, else an offline ``EmbeddingSingleSelector``."""
    if _is_real_llm(llm):
        return LLMSingleSelector.from_defaults(llm=llm)
    if embed_model is None:
        embed_model = GSTEmbedding(encoder=retriever.base_encoder)
    return EmbeddingSingleSelector(embed_model=embed_model)


def view_router_retriever(
    retriever: GSTRetriever,
    views: Sequence[str] | None = None,
    *,
    selector: BaseSelector | None = None,
    llm: LLM | None = None,
    embed_model: BaseEmbedding | None = None,
    similarity_top_k: int | None = None,
) -> RouterRetriever:
    """A ``RouterRetriever`` whose selector picks the view from the views' descriptions.

    The returned nodes carry the chosen view in ``node.metadata["gst_view"]``.
    """
    tools = view_tools(retriever, views, similarity_top_k=similarity_top_k)
    selector = selector or view_selector(retriever, llm=llm, embed_model=embed_model)
    # RouterRetriever falls back to Settings.llm, which resolves OpenAI: never offline.
    return RouterRetriever(selector=selector, retriever_tools=tools, llm=llm or MockLLM())


def view_query_engine(
    retriever: GSTRetriever,
    view: str | None = None,
    *,
    route: bool = False,
    llm: LLM | None = None,
    selector: BaseSelector | None = None,
    similarity_top_k: int | None = None,
    **engine_kwargs: Any,
) -> RetrieverQueryEngine:
    """A query engine answering from one view (or the routed view, with ``route=True``).

    ``response.source_nodes`` are the nodes the answer used, each tagged with its view.
    ``llm`` defaults to ``MockLLM`` (offline); pass any LlamaIndex LLM for real answers.
    """
    llm = llm or MockLLM()
    if route:
        source: Any = view_router_retriever(
            retriever, selector=selector, llm=llm, similarity_top_k=similarity_top_k
        )
    else:
        source = retriever.with_options(view=view, similarity_top_k=similarity_top_k)
    return RetrieverQueryEngine.from_args(source, llm=llm, **engine_kwargs)


__all__ = [
    "tool_name",
    "view_description",
    "view_query_engine",
    "view_router_retriever",
    "view_selector",
    "view_tools",
]
