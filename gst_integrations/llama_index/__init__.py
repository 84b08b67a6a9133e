"""LlamaIndex adapters: view-aware embedding, retriever, tools and routing.

``GSTEmbedding`` (base vectors to build an index with, or one view's vectors),
``GSTRetriever`` (search an existing index in any view, chosen per call), and helpers that
turn views into ``RetrieverTool``s, a ``RouterRetriever`` and a query engine.
``local_llm`` wraps a local Hugging Face model (SmolLM2-135M by default, the optional
``local-llm`` extra) as a ``HuggingFaceLLM`` whose log-probabilities the labeller reads.
"""

from gst_integrations.llama_index.embedding import GSTEmbedding
from gst_integrations.llama_index.filters import to_chroma_where
from gst_integrations.llama_index.fit import fit_view
from gst_integrations.llama_index.local_llm import local_llm
from gst_integrations.llama_index.retriever import VIEW_KEY, GSTRetriever, ViewNodeWithScore
from gst_integrations.llama_index.tools import (
    ViewRouterRetriever,
    view_description,
    view_query_engine,
    view_router_retriever,
    view_selector,
    view_tools,
)

__all__ = [
    "fit_view",
    "local_llm",
    "VIEW_KEY",
    "GSTEmbedding",
    "GSTRetriever",
    "ViewNodeWithScore",
    "ViewRouterRetriever",
    "to_chroma_where",
    "view_description",
    "view_query_engine",
    "view_router_retriever",
    "view_selector",
    "view_tools",
]
