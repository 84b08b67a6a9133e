"""What a user meets on a live Chroma store, end to end, with the baseline in the same run.

For each size N: a persistent (embedded) Chroma collection holds N unit base vectors with
short documents and metadata, written with revisions as ``embed_into_chroma`` writes them.
The vectors are embedding-shaped: drawn from a Gaussian fitted to real vectors of the base
encoder (``evaluation.embedding_rows``), because the engine's approximate index is on by
default at this scale and random isotropic vectors would misstate its recall (without
real vectors, random unit vectors are used and said so). Then, on a fresh ``ViewEngine``:

* **view switch, cold**: the first search in a view, which reads the store once (rows/s);
* **view switch, warm**: the first search in a second view, and after a refit (one
  transform of the base vectors held on the device), against re-encoding N texts with the
  base encoder (rate measured on real texts in the same run, extrapolated linearly);
* **refresh**: with no change, after 1 update and after 1,000 updates;
* **query latency** p50/p95 alone and with a concurrent writer, and the longest search
  while a 1,000-update refresh runs;
* **memory** per component: base matrix, each view, rows, catalogue, approximate index;
* **the approximate path** (on by default from ``ann_min_rows``): the first approximate
  query (which builds the index), then recall@10 against the exact search of the same
  engine and both latencies, for view b, view a, the generic vectors and a blend.

View ``a`` is shaped like an ``lda`` head (384 -> 26), view ``b`` like the default
``lda_mix`` head (384 -> 384, kept as a rank-10 low-rank view next to the base matrix); the
warm switch and query latencies are view b's.
"""

from __future__ import annotations

import shutil
import statistics
import tempfile
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from gst_integrations.core.device import resolve_device
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.core.views.source import REV_KEY, new_revision
from gst_integrations.evaluation.embedding_rows import EmbeddingRows
from gst_integrations.stores.chroma import ChromaSource, chroma_client

D = 384


def _unit(n: int, seed: int) -> np.ndarray:
    X = np.random.default_rng(seed).standard_normal((n, D)).astype(np.float32)
    return X / np.linalg.norm(X, axis=1, keepdims=True)


#: How rows are drawn: ``rows(n, seed) -> (n, D)``; ``use_real_vectors`` sets it.
ROWS: Any = _unit
ROWS_SOURCE = "random unit vectors (speed only)"


def use_real_vectors(X: np.ndarray, source: str) -> None:
    """Draw every benchmark row from a Gaussian fitted to real vectors ``X`` from now on."""
    global ROWS, ROWS_SOURCE
    ROWS = EmbeddingRows(X, source)
    ROWS_SOURCE = ROWS.source


def _rows(start: int, n: int, rev: int) -> tuple[list[str], list[str], list[dict[str, Any]]]:
    ids = [f"id{i}" for i in range(start, start + n)]
    docs = [f"document {i}" for i in range(start, start + n)]
    metas = [{"group": i % 7, REV_KEY: rev} for i in range(start, start + n)]
    return ids, docs, metas


def fill_collection(path: str, n: int, batch: int = 5000) -> Any:
    """A persistent collection of n benchmark rows (a cheap HNSW: views do not use it)."""
    client = chroma_client(path)
    col = client.create_collection(
        f"bench{n}",
        embedding_function=None,
        metadata={"hnsw:space": "cosine", "hnsw:construction_ef": 32, "hnsw:M": 8},
    )
    rev = new_revision()
    for s in range(0, n, batch):
        m = min(batch, n - s)
        ids, docs, metas = _rows(s, m, rev)
        col.add(ids=ids, embeddings=ROWS(m, seed=s), documents=docs, metadatas=metas)
    return col


def _linear_head(seed: int, z: int = 26) -> Any:
    from gst_integrations import Head
    from gst_integrations.core.heads.families import build_head_module
    from gst_integrations.core.heads.persistence import FORMAT_VERSION

    torch.manual_seed(seed)
    module = build_head_module("lda", D, z)
    card = {
        "format": "gst-head",
        "format_version": FORMAT_VERSION,
        "name": f"view{seed}",
        "instruction": "benchmark",
        "label_names": ["a", "b"],
        "in_dim": D,
        "out_dim": z,
        "options": {"family": "lda", "hidden_dim": 512},
        "encoder": None,
        "metrics": {},
    }
    return Head(module, card, device="cpu")


def _default_shaped_head(seed: int, rank: int = 10, alpha: float = 0.7) -> Any:
    """A random head of the default family's form: W = M^(1/2), M = a² DᵀD + (1-a)² I."""
    rng = np.random.default_rng(seed)
    Dm = rng.standard_normal((rank, D)) / np.sqrt(D)
    lam, V = np.linalg.eigh(alpha**2 * Dm.T @ Dm + (1 - alpha) ** 2 * np.eye(D))
    head = _linear_head(seed, z=D)
    with torch.no_grad():
        next(head.module.parameters()).copy_(torch.from_numpy((V * np.sqrt(lam)) @ V.T))
    return head


