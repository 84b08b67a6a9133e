"""LangChain agent tools over instruction views: picking a view is picking a tool.

What it shows (offline, a minute or two on 2 CPU cores, most of it loading the model):

1. Embed ~200 drug reviews ONCE with the base encoder (``GSTEmbeddings()``) into an embedded
   Chroma in a temp dir, and fit two views with ``fit_head`` from the labelled sample. The
   base vectors barely encode the rating, so that view warns and falls back to the generic
   vectors (its card says so); a blend that names it drops it, with a warning, so that the
   generic similarity it would add does not dilute the condition view.
2. ``view_tools(retriever)``: one retriever tool per view (``create_retriever_tool``), named
   after the view and described by its instruction (``search_by_condition``,
   ``search_by_rating``).
3. ``view_choice_tool(retriever)``: one tool whose ``view`` argument is an enum of the views,
   and whose optional ``weights`` blend several views and the generic vectors for questions
   that mix facets ("negative experiences with acne treatments").
4. For each question, the tool call an agent would make runs, and a real local model,
   SmolLM2-135M-Instruct (``local_chat_model()``, offline), answers from what the tool
   returned.

The calls are written out in ``CALLS``: a 135M model cannot emit tool calls, and asked to
choose among these tools by likelihood it did no better than chance. A tool-calling chat
model decides the calls itself: pass it to ``run_agent``, and nothing else changes::

    from langchain_openai import ChatOpenAI          # pip install langchain-openai
    answer = run_agent(ChatOpenAI(model="gpt-4o-mini"), tools, "Were patients happy ...?")

or hand the same tools to a prebuilt agent, e.g. ``langchain.agents.create_agent(model, tools)``
(``pip install langchain``).

Run: ``python cookbook/langchain_agent_tools.py``
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
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import BaseMessage, HumanMessage, ToolMessage  # noqa: E402
from langchain_core.output_parsers import StrOutputParser  # noqa: E402
from langchain_core.prompts import ChatPromptTemplate, PromptTemplate  # noqa: E402
from langchain_core.tools import BaseTool  # noqa: E402

from gst_integrations import fit_head  # noqa: E402
from gst_integrations.core.heads import feasibility_summary  # noqa: E402
from gst_integrations.core.heads.store import HeadStore  # noqa: E402
from gst_integrations.evaluation.datasets import load_drug_reviews  # noqa: E402
from gst_integrations.langchain import (  # noqa: E402
    GSTEmbeddings,
    GSTRetriever,
    local_chat_model,
    view_choice_tool,
    view_tools,
)
from gst_integrations.stores import open_chroma_collection  # noqa: E402

VIEWS = {
    "condition": "Which condition is the patient treating?",
    "rating": "How satisfied is the patient with the drug?",
}
# Each tool result line shows the review's facets, so the trace shows what a view retrieved.
DOC_PROMPT = PromptTemplate.from_template("[{condition} | {rating}] {page_content}")

#: (question, the tool call an agent would make for it): a per-view tool for a question about
#: one facet, the choice tool with blend weights for a question that mixes facets.
CALLS = [
    (
        "What do people treating insomnia say about their medication?",
        {"name": "search_by_condition", "args": {"query": "medication for insomnia, sleep"}},
    ),
    (
        "Find reviews from patients who were very unhappy with their drug.",
        {
            "name": "search_reviews",
            "args": {"query": "terrible drug, awful side effects", "view": "rating", "k": 4},
        },
    ),
    (
        "What are the negative experiences with acne treatments?",
        {
            "name": "search_reviews",
            "args": {
                "query": "negative experiences with acne treatments",
                "view": "condition",
                "weights": {"condition": 0.6, "rating": 0.4, "generic": 0.2},
            },
        },
    ),
]
ANSWER_PROMPT = ChatPromptTemplate.from_messages(
    [
        ("system", "Answer in one or two sentences from these patient reviews only.\n\n{reviews}"),
        ("human", "{question}"),
    ]
)


def call_tool(tool: BaseTool, args: dict[str, Any], call_id: str = "call_0") -> ToolMessage:
    """Run one tool call as an agent would, and print what each view retrieved."""
    print(f"  tool call: {tool.name}({args})")
    result = tool.invoke({"name": tool.name, "args": args, "id": call_id, "type": "tool_call"})
    for d in result.artifact or []:
        m = d.metadata
        print(f"    {m['gst_view']:<9} {m['gst_score']:.3f}  {m['condition']:<24} {m['rating']}")
    return result


def answer_from(llm: BaseChatModel, question: str, result: ToolMessage) -> str:
    """The model's answer from the reviews a tool returned (their texts, numbered)."""
    reviews = "\n".join(
        f"Review {i}: {' '.join(d.page_content.split())[:300]}"
        for i, d in enumerate(result.artifact or [], 1)
    )
    text = (ANSWER_PROMPT | llm | StrOutputParser()).invoke(
        {"reviews": reviews, "question": question}
    )
    return " ".join(str(text).split())


