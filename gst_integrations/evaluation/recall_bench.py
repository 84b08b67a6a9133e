"""Query-side recall where it can fail: a real 100k+ corpus in Chroma's HNSW index.

The GCIDE dictionary's definitions, embedded once by the default encoder (``--vectors``,
``--rows``: see ``evaluation.datasets.gcide``), go into an embedded Chroma collection with
its HNSW index (cosine). A view is fitted on definitions labelled with their subject field
(Bot., Zool., Law, ...). For held-out definitions as queries, the query-side path (rewrite,
over-fetch, exact re-rank) is compared with the exact view computed over every vector:
recall@10 and p50 latency for "cosine" and "ip" views across over-fetch and the index's
``ef_search``, for the default head family (``lda_mix``) and a pure ``lda`` view (rank
n_classes - 1: the rewritten query lies in a 7-dimensional subspace, the hardest case for
HNSW). An over-fetch of 50 x 10 covers 0.3% of a 178k corpus: this can fail.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from gst_integrations.core.feedback import progress
from gst_integrations.core.heads.head import load_head
from gst_integrations.core.heads.training import fit_head
from gst_integrations.core.search.query_side import QuerySideSearcher
from gst_integrations.stores.chroma import chroma_client, chroma_search_base


def load_corpus(vectors: str, rows: str) -> tuple[np.ndarray, list[dict[str, Any]]]:
    X = np.load(vectors, mmap_mode="r")
    meta = [json.loads(line) for line in open(rows, encoding="utf-8")]
    if len(meta) != len(X):
        raise ValueError(f"{len(X)} vectors but {len(meta)} rows")
    return np.ascontiguousarray(X, np.float32), meta


def exact_view_top(Z: np.ndarray, qz: np.ndarray, metric: str, k: int) -> list[int]:
    """Exact top-k of the materialised view Z (n, z) for a view query qz (z,)."""
    s = Z @ qz
    if metric == "cosine":
        s = s / (np.linalg.norm(Z, axis=1) * np.linalg.norm(qz) + 1e-12)
    top = np.argpartition(-s, k)[:k]
    return top[np.argsort(-s[top])].tolist()


def fit_field_heads(
    X: np.ndarray,
    meta: list[dict[str, Any]],
    heads_dir: str | None,
    rng: np.random.Generator,
    families: tuple[str, ...] = ("lda_mix", "lda"),
    guide_size: int = 2000,
    device: str | None = None,
) -> tuple[dict[str, Any], np.ndarray]:
    """Heads of the GCIDE subject field (the 8 most frequent fields; ``guide_size`` labelled
    definitions, the size users label), reused from ``heads_dir`` when saved there, and the
    held-out labelled rows."""
    fields = [m.get("field") for m in meta]
    counts: dict[str, int] = {}
    for f in fields:
        if f:
            counts[f] = counts.get(f, 0) + 1
    top = {f for f, _ in sorted(counts.items(), key=lambda kv: -kv[1])[:8]}
    perm = rng.permutation([i for i, f in enumerate(fields) if f in top])
    guide, held = perm[:guide_size], perm[guide_size:]
    heads = {}
    for family in families:
        path = Path(heads_dir) / f"field-{family}.safetensors" if heads_dir else None
        if path is not None and path.exists():
            heads[family] = load_head(path, device=device)
            continue
        heads[family] = fit_head(
            "Which subject field is this definition from?",
            X[guide],
            [fields[i] for i in guide],
            encoder="default",
            family=family,
            device=device,
        )
        if path is not None:
            heads[family].save(path)
    return heads, held


def run_recall(
    vectors: str,
    rows: str,
    overfetch: tuple[int, ...] = (1, 2, 5, 10, 20, 50),
    ef_search: tuple[int, ...] = (100, 200, 400),
    n_queries: int = 100,
    k: int = 10,
    seed: int = 0,
    families: tuple[str, ...] = ("lda_mix", "lda"),
    guide_size: int = 2000,
    heads_dir: str | None = None,
) -> dict[str, Any]:
    X, meta = load_corpus(vectors, rows)
    n = len(X)
    rng = np.random.default_rng(seed)
    heads, held = fit_field_heads(X, meta, heads_dir, rng, families, guide_size)
    queries = rng.choice(held, n_queries, replace=False)
    root = tempfile.mkdtemp(prefix="gst-recall-")
    client = chroma_client(root)
    col = client.create_collection(
        "gcide", embedding_function=None, metadata={"hnsw:space": "cosine"}
    )
    t = time.perf_counter()
    ids = [str(i) for i in range(n)]
    for s in range(0, n, 5000):
        col.add(ids=ids[s : s + 5000], embeddings=X[s : s + 5000])
    index_s = time.perf_counter() - t
    exact = {}
    for family, head in heads.items():
        W = head.weight.astype(np.float64)
        Z = X @ head.weight.T  # the materialised view, once per head
        for metric in ("cosine", "ip"):
            exact[family, metric] = {
                int(i): exact_view_top(Z, W @ X[i], metric, k) for i in queries
            }
    generic = QuerySideSearcher(  # the store's own search, as a latency baseline
        {None: (None, 1.0)}, chroma_search_base(col), "cosine", 1
    )
    results = []
    configs = [
        (ef, family, metric, of)
        for ef in ef_search
        for family in heads
        for metric in ("cosine", "ip")
        for of in overfetch
    ]
    for ef, family, metric, of in progress(configs, desc="recall configs"):
        col.modify(configuration={"hnsw": {"ef_search": ef}})
        searcher = QuerySideSearcher(heads[family], chroma_search_base(col), metric, of)
        recalls, lat, base_lat = [], [], []
        for i in queries:
            t = time.perf_counter()
            hits = searcher.search(X[i], k)
            lat.append(time.perf_counter() - t)
            got = {int(h.id) for h in hits}
            recalls.append(len(got & set(exact[family, metric][int(i)])) / k)
        if of == 1:
            for i in queries:
                t = time.perf_counter()
                generic.search(X[i], k)
                base_lat.append(time.perf_counter() - t)
        results.append(
            {
                "family": family,
                "metric": metric,
                "ef_search": ef,
                "overfetch": of,
                "candidates": k * of,
                "recall@10": float(np.mean(recalls)),
                "worst_query_recall@10": float(np.min(recalls)),
                "p50_ms": float(np.percentile(lat, 50) * 1e3),
                "generic_p50_ms": float(np.percentile(base_lat, 50) * 1e3) if base_lat else None,
            }
        )
    return {
        "corpus": f"GCIDE definitions, {n:,} texts, all-MiniLM-L6-v2",
        "head": ", ".join(f"{h.family} {h.in_dim}->{h.out_dim}" for h in heads.values())
        + f", fitted on {guide_size:,} labelled definitions (8 subject fields)",
        "index_s": index_s,
        "n_queries": n_queries,
        "results": results,
    }


def format_recall(out: dict[str, Any]) -> str:
    lines = [
        f"{out['corpus']} in embedded Chroma (HNSW, cosine; built in {out['index_s']:.0f} s); "
        f"view: {out['head']}; {out['n_queries']} held-out queries; recall@10 against the "
        "exact view over every vector.",
        "",
        "| head | metric | ef_search | over-fetch | candidates | recall@10 | worst query "
        "| p50 latency |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in out["results"]:
        lines.append(
            f"| {r['family']} | {r['metric']} | {r['ef_search']} | {r['overfetch']} "
            f"| {r['candidates']} | {r['recall@10']:.3f} | {r['worst_query_recall@10']:.1f} "
            f"| {r['p50_ms']:.1f} ms |"
        )
    base = [r["generic_p50_ms"] for r in out["results"] if r["generic_p50_ms"] is not None]
    lines.append(
        f"\nThe store's own generic top-10 (no view) took p50 {np.median(base):.1f} ms in "
        "the same run."
    )
    return "\n".join(lines)


def main() -> None:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vectors", required=True)
    p.add_argument("--rows", required=True)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--out", help="directory for recall.md and recall.json")
    p.add_argument("--heads-dir", help="keep the fitted heads here and reuse them next time")
    args = p.parse_args()
    out = run_recall(args.vectors, args.rows, n_queries=args.queries, heads_dir=args.heads_dir)
    text = format_recall(out)
    print(text)
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "recall.md").write_text(text + "\n", encoding="utf-8")
        (Path(args.out) / "recall.json").write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