def _timed(fn: Any) -> tuple[Any, float]:
    t = time.perf_counter()
    out = fn()
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # CUDA work is asynchronous: time it to completion
    return out, time.perf_counter() - t


def _latencies(engine: ViewEngine, view: str, queries: np.ndarray) -> list[float]:
    out = []
    for q in queries:
        t = time.perf_counter()
        engine.search_by_vector(q, view, k=10)
        out.append(time.perf_counter() - t)
    return out


def _pct(values: Sequence[float], p: float) -> float:
    return float(np.percentile(values, p)) * 1e3


def bench_store(
    n: int,
    encode_rate: float,
    device: str = "cpu",
    n_queries: int = 200,
    workdir: str = "",
    collection: Any = None,
) -> dict[str, Any]:
    """Every figure of the module docstring for one size N.

    ``collection``: a collection ``fill_collection`` already filled with n rows, so that
    several devices are measured on the same store (its fill time is then not reported).
    """
    root = workdir or tempfile.mkdtemp(prefix="gst-bench-")
    try:
        if collection is None:
            col, fill_s = _timed(lambda: fill_collection(root, n))
        else:
            col, fill_s = collection, float("nan")
        # View a is shaped like an ``lda`` head (26-d); view b like the default ``lda_mix``
        # (384 -> 384 of the c I + AᵀA form: the engine keeps A x and the norm, 11 numbers).
        heads = {"a": _linear_head(1), "b": _default_shaped_head(2)}
        engine = ViewEngine(
            ChromaSource(col),
            dict(heads),
            encoder=None,
            device=resolve_device(device),
            max_staleness=3600,
            reconcile_every=1e9,
            page_size=5000,
        )
        q = ROWS(n_queries, seed=10**6)
        _, cold = _timed(lambda: engine.search_by_vector(q[0], "a", k=10))
        _, warm = _timed(lambda: engine.search_by_vector(q[0], "b", k=10))
        engine.register("a", _linear_head(3))  # a refit of view a
        _, refit = _timed(lambda: engine.search_by_vector(q[0], "a", k=10))
        _, first_query = _timed(lambda: engine.search_by_vector(q[1], "b", k=10))
        base = torch.from_numpy(engine.view_matrix(None)[1]).to(engine.device)  # public rows
        transform_alone = _timed(lambda: heads["b"].transform_tensor(base[:n]))[1]
        reencode = n / encode_rate
        alone = _latencies(engine, "b", q)
        none_s = engine.refresh().seconds

        def update(m: int, start: int) -> float:
            ids, docs, metas = _rows(start, m, new_revision())
            col.upsert(ids=ids, embeddings=ROWS(m, seed=start + 7), documents=docs, metadatas=metas)
            return engine.refresh().seconds

        one_s = update(1, 11)
        thousand_s = update(1000, 1000)
        # The longest search while a 1,000-update refresh runs in another thread.
        ids, docs, metas = _rows(5000, 1000, new_revision())
        col.upsert(ids=ids, embeddings=ROWS(1000, seed=99), documents=docs, metadatas=metas)
        during: list[float] = []
        refresher = threading.Thread(target=engine.refresh)
        refresher.start()
        while refresher.is_alive() or not during:
            during += _latencies(engine, "b", q[:5])
        refresher.join()
        # Queries with a writer upserting 10 rows every 50 ms, max_staleness 1 s.
        engine.max_staleness = 1.0
        stop = threading.Event()

        def writer() -> None:
            i = 0
            while not stop.is_set():
                r_ids, r_docs, r_metas = _rows(20_000 + 10 * (i % 100), 10, new_revision())
                col.upsert(
                    ids=r_ids, embeddings=ROWS(10, seed=i), documents=r_docs, metadatas=r_metas
                )
                i += 1
                time.sleep(0.05)

        w = threading.Thread(target=writer)
        w.start()
        with_writer = _latencies(engine, "b", q)
        stop.set()
        w.join()
        memory = {k: v / 2**20 for k, v in engine.memory().items()}
        approximate = _approximate_vs_exact(engine, q)
        return {
            "n": n,
            "device": str(resolve_device(device)),
            "fill_s": fill_s,
            "cold_switch_s": cold,
            "cold_rows_per_s": n / cold,
            "warm_switch_s": warm,
            "refit_switch_s": refit,
            "transform_alone_s": transform_alone,
            "reencode_s": reencode,
            "warm_ratio": reencode / warm,
            "cold_ratio": reencode / cold,
            "refresh_none_s": none_s,
            "refresh_1_s": one_s,
            "refresh_1000_s": thousand_s,
            "p50_ms": _pct(alone, 50),
            "p95_ms": _pct(alone, 95),
            "p50_ms_writer": _pct(with_writer, 50),
            "p95_ms_writer": _pct(with_writer, 95),
            "max_ms_during_refresh": max(during) * 1e3,
            "median_ms_during_refresh": statistics.median(during) * 1e3,
            "memory_mb": memory,
            "rows": ROWS_SOURCE,
            "first_query_s": first_query,
            "approximate": approximate,
        }
    finally:
        if not workdir:
            shutil.rmtree(root, ignore_errors=True)


