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
on a real 100k+ corpus (docs/bench/recall-gcide.md).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from gst_integrations.core.errors import ApproximateSearchWarning, StoreError
from gst_integrations.core.feedback import warn_once
from gst_integrations.core.heads.blend import METRICS, Blend
from gst_integrations.core.heads.head import Head
from gst_integrations.core.hits import REV_KEY, Candidate, SearchHit
from gst_integrations.core.validation import as_float32_matrix, check_k, check_query_vector

#: Candidates fetched per result, then re-ranked exactly. Over Chroma's HNSW the search ef is
#: at least the number of results asked for, so this also sets the index's ef. On 178,216
#: GCIDE definitions (``evaluation.recall_bench``), inner-product views reached recall@10
#: 0.955 (lda_mix) / 0.913 (lda) at 1-10x and 0.993 / 0.971 at 20x.
DEFAULT_OVERFETCH = 20
#: The most candidates asked of a store in one request (stores cap it at their size;
#: chromadb's count is a 32-bit integer and overflows above 2**32 - 1).
MAX_CANDIDATES = 2**31 - 1

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
    q = check_query_vector(base_query_vec, dim=head.in_dim)
    W = head.weight.astype(np.float64)
    return W.T @ (W @ q.astype(np.float64))


#: One part of a blend: a linear head (None: the generic vectors) and its weight.
BlendPart = tuple[Head | None, float]


class QuerySideSearcher:
    """Search a linear view (or a blend of views) through a base-index search function.

    ``search_base(vector, n)`` returns the store's n nearest ``Candidate`` for a base-space
    vector (its own metric; base vectors should have unit norm, see the module docstring),
    each with its stored base vector. ``head`` is one linear head, a ``Blend``, or a blend
    ``{name: (head or None for generic, weight)}``: a weighted sum of linear views is
    linear, so the store is searched with r = Σ wᵢ WᵢᵀWᵢq (each view's query part
    normalised for cosine) and the candidates are re-ranked exactly by Σ wᵢ simᵢ(q, x) on
    their base vectors. Weights are validated as everywhere (``core.heads.blend``).
    """

    def __init__(
        self,
        head: Head | Blend | Mapping[str | None, BlendPart],
        search_base: Callable[[np.ndarray, int], Sequence[Candidate]],
        metric: str = DEFAULT_METRIC,
        overfetch: int = DEFAULT_OVERFETCH,
        view: str | None = None,
    ) -> None:
        if metric not in METRICS:
            raise ValueError(f"unknown metric {metric!r}; choose one of {METRICS}")
        if metric == "cosine":
            warn_once("query-side-cosine", COSINE_AT_SCALE, ApproximateSearchWarning)
        if isinstance(overfetch, bool) or not isinstance(overfetch, int) or overfetch < 1:
            raise ValueError(f"overfetch must be an integer >= 1, got {overfetch!r}")
        if isinstance(head, Blend):
            blend = head
        elif isinstance(head, Mapping):
            blend = Blend.of_heads(head)
        else:
            blend = Blend({view or head.name or None: (head, 1.0)}, view or head.name or None)
        for part, _ in blend.parts.values():
            if part is not None and not part.is_linear:
                rewrite_query(part, np.zeros(part.in_dim, np.float32))  # raises the clear error
        self.blend = blend
        self.parts = blend.parts
        self.head = head if isinstance(head, Head) else None
        self.search_base = search_base
        self.metric = metric
        self.overfetch = overfetch
        self.view = view if view is not None else blend.label
        self._W = {
            k: (h.weight.astype(np.float64) if h is not None else None)
            for k, (h, _) in self.parts.items()
        }

    def rewrite(self, q: np.ndarray) -> np.ndarray:
        """The base-space query r whose inner product with x ranks like the view (float64)."""
        r = np.zeros_like(q, dtype=np.float64)
        for k, (_, w) in self.parts.items():
            W = self._W[k]
            qz = q if W is None else W @ q
            if self.metric == "cosine" or W is None:
                qz = qz / (np.linalg.norm(qz) + 1e-300)
            r += w * (qz if W is None else W.T @ qz)
        return r

    def search(self, base_query_vec: Any, k: int = 4) -> list[SearchHit]:
        """Top-k for a base query vector: over-fetched by the store, re-ranked exactly."""
        return self.search_candidates(base_query_vec, k)[0]

    def search_candidates(
        self, base_query_vec: Any, k: int = 4, with_vectors: bool = False
    ) -> tuple[list[SearchHit], list[Candidate]]:
        """Top-k hits, and the candidates they came from (in hit order)."""
        check_k(k)
        first = next(iter(self.parts.values()))[0]
        d = first.in_dim if first is not None else np.asarray(base_query_vec).shape[-1]
        q = check_query_vector(base_query_vec, dim=d).astype(np.float64)
        r = self.rewrite(q)
        norm = float(np.linalg.norm(r))
        # The store only needs r's direction (see module docstring); unit length keeps it finite.
        r_dir = (r / norm if norm > 0 else r).astype(np.float32)
        cands = list(self.search_base(r_dir, min(int(k) * self.overfetch, MAX_CANDIDATES)))
        if not cands:
            return [], []
        missing = [c.id for c in cands if c.vector is None]
        if missing:
            raise StoreError(
                f"the base store returned no vectors for {len(missing)} candidate(s) "
                f"(e.g. {missing[:3]}), so the view cannot be re-ranked exactly; pass a "
                "vector_lookup that returns the stored base vectors"
            )
        X = np.stack([np.asarray(c.vector, dtype=np.float64) for c in cands])
        qv = self.blend.vectors(q[None, :], self.metric)[0]
        V = self.blend.vectors(X, self.metric)
        scores = V @ qv
        order = np.argsort(-scores, kind="stable")[:k]
        hits = [
            SearchHit(
                id=cands[i].id,
                document=cands[i].document,
                metadata={k: v for k, v in (cands[i].metadata or {}).items() if k != REV_KEY},
                score=float(scores[i]),
                view=self.view,
                vector=V[i].astype(np.float32) if with_vectors else None,
            )
            for i in order
        ]
        return hits, [cands[i] for i in order]


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
