"""``gst``: fit, list, query, evaluate, benchmark and map instruction views from a shell.

This module is the entry point: the argument parser and the dispatch. Each command lives in
``gst_integrations.cli.commands.<command>`` and is a thin user of the public API. Bad input
(a missing or empty file, a missing column, an unknown view or dataset, any ``GSTError``) is
printed as one ``error: ...`` line on stderr with exit status 1, never a traceback
(``GST_DEBUG=1`` shows it). Heavy imports (torch, the encoder, chromadb) happen inside the
commands.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from gst_integrations import __version__
from gst_integrations.cli.commands import COMMANDS
from gst_integrations.cli.common import Parser
from gst_integrations.cli.data_files import CLIError

EPILOG = "Run `gst COMMAND --help` for the options of one command."


def build_parser() -> argparse.ArgumentParser:
    """The ``gst`` argument parser with one sub-parser per command."""
    parser = Parser(
        prog="gst",
        description="Instruction views (GSTransform) over vectors already in a vector store.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True
    for command in COMMANDS:
        command.add_parser(sub)
    return parser


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    for command in COMMANDS:
        if getattr(command, "FORWARDS_ARGUMENTS", False) and argv[:1] == [command.NAME]:
            return argparse.Namespace(func=command.run, rest=argv[1:])
    return parser.parse_args(argv)


def main(argv: Sequence[str | os.PathLike[str]] | None = None) -> int:
    """Run ``gst`` with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    argv = [
        os.fspath(a) if isinstance(a, os.PathLike) else str(a)
        for a in (sys.argv[1:] if argv is None else argv)
    ]
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except SystemExit as exc:  # --help, or a usage error argparse already printed
        return int(exc.code or 0)
    from gst_integrations.core.errors import GSTError

    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except (CLIError, GSTError, ValueError, OSError, TypeError) as exc:
        if os.environ.get("GST_DEBUG"):  # GST_DEBUG=1 shows the traceback
            raise
        if isinstance(exc, FileNotFoundError) and exc.filename:
            msg = f"file not found: {exc.filename}"
        else:
            text = str(exc).strip()
            msg = text.splitlines()[0] if text else type(exc).__name__
        print(f"error: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
