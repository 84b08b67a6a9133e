"""Every Python block of the README and the docs runs as written, in order, offline.

One namespace per page, in a fresh working folder; a ``text`` block right after a Python
block is what that block prints (see ``tests/doc_blocks.py`` for the rules). The pages use
the packaged drug reviews and the real MiniLM encoder, loaded once for the whole run.
"""

from __future__ import annotations

import contextlib
import io
import sys
import warnings
from pathlib import Path

import pytest
from doc_blocks import ROOT, fenced_blocks, normalise_output, pages

pytestmark = pytest.mark.integration

RUNNABLE = [p for p in pages() if any(b.runs for b in fenced_blocks(p))]


def _forget_chroma_clients() -> None:
    """Chroma shares one client per path string within a process; pages all use the relative
    path "chroma" from their own folder, so each page must start without the last one's."""
    if "chromadb" in sys.modules:
        from chromadb.api.client import SharedSystemClient

        SharedSystemClient.clear_system_cache()


class _Tee(io.StringIO):
    """Captures what a block prints and passes it on (visible with ``pytest -s``)."""

    def write(self, text: str) -> int:
        sys.__stdout__.write(text)
        return super().write(text)


@pytest.mark.parametrize("page", RUNNABLE, ids=[str(p.relative_to(ROOT)) for p in RUNNABLE])
def test_page_runs_as_written(
    page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("GST_PROGRESS", "0")
    monkeypatch.setenv("GST_CACHE_DIR", str(tmp_path / ".gst-cache"))
    namespace: dict[str, object] = {"__name__": "__main__"}
    _forget_chroma_clients()
    for block in fenced_blocks(page):
        if not block.runs:
            continue
        code = compile(block.code, block.where, "exec")
        out = _Tee()
        with contextlib.redirect_stdout(out), warnings.catch_warnings():
            warnings.simplefilter("default")
            exec(code, namespace)  # noqa: S102 - the docs' own code, as a reader runs it
        if block.expected_output is not None:
            assert normalise_output(out.getvalue()) == normalise_output(
                block.expected_output
            ), f"{block.where}: the block no longer prints what the page shows"
    _forget_chroma_clients()
