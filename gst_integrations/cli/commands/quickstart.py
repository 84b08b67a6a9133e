"""``gst quickstart``: the main job (``gst_integrations.evaluation.quickstart``).

Every argument after ``quickstart`` is the job's own (``gst quickstart --help``).
"""

from __future__ import annotations

import argparse
from typing import Any

from gst_integrations.cli.data_files import CLIError

NAME = "quickstart"
#: The command forwards every later argument to the job's own parser.
FORWARDS_ARGUMENTS = True


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="the main job: drug reviews under two instructions",
        description=run.__doc__,
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER, help="the quickstart's own options")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the main job (``gst_integrations.evaluation.quickstart``) with the remaining
    arguments."""
    try:
        from gst_integrations.evaluation.quickstart import main as quickstart_main
    except ImportError as exc:
        raise CLIError(f"the quickstart is not available: {exc}") from None
    return int(quickstart_main(list(args.rest)) or 0)
