"""One module per ``gst`` command, named after it.

Each has ``NAME``, ``add_parser(subparsers)`` (its options, with ``run`` as the handler)
and ``run(args) -> exit status``; a module with ``FORWARDS_ARGUMENTS`` hands every later
argument to its own parser.
"""

from gst_integrations.cli.commands import (
    bench,
    embed,
    eval_labels,
    fit,
    query,
    quickstart,
    views,
)
from gst_integrations.cli.commands import eval as eval_command
from gst_integrations.cli.commands import map as map_command

#: In the order ``gst --help`` lists them.
COMMANDS = (fit, views, embed, query, eval_command, eval_labels, bench, map_command, quickstart)

__all__ = ["COMMANDS"]
