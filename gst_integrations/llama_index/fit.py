"""``fit_view``: a view fitted from the vectors a LlamaIndex index already holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core import VectorStoreIndex

from gst_integrations.core.errors import StoreError
from gst_integrations.core.heads.head import Head
from gst_integrations.core.views.fit import fit_view as fit_view_from_source
from gst_integrations.core.views.fit import instruction_first
from gst_integrations.llama_index.vector_lookup import chroma_collection, is_chroma_store
from gst_integrations.stores.chroma import ChromaSource


def fit_view(
    instruction: str,
    index: Any,
    *,
    labels: Mapping[str, Any] | str | None = None,
    labeler: Any = None,
    categories: Sequence[str] | Mapping[str, str | None] | None = None,
    sample_size: int | None = None,
    **options: Any,
) -> Head:
    """Fit a head for ``instruction`` on the vectors of a ``VectorStoreIndex`` (or its
    ``ChromaVectorStore``).

    ``labels``: ``{node id: label}`` or a metadata key; or ``labeler`` (an ``LLMLabeler``)
    on ``sample_size`` stored nodes; or ``categories`` (names, or ``{name: description}``)
    for a view with no labels, embedded with the index's embed model (``encoder=`` for a
    bare vector store). The head records the fingerprint the collection
    recorded, else the index's embed model. ``options`` are ``fit_head`` options.
    """
    instruction, index = instruction_first(instruction, index)
    store = index.vector_store if isinstance(index, VectorStoreIndex) else index
    if not is_chroma_store(store):
        raise StoreError(
            f"fit_view reads stored vectors in pages from a ChromaVectorStore, not a "
            f"{type(store).__name__}; for another store, read its vectors and labels and "
            "call gst_integrations.fit_head(instruction, vectors, labels, encoder=<its encoder>)"
        )
    options.setdefault("encoder", getattr(index, "_embed_model", None))
    return fit_view_from_source(
        instruction,
        ChromaSource(chroma_collection(store)),
        labels=labels,
        labeler=labeler,
        categories=categories,
        sample_size=sample_size,
        **options,
    )


__all__ = ["fit_view"]