def run_agent(
    model: BaseChatModel, tools: list[BaseTool], question: str, max_steps: int = 4
) -> str:
    """A minimal tool-calling loop for a model that calls tools itself (not SmolLM2-135M)."""
    by_name = {t.name: t for t in tools}
    bound = model.bind_tools(tools)
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(max_steps):
        reply = bound.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return str(reply.content)
        for call in reply.tool_calls:
            messages.append(call_tool(by_name[call["name"]], call["args"], call["id"]))
    return "(no answer within max_steps)"


def load_sample(n: int = 200, seed: int = 0) -> Any:
    """A seeded sample of the 495 labelled drug reviews."""
    corpus = load_drug_reviews()
    rows = np.random.default_rng(seed).permutation(len(corpus))[:n]
    return corpus.subset([int(i) for i in rows])


def build(workdir: Path, cache: Any = None) -> tuple[GSTRetriever, GSTEmbeddings]:
    """Embed the sample once into embedded Chroma and fit the two views."""
    corpus = load_sample()
    embeddings = GSTEmbeddings(cache=cache)  # base encoder: what the store holds
    client = chromadb.PersistentClient(
        path=str(workdir / "chroma"), settings=Settings(anonymized_telemetry=False)
    )
    open_chroma_collection(  # records the base encoder's fingerprint on the collection
        "drug_reviews", client=client, create=True, encoder_fingerprint=embeddings.fingerprint()
    )
    store = Chroma(client=client, collection_name="drug_reviews", embedding_function=embeddings)
    store.add_texts(corpus.texts, metadatas=corpus.metadata, ids=corpus.ids)
    X = np.asarray(embeddings.embed_documents(corpus.texts), dtype=np.float32)  # cached
    heads = HeadStore(workdir / "heads")
    for name, instruction in VIEWS.items():
        head = fit_head(instruction, X, corpus.facets[name], encoder=embeddings, name=name)
        heads.save(name, head)
        print(f"view {name!r}: {feasibility_summary(head)}")
    return GSTRetriever.from_chroma(store, heads, k=3), embeddings


def main(
    workdir: str | Path | None = None, cache: Any = None, llm: BaseChatModel | None = None
) -> dict[str, Any]:
    """Run the recipe; returns the tools and answers (the tests look at them).

    ``llm`` answers (default: SmolLM2-135M-Instruct through ``local_chat_model()``)."""
    tmp = None
    if workdir is None:
        tmp = tempfile.TemporaryDirectory(prefix="gst-lc-agent-")
        workdir = tmp.name
    retriever, embeddings = build(Path(workdir), cache)

    per_view = view_tools(
        retriever,
        corpus="patient drug reviews",
        document_prompt=DOC_PROMPT,
        response_format="content_and_artifact",
    )
    chooser = view_choice_tool(
        retriever,
        name="search_reviews",
        corpus="patient drug reviews",
        document_prompt=DOC_PROMPT,
        response_format="content_and_artifact",
    )
    tools = [*per_view, chooser]
    print("tools:")
    for t in tools:
        print(f"  {t.name}: {t.description[:110]}...")
    view_enum = chooser.tool_call_schema.model_json_schema()["properties"]["view"]["enum"]
    print(f"  {chooser.name} view enum: {view_enum}")

    if llm is None:
        llm = local_chat_model(max_new_tokens=48)  # offline; loads in tens of seconds
    by_name = {t.name: t for t in tools}
    answers = {}
    for question, call in CALLS:
        print(f"\nuser: {question}")
        result = call_tool(by_name[call["name"]], call["args"])
        answers[question] = answer_from(llm, question, result)
        print(f"  answer: {answers[question]}")
    print(f"\ntexts encoded in total: {embeddings.n_encoded}")

    if tmp is not None:
        del retriever
        tmp.cleanup()
    return {
        "tools": [t.name for t in tools],
        "view_enum": view_enum,
        "answers": answers,
    }


if __name__ == "__main__":
    main()
