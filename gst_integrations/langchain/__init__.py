"""LangChain integration: view-aware ``Embeddings``, one retriever for every path, agent tools.

``GSTEmbeddings`` returns base (or one view's) vectors; ``GSTRetriever`` searches stored
vectors in a view chosen per call, materialised over Chroma (``from_chroma``) or through any
``VectorStore``'s own index (``from_vector_store``); ``view_tools`` / ``view_choice_tool`` make
agent tools; ``fit_view`` fits a view on what a Chroma store holds. ``local_chat_model`` wraps
a local Hugging Face model (SmolLM2-135M by default, the ``local-llm`` extra) as a
``ChatHuggingFace`` whose log-probabilities the labeller reads.
"""

from gst_integrations.langchain.embeddings import GSTEmbeddings
from gst_integrations.langchain.fit import fit_view
from gst_integrations.langchain.local_llm import local_chat_model
from gst_integrations.langchain.retriever import (
    SCORE_KEY,
    VIEW_KEY,
    BaseViewRetriever,
    GSTRetriever,
    GSTVectorStoreRetriever,
    hit_to_document,
)
from gst_integrations.langchain.tools import describe_view, tool_name, view_choice_tool, view_tools

__all__ = [
    "SCORE_KEY",
    "VIEW_KEY",
    "BaseViewRetriever",
    "GSTEmbeddings",
    "GSTRetriever",
    "GSTVectorStoreRetriever",
    "describe_view",
    "fit_view",
    "hit_to_document",
    "local_chat_model",
    "tool_name",
    "view_choice_tool",
    "view_tools",
]
