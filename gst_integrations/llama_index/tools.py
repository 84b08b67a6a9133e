"""Views as LlamaIndex tools: one ``RetrieverTool`` per view, a router, a query engine.

Each view becomes a ``RetrieverTool`` named after the view and described by its head's
instruction and label names, so an agent or a selector can choose a view from what the
view is *for*. ``view_router_retriever`` puts those tools behind a ``RouterRetriever``:

* with a real LLM, the selector is ``LLMSingleSelector`` (the LLM reads the descriptions);
* without an LLM (or with ``selector=view_selector(retriever)``), it is
  ``EmbeddingSingleSelector`` over the base encoder: deterministic and offline, it picks the
  view whose description is nearest the query. No LLM is looked up for it.

``view_query_engine`` answers with sources from one view, or from the routed view, with the
``llm`` it is given, else ``Settings.llm``, else a clear error: no library code falls back
to a mock LLM.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from llama_index.core import Settings
from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.base_selector import BaseSelector
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.llms import LLM, MockLLM
from llama_index.core.query_engine import RetrieverQueryEngine
from llama_index.core.retrievers import RouterRetriever
from llama_index.core.selectors import EmbeddingSingleSelector, LLMSingleSelector
from llama_index.core.tools import RetrieverTool, ToolMetadata

from gst_integrations.core.errors import GSTError
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


def resolve_llm(llm: LLM | None, what: str) -> LLM:
    """``llm``, else ``Settings.llm``, else a GSTError saying how to give one."""
    if llm is not None:
        return llm
    try:
        return Settings.llm
    except Exception as exc:  # no default LLM installed or configured
        raise GSTError(
            f"{what} needs an LLM: pass llm=..., or set llama_index.core.Settings.llm "
            f"(for example a local HuggingFaceLLM); none could be resolved: {exc}"
        ) from None


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


class ViewRouterRetriever(RouterRetriever):
    """A ``RouterRetriever`` that asks for an LLM only when its selector needs one.

    ``RouterRetriever`` resolves ``Settings.llm`` even for a selector that uses none (and
    offline that raises); the selector here is given, so the LLM is only what was passed.
    """

    def __init__(
        self,
        selector: BaseSelector,
        retriever_tools: Sequence[RetrieverTool],
        llm: LLM | None = None,
        verbose: bool = False,
    ) -> None:
        self._llm = llm
        self._selector = selector
        self._retrievers = [tool.retriever for tool in retriever_tools]
        self._metadatas = [tool.metadata for tool in retriever_tools]
        BaseRetriever.__init__(self, callback_manager=Settings.callback_manager, verbose=verbose)


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

    With ``llm`` (a real LLM) the selector is ``LLMSingleSelector``; without it, the offline
    embedding selector. The returned nodes say which view scored them
    (``ViewNodeWithScore.view``).
    """
    tools = view_tools(retriever, views, similarity_top_k=similarity_top_k)
    selector = selector or view_selector(retriever, llm=llm, embed_model=embed_model)
    return ViewRouterRetriever(selector, tools, llm=llm)


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
    ``llm`` is the LLM that answers; without one, ``Settings.llm`` (a clear error if unset).
    """
    llm = resolve_llm(llm, "view_query_engine")
    if route:
        source: Any = view_router_retriever(
            retriever,
            selector=selector or view_selector(retriever, llm=llm),
            llm=llm,
            similarity_top_k=similarity_top_k,
        )
    else:
        source = retriever.with_options(view=view, similarity_top_k=similarity_top_k)
    return RetrieverQueryEngine.from_args(source, llm=llm, **engine_kwargs)


__all__ = [
    "ViewRouterRetriever",
    "tool_name",
    "view_description",
    "view_query_engine",
    "view_router_retriever",
    "view_selector",
    "view_tools",
]
