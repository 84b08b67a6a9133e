"""``gst map``: a PNG of a view's 2-D map next to the generic map."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from gst_integrations.cli.common import (
    add_store_args,
    encode,
    open_engine,
    require_eval_extra,
    view_arg,
)
from gst_integrations.cli.data_files import CLIError

NAME = "map"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="PNG map of a view next to the generic map", description=run.__doc__
    )
    add_store_args(p, required=False)
    p.add_argument("--heads", help="head directory (with --collection; default: none)")
    p.add_argument("--view", help="view to map (with --collection; default: none)")
    p.add_argument(
        "--dataset",
        help="map a dataset instead, fitting the view on a 30%% sample (default: none)",
    )
    p.add_argument("--facet", help="dataset facet the view is fitted on (default: none)")
    p.add_argument(
        "--limit", type=int, help="stratified subsample of the dataset (default: all texts)"
    )
    p.add_argument(
        "--color-by",
        help="metadata field (or dataset facet) for the colours (default: the --facet)",
    )
    p.add_argument(
        "--method",
        choices=["auto", "pca", "umap"],
        default="auto",
        help="2-D projection (auto: UMAP when installed, else PCA)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the fit and the projection")
    p.add_argument("--out", required=True, help="PNG file to write")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Write a PNG: the generic map next to the view's map, coloured by a metadata field."""
    require_eval_extra(NAME)
    from gst_integrations.evaluation.plots import dataset_maps, plot_maps

    if args.dataset:
        from gst_integrations.evaluation.jobs import check_facets, load_dataset

        corpus = load_dataset(args.dataset, args.limit, args.seed, args.facet)
        if not args.facet:
            raise CLIError("--dataset needs --facet (the labels the view is fitted on)")
        check_facets(corpus, [args.facet], args.dataset)
        color_by = args.color_by or args.facet
        if color_by not in corpus.facets:
            raise CLIError(f"no field {color_by!r}; fields: {', '.join(corpus.facets)}")
        X, Z, title = dataset_maps(corpus, args.facet, args.seed, encode)
        colors = corpus.facets[color_by]
        view = args.facet
    else:
        X, Z, colors, title = _collection_maps(args)
        view, color_by = args.view, args.color_by
    method = plot_maps(
        X,
        Z,
        colors,
        args.out,
        view=view,
        title=title,
        color_by=color_by,
        method=args.method,
        seed=args.seed,
    )
    size = Path(args.out).stat().st_size
    print(
        f"wrote {args.out} ({len(colors)} points, {method.upper()}, coloured by "
        f"{color_by!r}, {size} bytes)"
    )
    return 0


def _collection_maps(args: argparse.Namespace) -> tuple[Any, Any, list[str], str]:
    """Base and view vectors of a Chroma collection, row-aligned, with each row's colour."""
    missing = [
        o
        for o, v in (
            ("--collection", args.collection),
            ("--heads", args.heads),
            ("--view", args.view),
        )
        if not v
    ]
    if missing:
        raise CLIError(f"give --dataset, or {', '.join(missing)} for a Chroma collection")
    if not args.color_by:
        raise CLIError("give --color-by FIELD (a metadata field of the collection)")
    engine = open_engine(args)
    view = view_arg(args.view)
    if view is None:
        raise CLIError("--view: name a view to map next to the generic map")
    engine.check_compatible(view)
    base_ids, X = engine.view_matrix(None)
    ids, Z = engine.view_matrix(view)
    pos = {i: n for n, i in enumerate(base_ids)}
    both = [n for n, i in enumerate(ids) if i in pos]  # the store may change in between
    ids, Z = [ids[n] for n in both], Z[both]
    X = X[[pos[i] for i in ids]]
    _, metas = engine.documents(ids)
    if not any(args.color_by in m for m in metas):
        fields = sorted({k for m in metas for k in m if not str(k).startswith("gst_")})
        raise CLIError(
            f"no metadata field {args.color_by!r} in {args.collection!r}; "
            f"fields: {', '.join(fields) or '(none)'}"
        )
    colors = [str(m.get(args.color_by, "(missing)")) for m in metas]
    return X, Z, colors, engine.head(view).instruction
