"""The Python blocks of the README and the docs pages, as the doc tests run them.

Rules (CONTRIBUTING in the docs says the same):

* A fenced block whose info string is exactly ``python`` runs, in page order, in one
  namespace per page, in a fresh working folder.
* A ``<!-- skip: reason -->`` line right before the fence marks a block that is not meant
  to run (a reason is required). Keep these rare.
* A fenced ``text`` block right after a running block (blank lines between are allowed) is
  that block's expected standard output, compared line by line (trailing spaces ignored).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^`\n]*)$")
SKIP = re.compile(r"^\s*<!--\s*skip(?::\s*(?P<reason>.*?))?\s*-->\s*$")


@dataclass
class Block:
    """One fenced block of a page."""

    path: Path
    line: int  # 1-based line of the opening fence
    info: str
    code: str
    skip_reason: str | None = None
    skipped: bool = False
    expected_output: str | None = None
    end: int = 0  # 0-based index of the closing fence

    @property
    def runs(self) -> bool:
        return self.info == "python" and not self.skipped

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def pages() -> list[Path]:
    """The README, then every Markdown page of the docs site, in a stable order."""
    return [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]


def fenced_blocks(path: Path) -> list[Block]:
    """Every fenced block of a Markdown file, with skip markers and expected outputs."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        fence, indent, info = m.group("fence"), m.group("indent"), m.group("info").strip()
        body: list[str] = []
        j = i + 1
        while j < len(lines) and not (
            lines[j].strip().startswith(fence) and lines[j].strip().strip(fence[0]) == ""
        ):
            line = lines[j]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            j += 1
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        skip = SKIP.match(lines[k]) if k >= 0 else None
        blocks.append(
            Block(
                path=path,
                line=i + 1,
                info=info,
                code="\n".join(body) + "\n",
                skipped=skip is not None,
                skip_reason=(skip.group("reason") or "").strip() if skip else None,
                end=j,
            )
        )
        i = j + 1
    # A ``text`` block right after a running Python block is its expected output.
    for before, after in zip(blocks, blocks[1:], strict=False):
        if before.runs and after.info == "text" and _only_blank_between(lines, before, after):
            before.expected_output = after.code
    return blocks


def _only_blank_between(lines: list[str], before: Block, after: Block) -> bool:
    return all(not ln.strip() for ln in lines[before.end + 1 : after.line - 1])


def normalise_output(text: str) -> str:
    """Output as compared: trailing spaces and blank lines at either end dropped."""
    return "\n".join(line.rstrip() for line in text.strip("\n").splitlines())
