"""Reading a user's texts (and labels) from CSV or JSONL, with errors a user can act on."""

from __future__ import annotations

import csv
import importlib
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any


class CLIError(Exception):
    """Bad command-line input; printed as one ``error: ...`` line."""


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a ``.csv`` (header line) or ``.jsonl`` (one object a line) file."""
    p = Path(path)
    if not p.exists():
        raise CLIError(f"file not found: {p}")
    if p.is_dir():
        raise CLIError(f"{p} is a directory, not a data file")
    raw = p.read_text(encoding="utf-8-sig")
    if not raw.strip():
        raise CLIError(f"{p} is empty")
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".ndjson", ".json"):
        rows = []
        for n, line in enumerate(raw.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise CLIError(f"{p}, line {n}: not valid JSON ({exc.msg})") from None
            if not isinstance(obj, dict):
                raise CLIError(f"{p}, line {n}: expected a JSON object, got {type(obj).__name__}")
            rows.append(obj)
    elif suffix in (".csv", ".tsv"):
        rows = list(csv.DictReader(raw.splitlines(), delimiter="\t" if suffix == ".tsv" else ","))
    else:
        raise CLIError(f"{p}: unsupported file type {suffix!r}; use .csv, .tsv or .jsonl")
    if not rows:
        raise CLIError(f"{p} has a header but no data rows")
    return rows


def column(rows: list[dict[str, Any]], name: str, path: str | Path) -> list[str]:
    """One column as strings ('' where a row lacks it); CLIError naming the known columns."""
    known: dict[str, None] = {}
    for r in rows:
        known.update(dict.fromkeys(r))
    if name not in known:
        cols = ", ".join(str(c) for c in known) or "(none)"
        raise CLIError(f"column {name!r} not found in {path}; columns: {cols}")
    return ["" if r.get(name) is None else str(r.get(name)).strip() for r in rows]


def read_texts(
    path: str | Path, text_col: str, label_cols: list[str] | None = None
) -> tuple[list[str], dict[str, list[str]], list[dict[str, Any]]]:
    """Texts, labels per column, and the raw rows, keeping rows with a non-empty text."""
    rows = read_rows(path)
    texts = column(rows, text_col, path)
    labels = {c: column(rows, c, path) for c in label_cols or []}
    keep = [i for i, t in enumerate(texts) if t]
    if not keep:
        raise CLIError(f"{path}: column {text_col!r} holds no text")
    return (
        [texts[i] for i in keep],
        {c: [v[i] for i in keep] for c, v in labels.items()},
        [rows[i] for i in keep],
    )


def load_object(spec: str) -> Any:
    """The object named by ``module:attr`` or ``path/to/file.py:attr``."""
    if ":" not in spec:
        raise CLIError(f"--llm {spec!r}: expected module:attr (e.g. mypkg.llms:make_llm)")
    mod_name, _, attr = spec.rpartition(":")
    try:
        if mod_name.endswith(".py"):
            file = Path(mod_name)
            if not file.exists():
                raise CLIError(f"file not found: {file}")
            modspec = importlib.util.spec_from_file_location(file.stem, file)
            assert modspec is not None and modspec.loader is not None
            module = importlib.util.module_from_spec(modspec)
            sys.modules.setdefault(file.stem, module)
            modspec.loader.exec_module(module)
        else:
            module = importlib.import_module(mod_name)
    except ImportError as exc:
        raise CLIError(f"cannot import {mod_name!r}: {exc}") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise CLIError(f"{mod_name!r} has no attribute {attr!r}") from None
