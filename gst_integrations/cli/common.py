"""What several ``gst`` commands share: store options, the engine, the encoder, tables, the
``--llm`` option and the check for the ``eval`` extra.

Heavy imports (torch, the encoder, chromadb) happen inside the functions, so building the
argument parser stays cheap.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from pathlib import Path
from typing import Any

from gst_integrations.cli.data_files import CLIError, load_object

#: Modules each command needs beyond the library, all from the ``eval`` extra.
EVAL_EXTRA = {
    "eval": ("sklearn", "gst_integrations.evaluation"),
    "eval-labels": ("sklearn", "gst_integrations.evaluation"),
    "bench": ("gst_integrations.evaluation",),
    "map": ("matplotlib", "gst_integrations.evaluation"),
}


def require_eval_extra(command: str) -> None:
    """Raise CLIError naming the extra to install when ``gst command`` cannot run."""
    missing = [m for m in EVAL_EXTRA.get(command, ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise CLIError(
            f"`gst {command}` needs {', '.join(missing)}: pip install 'gst-integrations[eval]'"
        )


def table(rows: list[list[str]], header: list[str], max_width: int = 64) -> str:
    """A plain aligned text table (cells cut to ``max_width`` characters)."""

    def cut(s: Any) -> str:
        s = " ".join(str(s).split())
        return s if len(s) <= max_width else s[: max_width - 1] + "…"

    cells = [[cut(h) for h in header]] + [[cut(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def encode(texts: list[str], desc: str = "encode") -> Any:
    """Base vectors of texts through the cached default encoder, with a progress bar from
    four batches of 64 on (about two seconds on a CPU)."""
    import numpy as np

    from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
    from gst_integrations.core.feedback import progress
    from gst_integrations.core.paths import default_cache_dir

    enc = CachedEncoder(None, VectorCache(default_cache_dir() / "vectors.sqlite"))
    out = []
    for s in progress(range(0, len(texts), 64), desc=desc, unit="batch", min_total=4):
        out.append(enc.encode(texts[s : s + 64]))
    return np.concatenate(out) if out else np.zeros((0, enc.dim), np.float32), enc


def parse_where(raw: str | None) -> dict[str, Any] | None:
    """The ``--where`` JSON object, or None."""
    if not raw:
        return None
    try:
        where = json.loads(raw)
    except json.JSONDecodeError as exc:
        example = '{"rating": "positive"}'
        raise CLIError(f"--where is not valid JSON: {exc.msg} (e.g. '{example}')") from None
    if not isinstance(where, dict):
        raise CLIError("--where must be a JSON object")
    return where


class HelpFormatter(argparse.HelpFormatter):
    """Shows each option's default after its help, where it has one worth showing (not None,
    not a flag's False); options without one say in their help what happens when omitted."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        if (
            not action.option_strings
            or action.required
            or default is None
            or default is False
            or default is argparse.SUPPRESS
            or "%(default)" in text
        ):
            return text
        return text + " (default: %(default)s)"


class Parser(argparse.ArgumentParser):
    """``argparse.ArgumentParser`` with the ``gst`` help format, for every sub-command."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)


class FamilyChoices:
    """The registered head families, read from the registry only when argparse asks (help,
    validation), so building the parser imports no torch."""

    def _names(self) -> list[str]:
        from gst_integrations.core.heads.families import AUTO_FAMILY, HEAD_FAMILIES

        return sorted([*HEAD_FAMILIES, AUTO_FAMILY])

    def __contains__(self, value: object) -> bool:
        return value in self._names()

    def __iter__(self) -> Any:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


def add_store_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    """The options naming a Chroma collection (embedded directory or server)."""
    p.add_argument("--chroma-path", default="./chroma", help="embedded Chroma directory")
    p.add_argument(
        "--collection",
        required=required,
        help="Chroma collection name" + ("" if required else " (default: none)"),
    )
    p.add_argument(
        "--host",
        help="Chroma server host (`chroma run`); overrides --chroma-path (default: none, "
        "the embedded directory)",
    )
    p.add_argument("--port", type=int, default=8000, help="Chroma server port")


def require_chroma_db(args: argparse.Namespace) -> None:
    """CLIError when ``--chroma-path`` names no embedded Chroma database (and no --host)."""
    if args.host is not None:
        return
    path = Path(args.chroma_path)
    if not path.exists():
        raise CLIError(f"Chroma directory not found: {args.chroma_path}")
    if not (path / "chroma.sqlite3").is_file():
        raise CLIError(
            f"no Chroma database in {args.chroma_path} (no chroma.sqlite3 there): "
            "create one with `gst embed`"
        )


def open_engine(args: argparse.Namespace, show_progress: bool | None = None) -> Any:
    """A ViewEngine over the Chroma collection and head directory named in ``args``."""
    from gst_integrations.core.heads.store import HeadStore
    from gst_integrations.core.views.engine import ViewEngine
    from gst_integrations.stores.chroma import ChromaSource, open_chroma_collection

    require_chroma_db(args)
    heads_dir = Path(args.heads)
    if not heads_dir.is_dir():
        raise CLIError(f"head directory not found: {heads_dir}")
    collection = open_chroma_collection(
        args.collection, path=args.chroma_path, host=args.host, port=args.port
    )
    return ViewEngine(ChromaSource(collection), HeadStore(heads_dir), show_progress=show_progress)


def view_arg(view: str | None) -> str | None:
    """A ``--view`` value: None for the generic vectors (omitted, ``generic`` or ``base``)."""
    return None if view in (None, "", "generic", "base") else view


def llm_from_option(spec: str, threads: int) -> Any:
    """The LLM a ``--llm`` option names: the local SmolLM2 through LangChain (``smollm2``) or
    LlamaIndex (``smollm2-llamaindex``), or MODULE:ATTR (an LLM, or a factory called once)."""
    from gst_integrations.core.feedback import quiet_weight_loading

    if spec == "smollm2":
        from gst_integrations.langchain.local_llm import local_chat_model

        with quiet_weight_loading():
            return local_chat_model(num_threads=threads)
    if spec == "smollm2-llamaindex":
        from gst_integrations.llama_index.local_llm import local_llm

        with quiet_weight_loading():
            return local_llm(num_threads=threads)
    factory = load_object(spec)
    return factory() if callable(factory) and not hasattr(factory, "invoke") else factory
