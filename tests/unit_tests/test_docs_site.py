"""The docs hold together: the site builds strictly, links resolve, the README stays short,
blocks that do not run say why, and nothing in the repository points at a file outside it.

The Python blocks themselves run in ``tests/integration_tests/docs/test_doc_examples.py``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from doc_blocks import DOCS, ROOT, fenced_blocks, pages

MARKDOWN = [*pages(), ROOT / "CONTRIBUTING.md"]
LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
HEADING = re.compile(r"^#{1,6}\s+(.*?)\s*#*\s*$")


def prose_lines(path: Path, keep_code: bool = False) -> list[str]:
    """The lines of a Markdown file outside fenced blocks (inline code removed unless kept)."""
    out, fence = [], None
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\s*(`{3,}|~{3,})", line)
        if m and (fence is None or m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence)):
            fence = None if fence else m.group(1)
            continue
        if fence is None:
            out.append(line if keep_code else re.sub(r"`[^`]*`", "", line))
    return out


def slug(heading: str) -> str:
    """The anchor a heading gets (GitHub's rule, which MkDocs' toc matches for these pages)."""
    text = re.sub(r"`|\*|_{2,}", "", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


@cache
def anchors(path: Path) -> set[str]:
    lines = prose_lines(path, keep_code=True)
    return {slug(m.group(1)) for line in lines if (m := HEADING.match(line))}


def links(path: Path) -> list[str]:
    return [m.group(1) for line in prose_lines(path) for m in LINK.finditer(line)]


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(path: Path) -> None:
    broken = []
    for target in links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in anchors(dest):
            broken.append(f"{target} (no heading #{anchor})")
        elif not dest.is_relative_to(ROOT):
            broken.append(f"{target} (outside the repository)")
    assert not broken, f"{path.relative_to(ROOT)}: {broken}"


def test_link_checker_sees_links_and_anchors() -> None:
    """The checker itself: it finds links outside code and derives anchors from headings."""
    assert "docs/concepts.md#feasibility-and-fall-back" in links(ROOT / "README.md")
    assert "feasibility-and-fall-back" in anchors(DOCS / "concepts.md")
    assert "gstretriever" in anchors(DOCS / "langchain.md")


def test_readme_is_short() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into docs/"


def test_every_skipped_block_says_why() -> None:
    unexplained = [
        b.where for p in pages() for b in fenced_blocks(p) if b.skipped and not b.skip_reason
    ]
    assert not unexplained, f"<!-- skip: why --> needs a reason: {unexplained}"


def test_readme_and_docs_have_python_that_runs() -> None:
    """The doc test has something to run on every hand-written page with code."""
    running = {p.name for p in pages() if any(b.runs for b in fenced_blocks(p))}
    assert {"README.md", "getting-started.md", "concepts.md", "langchain.md"} <= running
    assert {"llama-index.md", "stores.md", "labels.md", "troubleshooting.md"} <= running


# -- nothing points outside the repository ---------------------------------------------------
#: Names of files that live outside this repository, and words that belong to how it was
#: built rather than to what it is. Spelled in pieces so this file does not match itself.
OUTSIDE = [
    "EVAL" + r"\.md",
    "DESIGN" + r"\.md",
    "TEAM" + r"\.md",
    r"\.\./" + "shared",
    "/" + "work/",
    r"\bissue " + r"\d+",
]
#: "session" is pytest's word in the tests; elsewhere it is talk of how the work was done.
SESSION = r"\b" + "session" + r"\b"
NOT_TESTS = ("README.md", "CONTRIBUTING.md", "docs/", "gst_integrations/", "cookbook/",
             "benchmarks/", "Makefile", "pyproject.toml", "mkdocs.yml")  # fmt: skip


def tracked_text_files() -> list[str]:
    try:
        out = subprocess.run(
            ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an sdist)
        pytest.skip("not a git checkout")
    return [f for f in out.splitlines() if not f.endswith((".png", ".gz", ".json"))]


def test_nothing_points_outside_the_repository() -> None:
    pattern = re.compile("|".join(OUTSIDE), re.IGNORECASE)
    session = re.compile(SESSION, re.IGNORECASE)
    found = []
    for name in tracked_text_files():
        path = ROOT / name
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if pattern.search(line) or (name.startswith(NOT_TESTS) and session.search(line)):
                found.append(f"{name}:{n}: {line.strip()[:100]}")
    assert not found, "\n".join(found)


# -- the site -----------------------------------------------------------------------------
def test_site_builds_strictly(tmp_path: Path) -> None:
    """``mkdocs build --strict``: every page, link and anchor, and the API reference from the
    docstrings (mkdocstrings) without a warning."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"),
         "-d", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "index.html").read_text().count("fit_head") > 1
