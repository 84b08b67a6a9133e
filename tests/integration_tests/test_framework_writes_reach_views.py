"""Writes through LangChain's and LlamaIndex's own Chroma stores reach every view.

Those writers record no revision, so the engine finds their adds and deletes by count and
ids, and their updates (same id, new text) by a full reconciliation: here every refresh is
one (``reconcile_every=0``) and every search refreshes first (``max_staleness=0``).
"""

from __future__ import annotations

import chromadb
import numpy as np
import pytest
from chromadb.config import Settings
from langchain_chroma import Chroma
from langchain_core.documents import Document
from llama_index.core import Document as LIDocument
from llama_index.core import StorageContext, VectorStoreIndex
from llama_index.vector_stores.chroma import ChromaVectorStore

from gst_integrations import fit_head
from gst_integrations.langchain import GSTEmbeddings
from gst_integrations.langchain import GSTRetriever as LCRetriever
from gst_integrations.llama_index import GSTEmbedding
from gst_integrations.llama_index import GSTRetriever as LIRetriever

pytestmark = pytest.mark.integration
FRESH = {"max_staleness": 0, "reconcile_every": 0}
CONDITIONS = ("Acne", "Depression", "Pain", "Insomnia")


@pytest.fixture(scope="module")
def sample(drug_reviews):
    idx = [i for i, c in enumerate(drug_reviews.facets["condition"]) if c in CONDITIONS][:60]
    return drug_reviews.subset(idx)


@pytest.fixture(scope="module")
def head(sample, encoder):
    X = encoder.encode(sample.texts)
    return fit_head("Which condition?", X, sample.facets["condition"], encoder=encoder)


def _client(tmp_path) -> chromadb.ClientAPI:
    return chromadb.PersistentClient(
        path=str(tmp_path), settings=Settings(anonymized_telemetry=False)
    )


def test_langchain_chroma_writes(sample, head, encoder, tmp_path) -> None:
    emb = GSTEmbeddings(encoder=encoder)
    store = Chroma(client=_client(tmp_path), collection_name="lc-writes", embedding_function=emb)
    store.add_texts(sample.texts[:50], metadatas=sample.metadata[:50], ids=sample.ids[:50])
    retriever = LCRetriever.from_chroma(store, {"condition": head}, k=3, **FRESH)
    target = sample.ids[7]
    for view in (None, "condition"):
        assert retriever.invoke(sample.texts[7], view=view)[0].id == target

    # add_documents with an existing id: new text, new vector, new metadata
    new_text = "Rewritten: this drug finally stopped my migraines, wonderful."
    store.add_documents(
        [Document(page_content=new_text, metadata={"condition": "Migraine"}, id=target)]
    )
    for view in (None, "condition"):
        top = retriever.invoke(new_text, view=view)[0]
        assert (top.id, top.page_content, top.metadata["condition"]) == (
            target,
            new_text,
            "Migraine",
        )
    hits = retriever.invoke(new_text, filter={"condition": "Migraine"})
    assert [d.id for d in hits] == [target]

    # update_document(s)
    store.update_documents(
        [sample.ids[8]], [Document(page_content="Updated again.", metadata={"condition": "X"})]
    )
    assert retriever.invoke("Updated again.", view="condition")[0].page_content == "Updated again."
    # add_texts with new ids, then delete
    store.add_texts(sample.texts[50:55], metadatas=sample.metadata[50:55], ids=sample.ids[50:55])
    assert retriever.invoke(sample.texts[52], view="condition")[0].id == sample.ids[52]
    store.delete([sample.ids[52], target])
    for view in (None, "condition"):
        ids = {d.id for d in retriever.invoke(sample.texts[52], view=view, k=10)}
        assert sample.ids[52] not in ids and target not in ids
    ids, _ = retriever.engine.view_matrix("condition")
    assert sorted(ids) == sorted(store.get(include=[])["ids"])


def test_llama_index_chroma_writes(sample, head, encoder, tmp_path) -> None:
    collection = _client(tmp_path).get_or_create_collection("li-writes", embedding_function=None)
    vector_store = ChromaVectorStore(chroma_collection=collection)
    embed = GSTEmbedding(encoder=encoder)
    docs = [
        LIDocument(text=t, id_=i) for t, i in zip(sample.texts[:40], sample.ids[:40], strict=True)
    ]
    index = VectorStoreIndex.from_documents(
        docs,
        storage_context=StorageContext.from_defaults(vector_store=vector_store),
        embed_model=embed,
    )
    retriever = LIRetriever.from_index(
        index, {"condition": head}, similarity_top_k=3, engine_options=FRESH
    )

    def top(text: str, view: str | None = "condition"):
        return retriever.retrieve(text, view=view)[0].node

    # insert
    new = LIDocument(text="A new review: my acne is finally gone, great cream.", id_="new-doc")
    index.insert(new)
    assert top(new.text).ref_doc_id == "new-doc"
    # update_ref_doc: same document id, new text
    changed = LIDocument(text="Changed: this pill made my insomnia worse.", id_="new-doc")
    index.update_ref_doc(changed)
    node = top(changed.text)
    assert node.ref_doc_id == "new-doc" and node.get_content() == changed.text
    # refresh_ref_docs with one changed document
    again = LIDocument(text="Refreshed: sleeping well at last.", id_=sample.ids[3])
    assert index.refresh_ref_docs([again]) == [True]
    assert top(again.text, None).get_content() == again.text
    # delete_ref_doc
    index.delete_ref_doc("new-doc", delete_from_docstore=True)
    for view in (None, "condition"):
        found = retriever.retrieve(changed.text, view=view, similarity_top_k=10)
        assert all(n.node.ref_doc_id != "new-doc" for n in found)
    ids, _ = retriever.engine.view_matrix("condition")
    assert sorted(ids) == sorted(collection.get(include=[])["ids"])
    assert np.isfinite(_).all()
