"""`gst --version`, help text and shown defaults on every option, --family choices from the
registry, no stray databases, no weight-loading bars."""

from __future__ import annotations

import argparse
from importlib.metadata import version

import pytest

from gst_integrations.cli.common import HelpFormatter
from gst_integrations.cli.main import build_parser, main
from gst_integrations.core.errors import StoreError
from gst_integrations.core.heads.families import HEAD_FAMILIES


def subparsers() -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_version(capsys) -> None:
    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"gst {version('gst-integrations')}"


@pytest.mark.parametrize("command", sorted(subparsers()))
def test_every_option_has_help_and_shows_its_default(command: str) -> None:
    parser = subparsers()[command]
    fmt = HelpFormatter(parser.prog)
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        name = "/".join(action.option_strings) or action.dest
        assert action.help, f"gst {command} {name}: no help text"
        if not action.option_strings or action.required or action.nargs == 0:
            continue  # positionals, required options and flags have no default to show
        shown = fmt._expand_help(action)
        assert "default" in shown, f"gst {command} {name}: no default shown in {shown!r}"
        if action.default is not None:
            assert str(action.default) in shown


def test_family_lists_the_registered_families(tmp_path, capsys) -> None:
    assert main(["fit", "--help"]) == 0
    # every registered family, and "auto" (the default: the best linear family per facet)
    assert "{" + ",".join(sorted([*HEAD_FAMILIES, "auto"])) + "}" in capsys.readouterr().out
    data = tmp_path / "d.csv"
    data.write_text("text,label\na,x\nb,y\n")
    code = main(["fit", "--instruction", "i", "--name", "v", "--heads", str(tmp_path),
                 "--data", str(data), "--label-col", "label", "--family", "lda_mx"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and "invalid choice: 'lda_mx'" in err and "'lda_mix'" in err


def test_opening_a_folder_without_chroma_creates_nothing(tmp_path, capsys) -> None:
    """`gst query --chroma-path <a folder that holds no Chroma DB>` leaves it as it was."""
    from gst_integrations.stores.chroma import open_chroma_collection

    empty = tmp_path / "not-chroma"
    empty.mkdir()
    (tmp_path / "heads").mkdir()
    code = main(["query", "--chroma-path", str(empty), "--collection", "c",
                 "--heads", str(tmp_path / "heads"), "q"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1 and "no Chroma database in" in err and "gst embed" in err
    with pytest.raises(StoreError, match="no Chroma database at .*holds no chroma.sqlite3"):
        open_chroma_collection("c", path=empty)
    with pytest.raises(StoreError, match="does not exist"):
        open_chroma_collection("c", path=tmp_path / "missing")
    assert list(empty.iterdir()) == [] and not (tmp_path / "missing").exists()


def test_quiet_weight_loading_is_scoped() -> None:
    pytest.importorskip("transformers")
    from transformers.utils import logging as hf_logging

    from gst_integrations.core.feedback import quiet_weight_loading

    before = hf_logging.is_progress_bar_enabled()
    hf_logging.enable_progress_bar()
    try:
        with quiet_weight_loading():
            bar = hf_logging.tqdm(range(3), desc="Loading weights")
            assert type(bar).__name__ == "EmptyTqdm"
        assert hf_logging.is_progress_bar_enabled()
    finally:
        (hf_logging.enable_progress_bar if before else hf_logging.disable_progress_bar)()
