"""``gst fit``: a view (head) from labelled texts, LLM labels or a stored collection."""

from __future__ import annotations

import argparse
import json
from typing import Any

from gst_integrations.cli.common import (
    FamilyChoices,
    add_store_args,
    encode,
    llm_from_option,
    require_chroma_db,
)
from gst_integrations.cli.data_files import CLIError, read_texts

NAME = "fit"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME,
        help="fit a view (head) from labelled texts or LLM labels",
        description=run.__doc__ + " With --llm, MODULE:ATTR names a "
        "zero-argument factory (or an object) giving a LangChain chat model, a "
        "LlamaIndex LLM or a prompt -> answer callable; LLMLabeler then labels a "
        "--sample of the texts. MODULE may be a path to a .py file.",
    )
    p.add_argument("--instruction", required=True, help="what the view should capture")
    p.add_argument("--name", required=True, help="view name (letters, digits, _ . -)")
    p.add_argument("--heads", required=True, help="head directory (created if missing)")
    p.add_argument(
        "--data", help="texts as .csv, .tsv or .jsonl (default: none; or use --collection)"
    )
    add_store_args(p, required=False)
    p.add_argument(
        "--label-key",
        help="with --collection: the metadata key holding labels (default: none; or --llm)",
    )
    p.add_argument("--text-col", default="text", help="column of the texts (--data)")
    p.add_argument(
        "--label-col",
        help="column of instruction-focused labels (--data; default: none, or use --llm)",
    )
    p.add_argument(
        "--llm",
        metavar="MODULE:ATTR",
        help="LLM factory for LLM labels, or smollm2 / smollm2-llamaindex (the local model); "
        "default: none, the labels come from --label-col or --label-key",
    )
    p.add_argument(
        "--categories",
        help="a view with no labels: category names, comma-separated ('Acne,Pain,Insomnia'), "
        "or a .json file of names or {name: description}; with --llm the LLM writes the "
        "descriptions (default: none, the view is fitted on labels)",
    )
    p.add_argument("--sample", type=int, default=300, help="texts the LLM labels")
    p.add_argument(
        "--clusters",
        type=int,
        help="summary clusters for LLM labels (default: one per 10 sampled texts, 2 to 50)",
    )
    p.add_argument(
        "--family",
        choices=FamilyChoices(),
        help="head family (default: auto, the best linear family for the labels)",
    )
    p.add_argument("--seed", type=int, default=0, help="seed of the labelling and the fit")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    """Fit a head for an instruction from labelled texts or LLM labels; save it by name."""
    from gst_integrations.core.feedback import progress_enabled
    from gst_integrations.core.heads.card import feasibility_summary
    from gst_integrations.core.heads.store import HeadStore, check_view_name
    from gst_integrations.core.heads.training import fit_head

    check_view_name(args.name)
    if args.categories is not None:
        return _fit_from_categories(args)
    if args.collection is not None:
        return _fit_from_collection(args)
    if args.data is None:
        raise CLIError("give --data (texts to embed) or --collection (vectors already stored)")
    if args.llm is None and args.label_col is None:
        raise CLIError("give --label-col (labelled data) or --llm module:attr (LLM labels)")
    if args.llm is not None and args.label_col is not None:
        raise CLIError("give either --label-col or --llm, not both")
    label_cols = [args.label_col] if args.label_col else []
    texts, labels_by_col, _ = read_texts(args.data, args.text_col, label_cols)
    if args.llm is not None:
        from gst_integrations.labels import LLMLabeler

        llm = llm_from_option(args.llm, threads=1)
        n_clusters = args.clusters or max(2, min(50, min(args.sample, len(texts)) // 10))
        labeler = LLMLabeler(
            llm,
            n_clusters=n_clusters,
            sample_size=args.sample,
            seed=args.seed,
            show_progress=progress_enabled(),
        )
        result = labeler.label_detailed(args.instruction, texts)
        labels: list[str | None] = result.labels
        print(
            f"LLM labels: {result.n_labelled} of {len(texts)} texts in "
            f"{len(result.label_names)} classes ({result.n_llm_calls} LLM calls, "
            f"{result.n_cache_hits} cached, {result.n_dropped} answers dropped)"
        )
    else:
        labels = [v or None for v in labels_by_col[args.label_col]]
    keep = [i for i, y in enumerate(labels) if y is not None]
    if len({labels[i] for i in keep}) < 2:
        raise CLIError(
            f"need labels of at least two classes to fit a head; got {len(keep)} labelled texts "
            f"in {len({labels[i] for i in keep})} class(es)"
        )
    X, enc = encode([texts[i] for i in keep], desc="embed texts")
    options: dict[str, Any] = {"seed": args.seed}
    if args.family:
        options["family"] = args.family
    head = fit_head(
        args.instruction,
        X,
        [labels[i] for i in keep],
        encoder=enc.base_encoder,
        name=args.name,
        **options,
    )
    path = HeadStore(args.heads).save(args.name, head)
    metrics = {k: v for k, v in head.card.get("metrics", {}).items() if v is not None}
    print(f"saved view {args.name!r} ({head.family}, {head.in_dim}->{head.out_dim}) to {path}")
    print(f"labels ({len(head.label_names)}): {', '.join(head.label_names)}")
    print("held-out metrics: " + json.dumps(metrics))
    print(feasibility_summary(head))
    return 0


def parse_categories(raw: str) -> list[str] | dict[str, str | None]:
    """``--categories``: comma-separated names, or a .json file of names or
    ``{name: description}``."""
    from pathlib import Path

    path = Path(raw)
    if raw.endswith(".json"):
        if not path.is_file():
            raise CLIError(f"--categories: no such file {raw}")
        try:
            value = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise CLIError(f"--categories: {raw} is not valid JSON ({exc.msg})") from None
        if isinstance(value, dict):
            return {str(k): (None if v is None else str(v)) for k, v in value.items()}
        if isinstance(value, list):
            return [str(v) for v in value]
        raise CLIError("--categories: the JSON file must hold a list of names or a dict")
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if len(names) < 2:
        raise CLIError("--categories needs at least two names, comma-separated")
    return names


def _fit_from_categories(args: argparse.Namespace) -> int:
    """``gst fit --categories``: a view with no labels, from category names (and an LLM's
    descriptions of them with --llm), on --data texts or a --collection's vectors."""
    from gst_integrations.core.encoders.default import default_encoder
    from gst_integrations.core.heads.card import feasibility_summary
    from gst_integrations.core.heads.store import HeadStore

    if args.label_col is not None or args.label_key is not None:
        raise CLIError("--categories fits a view without labels: drop --label-col/--label-key")
    categories = parse_categories(args.categories)
    if args.llm is not None:
        from gst_integrations.core.labels.describe import describe_categories

        names = list(categories)
        written = describe_categories(llm_from_option(args.llm, threads=1), args.instruction, names)
        given = categories if isinstance(categories, dict) else {}
        categories = {n: given.get(n) or written.get(n) for n in names}
        print(f"LLM descriptions: {len(written)} of {len(names)} categories")
    options: dict[str, Any] = {"seed": args.seed}
    if args.family:
        options["family"] = args.family
    if args.collection is not None:
        from gst_integrations.core.views.fit import fit_view
        from gst_integrations.stores.chroma import ChromaSource, open_chroma_collection

        require_chroma_db(args)
        source = ChromaSource(
            open_chroma_collection(
                args.collection, path=args.chroma_path, host=args.host, port=args.port
            )
        )
        head = fit_view(
            args.instruction,
            source,
            categories=categories,
            encoder=default_encoder(),
            name=args.name,
            **options,
        )
    elif args.data is not None:
        from gst_integrations.core.heads.training import fit_head

        texts, _, _ = read_texts(args.data, args.text_col, [])
        X, enc = encode(texts, desc="embed texts")
        head = fit_head(
            args.instruction,
            X,
            categories=categories,
            encoder=enc.base_encoder,
            name=args.name,
            **options,
        )
    else:
        raise CLIError("give --data (texts to embed) or --collection (vectors already stored)")
    path = HeadStore(args.heads).save(args.name, head)
    print(f"saved view {args.name!r} ({head.family}, {head.in_dim}->{head.out_dim}) to {path}")
    counts = (head.card.get("zero_shot") or {}).get("pseudo_label_counts") or {}
    print(
        f"categories ({len(head.label_names)}): "
        + ", ".join(f"{n} ({counts.get(n, 0)})" for n in head.label_names)
    )
    print(feasibility_summary(head))
    return 0


def _fit_from_collection(args: argparse.Namespace) -> int:
    """``gst fit --collection``: a view from the vectors a Chroma collection already holds."""
    from gst_integrations.core.feedback import progress_enabled
    from gst_integrations.core.heads.store import HeadStore
    from gst_integrations.core.views.fit import fit_view
    from gst_integrations.stores.chroma import ChromaSource, open_chroma_collection

    if (args.label_key is None) == (args.llm is None):
        raise CLIError("with --collection, give either --label-key (metadata) or --llm")
    require_chroma_db(args)
    source = ChromaSource(
        open_chroma_collection(
            args.collection, path=args.chroma_path, host=args.host, port=args.port
        )
    )
    labeler = None
    if args.llm is not None:
        from gst_integrations.labels import LLMLabeler

        llm = llm_from_option(args.llm, threads=1)
        n_clusters = args.clusters or max(2, min(50, args.sample // 10))
        labeler = LLMLabeler(
            llm, n_clusters=n_clusters, seed=args.seed, show_progress=progress_enabled()
        )
    options: dict[str, Any] = {"seed": args.seed}
    if args.family:
        options["family"] = args.family
    head = fit_view(
        args.instruction,
        source,
        labels=args.label_key,
        labeler=labeler,
        sample_size=args.sample if labeler is not None else None,
        name=args.name,
        **options,
    )
    path = HeadStore(args.heads).save(args.name, head)
    print(f"saved view {args.name!r} ({head.family}, {head.in_dim}->{head.out_dim}) to {path}")
    print(f"labels ({len(head.label_names)}): {', '.join(head.label_names)}")
    known = "recorded by the collection" if head.card["encoder_known"] else "unknown"
    print(f"base encoder: {known}")
    return 0
