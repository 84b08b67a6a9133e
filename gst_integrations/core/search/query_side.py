"""The query-side path: search a view of a linear head through the *base* index.

For a linear head x -> Wx, inner products in the view are inner products in the base
space with a rewritten query: (Wq)·(Wx) = (WᵀWq)·x. Any existing base index (Chroma's
HNSW, any LangChain / LlamaIndex vector store) can therefore be searched with r = WᵀWq,
with nothing materialised.

When is it exact?
* metric "ip": the view ranks documents by r·x. If the stored base vectors have unit norm
  (all-MiniLM-L6-v2 and most sentence encoders normalise), a base index ranks by the same
  quantity whatever its metric: L2 gives |r - x|² = |r|² + 1 - 2 r·x and cosine gives
  r·x / |r|, both monotone in r·x for a fixed query. So with an *exact* base index the top-k
  equals the materialised view's top-k (an ANN index adds only its own approximation).
* metric "cosine": the view ranks by r·x / |Wx|, and |Wx| varies per document, so base
  order is only a proxy. We over-fetch ``k * overfetch`` candidates by r·x and re-rank them
  exactly on their base vectors; recall@k against the materialised view is measured in the
  benchmarks. Without candidate vectors the re-rank is impossible: a StoreError says so.

Over an ANN index (HNSW) the rewritten query is far from the data the index was built
for, so both metrics over-fetch and re-rank exactly; defaults are chosen by recall measured
on a real 100k+ corpus (README).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gst_integrations.core.errors import StoreError
from gst_integrations.core.heads.blend import informative_weights
from gst_integrations.core.heads.head import Head
from gst_integrations.core.hits import Candidate, SearchHit
from gst_integrations.core.validation import as_float32_matrix, check_k

#: Candidates fetched per result, then re-ranked exactly. Over Chroma's HNSW the search ef is
#: at least the number of results asked for, so this also sets the index's ef. On 178,216
#: GCIDE definitions (``evaluation.recall_bench``), inner-product views reached recall@10
#: 0.955 (lda_mix) / 0.913 (lda) at 1-10x and 0.993 / 0.971 at 20x.
DEFAULT_OVERFETCH = 20

#: The query-side path ranks by the view's inner product by default: the base index then
#: orders candidates by the view's own score, and recall is the index's. A cosine view ranks
#: by r·x / |Wx|, which no base-index order follows: on the same corpus, recall@10 stayed at
#: 0.17 (20x) to 0.46 (50x), so cosine views at scale belong to ``ViewEngine`` or write-back.
DEFAULT_METRIC = "ip"

COSINE_AT_SCALE = (
    "a cosine view on the query-side path re-ranks candidates the base index ordered by "
    "inner product, and no over-fetch fixes that at scale (recall@10 0.17-0.46 on 178k "
    "texts with 200-500 candidates): use metric='ip' (the default) here, or materialise "
    "the view (ViewEngine, write_view_collection) for exact cosine"
)
_cosine_warned = False


def warn_cosine_once() -> None:
    """Say once per process that cosine views do not scale on the query-side path."""
    global _cosine_warned
    if not _cosine_warned:
        _cosine_warned = True
        warnings.warn(COSINE_AT_SCALE, UserWarning, stacklevel=3)


def rewrite_query(head: Head, base_query_vec: Any) -> np.ndarray:
    """WᵀWq (d,) for a linear head: its inner product with x equals (Wq)·(Wx).

    Computed as Wᵀ(Wq) in float64 (O(zd), no d×d matrix), so large weights cannot overflow.
    """
    return _rewrite64(head, base_query_vec).astype(np.float32)


def _rewrite64(head: Head, base_query_vec: Any) -> np.ndarray:
    if not head.is_linear:
        raise TypeError(
            f"the query-side path needs a linear head; {head.name or head.instruction!r} is a "
            f"{head.family} head: materialise its view with ViewEngine instead"
        )
    q = as_float32_matrix(base_query_vec, name="query vector", dim=head.in_dim)[0]
    W = head.weight.astype(np.float64)
    return W.T @ (W @ q.astype(np.float64))


#: One part of a blend: a linear head (None: the generic vectors) and its weight.
BlendPart = tuple[Head | None, float]


class QuerySideSearcher:
    """Search a linear view (or a blend of views) through a base-index search function.

    ``search_base(vector, n)`` returns the store's n nearest ``Candidate`` for a base-space
    vector (its own metric; base vectors should have unit norm, see the module docstring).
    ``head`` is one linear head, or a blend ``{name: (head or None for generic, weight)}``:
    a weighted sum of linear views is linear, so the store is searched with
    r = Σ wᵢ WᵢᵀWᵢq (each view's query part normalised for cosine) and the candidates are
    re-ranked exactly by Σ wᵢ simᵢ(q, x) on their base vectors.
    """

    def __init__(
        self,
        head: Head | Mapping[str | None, BlendPart],
        search_base: Callable[[np.ndarray, int], Sequence[Candidate]],
        metric: str = DEFAULT_METRIC,
        overfetch: int = DEFAULT_OVERFETCH,
        view: str | None = None,
    ) -> None:
        if metric not in ("cosine", "ip"):
            raise ValueError(f"unknown metric {metric!r}; choose 'cosine' or 'ip'")
        if metric == "cosine":
            warn_cosine_once()
        if overfetch < 1:
            raise ValueError("overfetch must be >= 1")
        parts = dict(head) if isinstance(head, Mapping) else {view or head.name: (head, 1.0)}
        for part, _ in parts.values():
            if part is not None and not part.is_linear:
                rewrite_query(part, np.zeros(part.in_dim, np.float32))  # raises the clear error
        parts = {k: (h, float(w)) for k, (h, w) in parts.items() if w > 0}
        if not parts:
            raise ValueError("a blend needs a positive weight")
        # A view that fell back to the generic vectors is dropped from a blend, as in the engine.
        kept = informative_weights(
            {k: w for k, (_, w) in parts.items()}, lambda k: bool(parts[k][0].fell_back)
        )
        self.parts = {k: (parts[k][0] if k in parts else None, w) for k, w in kept.items()}
        self.head = head if isinstance(head, Head) else None
        self.search_base = search_base
        self.metric = metric
        self.overfetch = overfetch
        self.view = (
            view
            if view is not None
            else (self.head.name or None if self.head is not None else _blend_label(self.parts))
        )
        self._W = {
            k: (h.weight.astype(np.float64) if h is not None else None)
            for k, (h, _) in self.parts.items()
        }
        # One inner-product view is ranked by the base index's own order when the store
        # returns no vectors (exact over an exact index).
        self._store_order_ok = len(self.parts) == 1 and self.head is not None and metric == "ip"

    def _rewrite(self, q: np.ndarray) -> np.ndarray:
        r = np.zeros_like(q)
        for k, (_, w) in self.parts.items():
            W = self._W[k]
            qz = q if W is None else W @ q
            if self.metric == "cosine" or W is None:
                qz = qz / (np.linalg.norm(qz) + 1e-300)
            r += w * (qz if W is None else W.T @ qz)
        return r

    def _scores(self, q: np.ndarray, X: np.ndarray) -> np.ndarray:
        total = np.zeros(len(X))
        for k, (_, w) in self.parts.items():
            W = self._W[k]
            qz, Z = (q, X) if W is None else (W @ q, X @ W.T)
            s = Z @ qz
            if self.metric == "cosine" or W is None:
                s = s / (np.linalg.norm(Z, axis=1) * np.linalg.norm(qz) + 1e-300)
            total += w * s
        return total

    def search(self, base_query_vec: Any, k: int = 4) -> list[SearchHit]:
        """Top-k for a base query vector: over-fetched by the store, re-ranked exactly."""
        check_k(k)
        dim = next(iter(self.parts.values()))[0]
        d = dim.in_dim if dim is not None else np.asarray(base_query_vec).shape[-1]
        q = as_float32_matrix(base_query_vec, name="query vector", dim=d)[0].astype(np.float64)
        r = self._rewrite(q)
        norm = float(np.linalg.norm(r))
        # The store only needs r's direction (see module docstring); unit length keeps it finite.
        r_dir = (r / norm if norm > 0 else r).astype(np.float32)
        n = k * self.overfetch
        cands = list(self.search_base(r_dir, int(n)))
        if not cands:
            return []
        missing = [c.id for c in cands if c.vector is None]
        if missing:
            if not self._store_order_ok:
                raise StoreError(
                    f"the base store returned no vectors for {len(missing)} candidate(s) "
                    f"(e.g. {missing[:3]}), so the view cannot be re-ranked exactly; pass a "
                    "vector_lookup that returns the stored base vectors"
                )
            return [
                self._hit(c, c.score if c.score is not None else float("nan")) for c in cands[:k]
            ]
        X = np.stack([np.asarray(c.vector, dtype=np.float64) for c in cands])
        scores = self._scores(q, X)
        order = np.argsort(-scores, kind="stable")[:k]
        return [self._hit(cands[i], float(scores[i])) for i in order]

    def _hit(self, c: Candidate, score: float) -> SearchHit:
        return SearchHit(
            id=c.id,
            document=c.document,
            metadata=dict(c.metadata or {}),
            score=score,
            view=self.view,
        )


def _blend_label(parts: Mapping[str | None, BlendPart]) -> str | None:
    """How hits name a blend: as ``view_label`` in the engine (one part: its name)."""
    if len(parts) == 1:
        return next(iter(parts))
    return "+".join(f"{k or 'generic'}*{w:g}" for k, (_, w) in parts.items())


def array_search_base(
    ids: Sequence[str],
    vectors: Any,
    documents: Sequence[str | None] | None = None,
    metadatas: Sequence[dict[str, Any]] | None = None,
) -> Callable[[np.ndarray, int], list[Candidate]]:
    """An exact inner-product base index over arrays (tests, and a reference for stores)."""
    X = as_float32_matrix(vectors)
    ids = list(ids)

    def search(vec: np.ndarray, n: int) -> list[Candidate]:
        s = X @ np.asarray(vec, np.float32)
        n = min(n, len(ids))
        top = np.argpartition(-s, n - 1)[:n]
        top = top[np.argsort(-s[top], kind="stable")]
        return [
            Candidate(
                id=ids[i],
                document=documents[i] if documents is not None else None,
                metadata=dict(metadatas[i] or {}) if metadatas is not None else {},
                vector=X[i],
                score=float(s[i]),
            )
            for i in top
        ]

    return search