BLEND = {"b": 0.5, "a": 0.3, None: 0.2}


def _approximate_vs_exact(engine: ViewEngine, q: np.ndarray) -> dict[str, Any]:
    """Recall@10 of the engine's answers against its own exact search, and both latencies."""
    used = engine._rows.table is not None and engine._rows.table.sketch is not None
    out: dict[str, Any] = {"used": used}
    if not used:
        return out
    for label, view in (("b", "b"), ("a", "a"), ("generic", None), ("blend", BLEND)):
        got, lat = [], []
        for x in q:
            t = time.perf_counter()
            got.append([h.id for h in engine.search_by_vector(x, view, k=10)])
            lat.append(time.perf_counter() - t)
        engine._approx.enabled = False
        want, exact_lat = [], []
        for x in q:
            t = time.perf_counter()
            want.append([h.id for h in engine.search_by_vector(x, view, k=10)])
            exact_lat.append(time.perf_counter() - t)
        engine._approx.enabled = True
        out[label] = {
            "recall@10": float(
                np.mean([len(set(a) & set(b)) / 10 for a, b in zip(got, want, strict=True)])
            ),
            "p50_ms": _pct(lat, 50),
            "p95_ms": _pct(lat, 95),
            "exact_p50_ms": _pct(exact_lat, 50),
            "exact_p95_ms": _pct(exact_lat, 95),
        }
    return out


def format_store_table(rows: list[dict[str, Any]], machine: str) -> str:
    """Markdown tables of ``bench_store`` results."""
    out = [
        f"Measured on {machine}. Rows: {rows[0].get('rows', ROWS_SOURCE)}, in an embedded "
        "persistent Chroma collection; re-encoding extrapolated from the rate measured on "
        "real texts in the same run. Query latencies are the engine's default path "
        "(approximate from its ann_min_rows, exact below).",
        "",
        "| N | view switch cold (store read) | rows/s | warm switch | refit | transform alone "
        "| re-encoding N | warm ratio | cold ratio |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['n']:,} | {r['cold_switch_s']:.2f} s | {r['cold_rows_per_s']:,.0f} "
            f"| {r['warm_switch_s']:.3f} s | {r['refit_switch_s']:.3f} s "
            f"| {r['transform_alone_s']:.3f} s | {r['reencode_s']:,.0f} s "
            f"| {r['warm_ratio']:,.0f}x | {r['cold_ratio']:,.0f}x |"
        )
    out += [
        "",
        "| N | refresh, no change | after 1 update | after 1,000 | query p50 / p95 "
        "| with a writer p50 / p95 | longest search during a refresh |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        out.append(
            f"| {r['n']:,} | {r['refresh_none_s']:.3f} s | {r['refresh_1_s']:.3f} s "
            f"| {r['refresh_1000_s']:.3f} s | {r['p50_ms']:.1f} / {r['p95_ms']:.1f} ms "
            f"| {r['p50_ms_writer']:.1f} / {r['p95_ms_writer']:.1f} ms "
            f"| {r['max_ms_during_refresh']:.1f} ms |"
        )
    parts = list(dict.fromkeys(k for r in rows for k in r["memory_mb"]))
    out += ["", "| N | " + " | ".join(parts) + " |", "|---|" + "---|" * len(parts)]
    for r in rows:
        mem = r["memory_mb"]
        out.append(
            f"| {r['n']:,} | "
            + " | ".join(f"{mem[k]:,.1f} MB" if k in mem else "-" for k in parts)
            + " |"
        )
    approx = [r for r in rows if r.get("approximate", {}).get("used")]
    if approx:
        out += [
            "",
            "Approximate path against the same engine's exact search (blend: b 0.5, a 0.3, "
            "generic 0.2); the first approximate query builds the index.",
            "",
            "| N | first approximate query | view | recall@10 | p50 / p95 | exact p50 / p95 |",
            "|---|---|---|---|---|---|",
        ]
        for r in approx:
            for view in ("b", "a", "generic", "blend"):
                a = r["approximate"][view]
                out.append(
                    f"| {r['n']:,} | {r['first_query_s']:.1f} s | {view} | {a['recall@10']:.3f} "
                    f"| {a['p50_ms']:.1f} / {a['p95_ms']:.1f} ms "
                    f"| {a['exact_p50_ms']:.1f} / {a['exact_p95_ms']:.1f} ms |"
                )
    return "\n".join(out)
