"""``gst eval``: the held-out evaluation protocol on a bundled dataset or the user's file.

Option parsing and printing only; the job itself is ``gst_integrations.evaluation.jobs``.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gst_integrations.cli.common import llm_from_option, require_eval_extra
from gst_integrations.cli.data_files import CLIError, read_texts

NAME = "eval"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="run the evaluation protocol", description=run.__doc__)
    p.add_argument(
        "--dataset",
        help="drug-reviews, bbc-news or gcide-two-facet (default: none; or give --data)",
    )
    p.add_argument("--facets", help="facets A,B of a dataset (default: its first two)")
    p.add_argument("--data", help="your labelled .csv/.jsonl (default: none; or --dataset)")
    p.add_argument("--text-col", default="text", help="column of the texts (--data)")
    p.add_argument("--label-col", help="facet A column (--data; default: none)")
    p.add_argument("--facet-b-col", help="facet B column (--data; default: none)")
    p.add_argument(
        "--instruction",
        help="instruction of facet A (--data; default: 'What is the <facet> of this text?')",
    )
    p.add_argument(
        "--limit", type=int, help="stratified subsample of at most N texts (default: all)"
    )
    p.add_argument(
        "--guide-fraction",
        type=float,
        default=0.3,
        help="share of the texts whose labels fit the views; the rest is held out",
    )
    p.add_argument(
        "--fast",
        action="store_true",
        help="skip the prefixed re-encoding baseline and the paper head",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the guide/held-out split")
    p.add_argument(
        "--seeds",
        help="comma-separated split seeds, e.g. 0,1,2: mean scores over several splits "
        "(default: --seed only)",
    )
    p.add_argument(
        "--blends",
        help="blends of the default head's views, e.g. 'pos=.5,field=.5;pos=.4,field=.4,"
        "generic=.2' (default: equal weights with and without generic, and 0.6/0.4/0.2)",
    )
    p.add_argument(
        "--budget",
        help="label-budget curve over these guide fractions, e.g. 0.1,0.3,0.5,0.7 "
        "(default: no curve)",
    )
    p.add_argument(
        "--zero-label",
        help="views with no labels to score, comma-separated: names, descriptions, "
        "llm-descriptions, llm-labels (the llm-* ones need --llm; default: none)",
    )
    p.add_argument(
        "--llm",
        metavar="MODULE:ATTR",
        help="LLM for --zero-label llm-descriptions / llm-labels: smollm2 (local), "
        "smollm2-llamaindex, or MODULE:ATTR (default: none)",
    )
    p.add_argument(
        "--no-auto-blend",
        action="store_true",
        help="skip the blend whose weights are chosen on the guide",
    )
    p.add_argument(
        "--threads", type=int, help="cap BLAS/OpenMP/torch threads (shared CPUs; default: no cap)"
    )
    p.add_argument(
        "--out",
        help="directory for eval-<dataset>.md, .json (and -budget.png) (default: print only)",
    )
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the evaluation protocol; print the markdown table and write markdown + JSON."""
    require_eval_extra("eval")
    from gst_integrations.evaluation.blends import parse_blends
    from gst_integrations.evaluation.datasets.dataset import LabelledCorpus
    from gst_integrations.evaluation.jobs import (
        check_facets,
        load_dataset,
        prepare_facets,
        run_evaluation,
        stratified_limit,
    )

    if args.dataset and args.data:
        raise CLIError("give --dataset or --data, not both")
    instructions: dict[str, str] = {}
    if args.dataset:
        facets = args.facets.split(",") if args.facets else None
        corpus = load_dataset(args.dataset, args.limit, args.seed, facets[0] if facets else None)
        facets = facets or list(corpus.facets)[:2]
        check_facets(corpus, facets, args.dataset)
    elif args.data:
        if not args.label_col or not args.facet_b_col:
            raise CLIError("--data needs --label-col (facet A) and --facet-b-col (facet B)")
        texts, labels, _ = read_texts(args.data, args.text_col, [args.label_col, args.facet_b_col])
        corpus = LabelledCorpus(name=Path(args.data).stem, texts=texts, facets=labels)
        corpus = corpus.subset(stratified_limit(labels[args.label_col], args.limit, args.seed))
        facets = [args.label_col, args.facet_b_col]
        if args.instruction:
            instructions[args.label_col] = args.instruction
    else:
        raise CLIError("give --dataset NAME or --data FILE")
    corpus, facets = prepare_facets(corpus, facets, log=print)
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    try:
        blends = parse_blends(args.blends, facets[:2]) if args.blends else None
    except ValueError as exc:
        raise CLIError(f"--blends: {exc}") from None
    result = run_evaluation(
        corpus,
        facets,
        guide_fraction=args.guide_fraction,
        seeds=seeds,
        instructions=instructions,
        fast=args.fast,
        blends=blends,
        budget=[float(x) for x in args.budget.split(",")] if args.budget else None,
        zero_label=[v.strip() for v in args.zero_label.split(",")] if args.zero_label else (),
        llm=llm_from_option(args.llm, threads=args.threads or 1) if args.llm else None,
        auto_blend=not args.no_auto_blend,
        threads=args.threads,
        log=print,
    )
    print(result.to_markdown())
    if args.out:
        result.write(args.out, log=print)
    return 0
