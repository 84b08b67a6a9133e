"""The CLI's shape: one module per command, a small entry point, nothing importing it back."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from gst_integrations.cli.commands import COMMANDS
from gst_integrations.cli.main import build_parser
from gst_integrations.core.heads.card import feasibility_summary

ROOT = Path(__file__).resolve().parents[3]


def imported_modules(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
    return out


def test_one_module_per_command_named_after_it() -> None:
    parser_commands = set(build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert parser_commands == {c.NAME for c in COMMANDS}
    for command in COMMANDS:
        assert Path(command.__file__).stem == command.NAME.replace("-", "_")


@pytest.mark.parametrize(
    "path",
    sorted((ROOT / "cookbook").glob("*.py")) + sorted((ROOT / "gst_integrations").rglob("*.py")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_only_the_cli_imports_the_cli(path: Path) -> None:
    """Recipes and the library (evaluation included) import nothing from the CLI, and no
    command module imports the entry point (no circle)."""
    rel = path.relative_to(ROOT).as_posix()
    mods = imported_modules(path)
    if rel.startswith("gst_integrations/cli/"):
        if rel != "gst_integrations/cli/__main__.py":
            assert "gst_integrations.cli.main" not in mods, rel
        return
    assert not any(
        m == "gst_integrations.cli" or m.startswith("gst_integrations.cli.") for m in mods
    )


def test_feasibility_summary_reads_the_card() -> None:
    card = {
        "feasibility": {"cv_accuracy": 0.7, "majority_share": 0.4},
        "view_fit": {"alpha": 0.5, "fell_back_to_generic": False},
    }
    assert feasibility_summary(card) == (
        "feasibility: probe accuracy 0.70 against a majority share of 0.40 -> "
        "encoded: view mix alpha 0.5"
    )
    card["view_fit"] = {"fell_back_to_generic": True}
    assert feasibility_summary(card).endswith(
        "barely encoded: the view falls back to the generic vectors"
    )
    assert feasibility_summary({}) == "feasibility: not measured for this head family"
