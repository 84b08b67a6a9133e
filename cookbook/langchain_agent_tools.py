"""LangChain agent tools over instruction views: the model picks the view by picking a tool.

What it shows (offline, under a minute on 2 CPU cores):

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
4. A minimal tool-calling loop (bind tools, run the calls, feed back ``ToolMessage``s) driven by
   an offline scripted chat model that emits real ``tool_calls`` and answers from the tool
   output, so the trace below shows what each view retrieved.

To use a real model, pass any tool-calling chat model to ``run_agent``; nothing else changes::

    from langchain_openai import ChatOpenAI          # pip install langchain-openai
    answer = run_agent(ChatOpenAI(model="gpt-4o-mini"), tools, "Were patients happy ...?")

or hand the same tools to a prebuilt agent, e.g. ``langchain.agents.create_agent(model, tools)``
(``pip install langchain``).

Run: ``python cookbook/langchain_agent_tools.py``
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import chromadb  # noqa: E402
from chromadb.config import Settings  # noqa: E402
from langchain_chroma import Chroma  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import (  # noqa: E402
    AIMessage,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult  # noqa: E402
from langchain_core.prompts import PromptTemplate  # noqa: E402
from langchain_core.tools import BaseTool  # noqa: E402

from gst_integrations import fit_head  # noqa: E402
from gst_integrations.core.heads import feasibility_summary  # noqa: E402
from gst_integrations.core.heads.store import HeadStore  # noqa: E402
from gst_integrations.evaluation.datasets import load_drug_reviews  # noqa: E402
from gst_integrations.langchain import (  # noqa: E402
    GSTEmbeddings,
    GSTRetriever,
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

# (question, the tool call a good model would make): the scripted model replays these offline.
SCRIPT = [
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


class ScriptedToolModel(BaseChatModel):
    """An offline stand-in for a tool-calling chat model.

    For a user question it emits the tool call scripted for it; after a tool result it
    answers from that result. A real model decides the calls itself.
    """

    calls: dict[str, dict[str, Any]]
    tool_names: list[str] = []

    @property
    def _llm_type(self) -> str:
        return "scripted-tool-model"

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedToolModel:  # type: ignore[override]
        return self.model_copy(update={"tool_names": [t.name for t in tools]})

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kw: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            lines = [ln for ln in str(last.content).split("\n\n") if ln]
            facets = Counter(ln[1:].split("]")[0] for ln in lines)
            message = AIMessage(
                f"{len(lines)} reviews found with {last.name}; most are "
                f"[{facets.most_common(1)[0][0]}]. First: {lines[0][:90]}..."
            )
        else:
            question = str(last.content)
            call = self.calls[question]
            if call["name"] not in self.tool_names:
                raise ValueError(f"scripted tool {call['name']!r} is not bound")
            message = AIMessage("", tool_calls=[{**call, "id": f"call_{len(messages)}"}])
        return ChatResult(generations=[ChatGeneration(message=message)])


def run_agent(
    model: BaseChatModel, tools: list[BaseTool], question: str, max_steps: int = 4
) -> str:
    """A minimal tool-calling loop: the model calls tools until it answers in text."""
    by_name = {t.name: t for t in tools}
    bound = model.bind_tools(tools)
    messages: list[BaseMessage] = [HumanMessage(question)]
    for _ in range(max_steps):
        reply = bound.invoke(messages)
        messages.append(reply)
        if not reply.tool_calls:
            return str(reply.content)
        for call in reply.tool_calls:
            print(f"  tool call: {call['name']}({call['args']})")
            result = by_name[call["name"]].invoke(call)  # a ToolMessage
            docs = result.artifact or []
            for d in docs:
                m = d.metadata
                view, score = m["gst_view"], m["gst_score"]
                print(f"    {view:<9} {score:.3f}  {m['condition']:<24} {m['rating']}")
            messages.append(result)
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


def main(workdir: str | Path | None = None, cache: Any = None) -> dict[str, Any]:
    """Run the recipe; returns the tools and answers (the tests look at them)."""
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

    model = ScriptedToolModel(calls=dict(SCRIPT))
    answers = {}
    for question, _ in SCRIPT:
        print(f"\nuser: {question}")
        answers[question] = run_agent(model, tools, question)
        print(f"  answer: {answers[question]}")
    print(f"\ntexts encoded in total: {embeddings.n_encoded}")

    if tmp is not None:
        del retriever
        tmp.cleanup()
    return {"tools": [t.name for t in tools], "view_enum": view_enum, "answers": answers}


if __name__ == "__main__":
    main()
