"""``gst query``: search a Chroma collection through a view."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gst_integrations.cli.common import (
    add_store_args,
    open_engine,
    parse_where,
    table,
    view_arg,
)
from gst_integrations.cli.data_files import CLIError

NAME = "query"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="search a collection through a view", description=run.__doc__)
    add_store_args(p)
    p.add_argument("--heads", required=True, help="head directory")
    p.add_argument("--view", help="view name, or 'generic' for the base vectors (default: generic)")
    p.add_argument("query", help="the query text")
    p.add_argument("-k", type=int, default=5, help="number of results")
    p.add_argument(
        "--where",
        help='metadata filter as JSON, e.g. \'{"rating": "positive"}\' (default: no filter)',
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)
    return p


def fmt_meta(meta: dict[str, Any]) -> str:
    """A hit's metadata as ``key=value`` pairs, without the package's own ``gst_`` keys."""
    return " ".join(f"{k}={v}" for k, v in meta.items() if not str(k).startswith("gst_"))


def run(args: argparse.Namespace) -> int:
    """Search a Chroma collection through a view and print a results table."""
    if args.k < 1:
        raise CLIError("-k must be at least 1")
    engine = open_engine(args)
    view = view_arg(args.view)  # an unknown view: UnknownViewError naming the nearest
    hits = engine.search(args.query, view=view, k=args.k, where=parse_where(args.where))
    if args.json:
        print(json.dumps([h.__dict__ for h in hits], indent=2, default=str))
        return 0
    label = view or "generic"
    print(f"view {label!r}, query {args.query!r}: {len(hits)} result(s)")
    rows = [
        [str(r), f"{h.score:.3f}", h.id, fmt_meta(h.metadata), h.document or ""]
        for r, h in enumerate(hits, 1)
    ]
    print(table(rows, ["#", "score", "id", "metadata", "document"]))
    return 0
