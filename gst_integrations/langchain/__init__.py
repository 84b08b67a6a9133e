"""LangChain integration: view-aware ``Embeddings``, retrievers and agent tools.

``GSTEmbeddings`` returns view (or base) vectors; ``GSTRetriever`` searches materialised views
over base vectors stored once in Chroma; ``GSTVectorStoreRetriever`` reaches any LangChain
``VectorStore`` with linear heads; ``view_tools`` / ``view_choice_tool`` make agent tools.
``local_chat_model`` wraps a local Hugging Face model (SmolLM2-135M by default, the optional
``local-llm`` extra) as a ``ChatHuggingFace`` whose log-probabilities the labeller reads.
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
)
from gst_integrations.langchain.tools import describe_view, tool_name, view_choice_tool, view_tools

__all__ = [
    "fit_view",
    "local_chat_model",
    "SCORE_KEY",
    "VIEW_KEY",
    "BaseViewRetriever",
    "GSTEmbeddings",
    "GSTRetriever",
    "GSTVectorStoreRetriever",
    "describe_view",
    "tool_name",
    "view_choice_tool",
    "view_tools",
]
