"""``gst bench``: the view benchmarks (``gst_integrations.evaluation.bench``) as a table."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gst_integrations.cli.common import require_eval_extra
from gst_integrations.cli.data_files import CLIError

NAME = "bench"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="run the view benchmarks", description=run.__doc__)
    p.add_argument("--small", action="store_true", help="tiny sizes: a smoke run")
    p.add_argument("--sizes", help="comma-separated view sizes N (default: 100000,1000000)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument(
        "--encode-texts",
        type=int,
        help="reviews timed for the re-encoding rate (default: 500, or 64 with --small)",
    )
    p.add_argument("--out", help="directory for bench-views.md and .json (default: print only)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the view benchmarks (``gst_integrations.evaluation.bench``) and print their table."""
    require_eval_extra(NAME)
    try:
        from gst_integrations.evaluation.bench import format_table, run_view_benchmarks
    except ImportError as exc:
        raise CLIError(f"the benchmark module is not available: {exc}") from None
    kwargs: dict[str, Any] = {"device": args.device, "print_table": False}
    if args.small:  # the same tiny sizes as `python -m gst_integrations.evaluation.bench --small`
        kwargs.update(sizes=(20_000,), encode_texts=64, n_queries=20)
    if args.sizes:
        try:
            kwargs["sizes"] = tuple(int(x) for x in args.sizes.split(","))
        except ValueError:
            raise CLIError(f"--sizes: comma-separated integers, not {args.sizes!r}") from None
        if any(n < 1 for n in kwargs["sizes"]):
            raise CLIError("--sizes must be positive")
    if args.encode_texts is not None:
        kwargs["encode_texts"] = args.encode_texts
    out = run_view_benchmarks(**kwargs)
    text = format_table(out)
    print(text)
    if args.out:
        out_dir = Path(args.out)
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "bench-views.md").write_text(text + "\n", encoding="utf-8")
        (out_dir / "bench-views.json").write_text(
            json.dumps(out, indent=2, default=str) + "\n", encoding="utf-8"
        )
        print(f"wrote {out_dir / 'bench-views.md'} and bench-views.json")
    return 0
