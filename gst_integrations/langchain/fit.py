"""``fit_view``: a view fitted from the vectors a LangChain Chroma store already holds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from gst_integrations.core.errors import StoreError
from gst_integrations.core.heads.head import Head
from gst_integrations.core.views.fit import fit_view as fit_view_from_source
from gst_integrations.core.views.fit import instruction_first
from gst_integrations.langchain.embeddings import GSTEmbeddings
from gst_integrations.langchain.vector_lookup import chroma_collection
from gst_integrations.stores.chroma import ChromaSource, adopt_fingerprint


def fit_view(
    instruction: str,
    store: Any,
    *,
    labels: Mapping[str, Any] | str | None = None,
    labeler: Any = None,
    categories: Sequence[str] | Mapping[str, str | None] | None = None,
    sample_size: int | None = None,
    **options: Any,
) -> Head:
    """Fit a head for ``instruction`` on a ``langchain_chroma.Chroma`` store's vectors.

    ``labels``: ``{document id: label}`` or a metadata key; or ``labeler`` (an
    ``LLMLabeler``) on ``sample_size`` stored documents; or ``categories`` (names, or
    ``{name: description}``) for a view with no labels, embedded with the store's own
    ``embeddings`` (``heads.zero_label``). Vectors are read in pages; the head
    records the fingerprint the collection recorded, else the store's own ``embeddings``
    (the encoder that filled it through LangChain). ``options`` are ``fit_head`` options.
    """
    instruction, store = instruction_first(instruction, store)
    try:
        from langchain_chroma import Chroma
    except ImportError:  # pragma: no cover - the langchain extra is not installed
        Chroma = None  # noqa: N806
    if Chroma is None or not isinstance(store, Chroma):
        raise StoreError(
            f"fit_view reads stored vectors in pages from a langchain_chroma.Chroma store, not "
            f"a {type(store).__name__}; for another store, read its vectors and labels and "
            "call gst_integrations.fit_head(instruction, vectors, labels, encoder=<its encoder>)"
        )
    collection = chroma_collection(store)
    if isinstance(store.embeddings, GSTEmbeddings) and store.embeddings.view_head is None:
        adopt_fingerprint(collection, store.embeddings.base_encoder)
    return fit_view_from_source(
        instruction,
        ChromaSource(collection),
        labels=labels,
        labeler=labeler,
        categories=categories,
        sample_size=sample_size,
        encoder=store.embeddings,
        **options,
    )


__all__ = ["fit_view"]
