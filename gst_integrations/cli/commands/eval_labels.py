"""``gst eval-labels``: LLM labels of drug reviews judged against the gold labels."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from gst_integrations.cli.common import llm_from_option, require_eval_extra

NAME = "eval-labels"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="judge LLM labels against gold (drug reviews)", description=run.__doc__
    )
    p.add_argument(
        "--llm",
        default="smollm2",
        help="smollm2 (local, LangChain), smollm2-llamaindex, or MODULE:ATTR (an LLM factory)",
    )
    p.add_argument("--facets", default="rating,condition", help="facets to label, comma-separated")
    p.add_argument(
        "--modes", default="categories", help="categories and/or discovery, comma-separated"
    )
    p.add_argument("--n", type=int, default=150, help="texts the LLM labels per facet")
    p.add_argument("--seed", type=int, default=0, help="seed of the sample the LLM labels")
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for a local LLM")
    p.add_argument("--out", help="directory for the report, .md and .json (default: print only)")
    p.add_argument("--name", default="eval-llm-labels", help="report file name, no suffix")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Label drug reviews with an LLM and compare a head fitted on those labels with generic
    vectors and with a head fitted on gold labels (held-out), plus label agreement with gold."""
    require_eval_extra(NAME)
    from gst_integrations.core.feedback import progress_enabled
    from gst_integrations.evaluation.datasets import load_drug_reviews
    from gst_integrations.evaluation.jobs import machine_note
    from gst_integrations.evaluation.llm_labels import run_label_eval

    llm = llm_from_option(args.llm, args.threads)
    load_before = os.getloadavg()
    report = run_label_eval(
        load_drug_reviews(),
        llm,
        args.facets.split(","),
        modes=args.modes.split(","),
        n_label=args.n,
        seed=args.seed,
        show_progress=progress_enabled(),
        log=print,
    )
    report.machine = machine_note(load_before, os.getloadavg())
    text = report.to_markdown()
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{args.name}.md").write_text(text)
        (out / f"{args.name}.json").write_text(report.to_json())
        print(f"wrote {out / args.name}.md and .json")
    return 0
