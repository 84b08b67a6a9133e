"""Helpers shared by the Milvus Lite tests (imported by name: this folder is on sys.path)."""

from __future__ import annotations

from typing import Any

import numpy as np


def lite_milvus_class() -> type:
    """``langchain_milvus.Milvus`` that works over Milvus Lite with pymilvus 2.6.

    langchain-milvus 0.3.3 builds an ORM ``Collection(using=self.alias)`` whose alias
    pymilvus 2.6 never registers (``ConnectionNotExistException``, upstream
    langchain-milvus issue #130); registering it lazily against the same .db fixes it.
    """
    from langchain_milvus import Milvus
    from pymilvus import connections

    class LiteMilvus(Milvus):
        def __init__(self, *args: Any, connection_args: dict[str, Any], **kwargs: Any) -> None:
            self._lite_uri = connection_args["uri"]
            super().__init__(*args, connection_args=connection_args, **kwargs)

        @property
        def col(self) -> Any:
            if not connections.has_connection(self.alias):
                connections.connect(alias=self.alias, uri=self._lite_uri)
            return Milvus.col.fget(self)

        @col.setter
        def col(self, value: Any) -> None:
            Milvus.col.fset(self, value)

    return LiteMilvus


def exact_view_top(head: Any, X: np.ndarray, ids: list[str], q: np.ndarray, k: int) -> list[str]:
    """The materialised cosine view's top-k, by brute force over every stored vector."""
    Z = head.transform(X).astype(np.float64)
    qz = head.transform(q[None, :])[0].astype(np.float64)
    s = Z @ qz / (np.linalg.norm(Z, axis=1) * np.linalg.norm(qz))
    return [ids[i] for i in np.argsort(-s, kind="stable")[:k]]


QUERIES = (
    "the pill made me gain weight and gave me mood swings",
    "I could not get out of bed and felt hopeless for months",
    "my back pain after surgery finally eased",
    "my skin cleared up but it dried out my lips",
    "it worked at first then stopped helping",
    "terrible side effects, I stopped after a week",
)
