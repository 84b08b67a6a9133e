"""Instruction-aware clustering: one corpus, two instructions, two different clusterings.

Generic sentence vectors cluster drug reviews by whatever dominates the text, mostly the
condition. With one small head per instruction, the same stored vectors cluster by the
*condition treated* or by *how satisfied the patient is*, with no re-encoding: each view is a
cheap transform of the cached base vectors. Each head is fitted on a 30% labelled guide
sample; KMeans and V-measure are computed on the held-out 70%.

Run: python cookbook/instruction_clustering.py [--out DIR]   (PNG maps go to DIR or a temp dir)
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
from sklearn.cluster import KMeans  # noqa: E402
from sklearn.metrics import v_measure_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from gst_integrations import fit_head  # noqa: E402
from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
from gst_integrations.core.paths import default_cache_dir
from gst_integrations.evaluation.datasets import load_drug_reviews  # noqa: E402
from gst_integrations.evaluation.plots import plot_maps  # noqa: E402

INSTRUCTIONS = {
    "condition": "Which condition is the patient treating?",
    "rating": "How satisfied is the patient with the drug?",
}


def v_measure(Z: np.ndarray, labels: np.ndarray, seeds: int = 3) -> float:
    """Mean V-measure of KMeans (k = number of classes) over a few seeds."""
    k = len(set(labels))
    scores = [
        v_measure_score(labels, KMeans(k, n_init=4, random_state=s).fit_predict(Z))
        for s in range(seeds)
    ]
    return float(np.mean(scores))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", help="directory for the PNG maps (default: a temp dir)")
    parser.add_argument("--limit", type=int, default=180, help="reviews used (default 180)")
    args = parser.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="gst-clustering-"))

    corpus = load_drug_reviews()
    idx, _ = train_test_split(
        np.arange(len(corpus)), train_size=args.limit, random_state=0,
        stratify=corpus.facets["condition"],
    )  # fmt: skip
    corpus = corpus.subset(sorted(idx.tolist()))
    encoder = CachedEncoder(None, VectorCache(default_cache_dir() / "vectors.sqlite"))
    X = encoder.encode(corpus.texts)  # embedded once; both views reuse these vectors
    labels = {f: np.asarray(corpus.facets[f]) for f in INSTRUCTIONS}
    guide, held = train_test_split(
        np.arange(len(X)), train_size=0.3, random_state=0, stratify=labels["condition"]
    )
    print(f"{len(X)} drug reviews: guide {len(guide)}, held-out {len(held)}")
    print(f"{'instruction':45} {'facet':10} {'generic V':>10} {'view V':>8}")
    for facet, instruction in INSTRUCTIONS.items():
        head = fit_head(instruction, X[guide], labels[facet][guide], encoder=encoder.base_encoder)
        Z = head.transform(X)
        v_gen = v_measure(X[held], labels[facet][held])
        v_view = v_measure(Z[held], labels[facet][held])
        print(f"{instruction:45} {facet:10} {v_gen:10.3f} {v_view:8.3f}")
        png = out / f"clusters-{facet}.png"
        plot_maps(
            X[held], Z[held], labels[facet][held].tolist(), png, view=facet,
            title=instruction, color_by=facet,
        )  # fmt: skip
        print(f"  map: {png}")


if __name__ == "__main__":
    main()
