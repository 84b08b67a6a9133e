"""How the query side gets each candidate's stored base vector: one rule for every store.

The exact re-rank of a view needs the base vector the store holds for each candidate. In
order, a candidate's vector comes from:

1. the store's answer itself (many stores return embeddings with their hits);
2. the user's ``vector_lookup`` callable (framework documents or nodes -> (n, d) array);
3. the store adapter of its type (``BaseIndex.stored_vectors``: read by id);
4. ``vector_lookup="reencode"``: the candidate texts re-encoded with the base encoder,
   approximate when the store embedded anything else, so it is opt-in and warns once;
5. otherwise a ``StoreError`` naming these options. Nothing is silently ranked in another
   order.

A store whose type cannot give vectors and no ``vector_lookup`` is refused when the
retriever is built. Candidates the store no longer holds (deleted since its answer) are
dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import numpy as np

from gst_integrations.core.encoders.cache import CachedEncoder
from gst_integrations.core.errors import ApproximateSearchWarning, StoreError
from gst_integrations.core.feedback import warn_once
from gst_integrations.core.hits import Candidate

__all__ = ["REENCODE", "BaseIndex", "VectorLookupRule", "no_vectors_error"]

#: ``vector_lookup="reencode"``: re-encode candidate texts (approximate; warns once).
REENCODE = "reencode"

LOOKUP_HINT = (
    "pass vector_lookup=<callable taking the store's documents or nodes and returning a "
    "(len(docs), d) array of their stored base vectors, in order>, or vector_lookup='reencode' "
    "to re-encode candidate texts with the base encoder (approximate when the store embedded "
    "anything else)"
)


@runtime_checkable
class BaseIndex(Protocol):
    """A store's own index as the query side sees it; each framework adapter implements it."""

    #: The store's kind, for messages (``langchain_chroma.Chroma``).
    name: str
    #: Whether ``stored_vectors`` can read vectors for this store type.
    reads_vectors: bool

    def query(self, vector: np.ndarray, n: int, where: Any) -> list[Candidate]:
        """The store's ``n`` nearest rows to a base-space vector, each with its framework
        object as ``payload`` (and its vector when the store returned it)."""
        ...

    def stored_vectors(self, candidates: Sequence[Candidate]) -> list[np.ndarray | None] | None:
        """Stored base vectors of candidates, in order (None for a row the store no longer
        holds); None as a whole when the store gave no vectors."""
        ...

    def embed_texts(self, candidates: Sequence[Candidate]) -> list[str]:
        """The texts the store embedded for candidates (for ``vector_lookup="reencode"``)."""
        ...


def no_vectors_error(store_name: str) -> StoreError:
    """The error for a store whose stored vectors cannot be read."""
    return StoreError(
        f"cannot read stored base vectors from a {store_name}: the view re-rank needs each "
        f"candidate's stored base vector, and this store does not give them; {LOOKUP_HINT}"
    )


def user_vectors(lookup: Callable[[Sequence[Any]], Any], items: Sequence[Any]) -> list[np.ndarray]:
    """Call a user ``vector_lookup`` and check it returned one vector per item."""
    got = lookup(items)
    if got is None:
        raise StoreError(
            "vector_lookup returned None: it must return the stored base vectors, a "
            "(len(docs), d) array in the order it was given the documents or nodes"
        )
    rows = [np.asarray(v, dtype=np.float32) for v in got]
    if len(rows) != len(items) or any(r.ndim != 1 for r in rows):
        raise StoreError(
            f"vector_lookup must return a (len(docs), d) array, one row per document or node in "
            f"order; got {len(rows)} rows for {len(items)} items"
        )
    return rows


class VectorLookupRule:
    """Fills candidates' base vectors by the rule in the module docstring."""

    def __init__(self, option: Any, index: BaseIndex, encoder: CachedEncoder) -> None:
        if not (option is None or option == REENCODE or callable(option)):
            raise TypeError(
                "vector_lookup must be None, 'reencode' or a callable documents/nodes -> "
                f"(len(docs), d) array of stored base vectors, got {option!r}"
            )
        if option is None and not index.reads_vectors:
            raise no_vectors_error(index.name)  # fail now, not on the first view search
        self.option = option
        self.index = index
        self.encoder = encoder

    def fill(self, candidates: list[Candidate], dim: int | None = None) -> list[Candidate]:
        """``candidates`` with their stored base vectors; rows the store lost are dropped."""
        todo = [c for c in candidates if c.vector is None]
        if todo:
            for cand, vec in zip(todo, self._lookup(todo), strict=True):
                cand.vector = vec
        kept = [c for c in candidates if c.vector is not None]
        if candidates and not kept:
            raise StoreError(
                f"the {self.index.name} holds none of the candidates it just returned, so their "
                f"stored vectors cannot be read by id; {LOOKUP_HINT}"
            )
        for cand in kept:
            if dim is not None and np.shape(cand.vector) != (dim,):
                raise StoreError(
                    f"candidate {cand.id!r} has a stored vector of shape {np.shape(cand.vector)}; "
                    f"the view's head reads {dim}-d base vectors"
                )
        return kept

    def _lookup(self, todo: list[Candidate]) -> list[np.ndarray | None]:
        if callable(self.option):
            return list(user_vectors(self.option, [c.payload for c in todo]))
        found = self.index.stored_vectors(todo) if self.index.reads_vectors else None
        if found is not None:
            return found
        if self.option == REENCODE:
            warn_once(
                ("reencode", id(self.index)),
                f"vector_lookup='reencode': candidate vectors for the {self.index.name} are "
                "re-encoded from their text with the base encoder, not read from the store. "
                "The view re-rank is approximate if the store embedded anything else (text "
                "plus metadata, other chunks); pass a vector_lookup callable that reads the "
                "stored vectors for an exact re-rank",
                ApproximateSearchWarning,
            )
            return list(self.encoder.encode(self.index.embed_texts(todo)))
        raise no_vectors_error(self.index.name)
