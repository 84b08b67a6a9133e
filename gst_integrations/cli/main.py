"""``gst``: fit, list, query, evaluate, benchmark and map instruction views from a shell.

Every command is a thin user of the public API. Bad input (a missing or empty file, a
missing column, an unknown view or dataset, any ``GSTError``) is printed as one
``error: ...`` line on stderr with exit status 1, never a traceback. Heavy imports
(torch, the encoder, chromadb) happen inside the commands so ``gst --help`` is instant.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gst_integrations.cli.data_files import CLIError, load_object, read_texts

EPILOG = "Run `gst COMMAND --help` for the options of one command."


# -- helpers ---------------------------------------------------------------------------------
#: Modules each command needs beyond the library, all from the ``eval`` extra.
EVAL_EXTRA = {
    "eval": ("sklearn", "gst_integrations.evaluation"),
    "eval-labels": ("sklearn", "gst_integrations.evaluation"),
    "bench": ("gst_integrations.evaluation",),
    "map": ("matplotlib", "gst_integrations.evaluation"),
}


def require_eval_extra(command: str) -> None:
    """Raise CLIError naming the extra to install when ``gst command`` cannot run."""
    missing = [m for m in EVAL_EXTRA.get(command, ()) if importlib.util.find_spec(m) is None]
    if missing:
        raise CLIError(
            f"`gst {command}` needs {', '.join(missing)}: pip install 'gst-integrations[eval]'"
        )


def _table(rows: list[list[str]], header: list[str], max_width: int = 64) -> str:
    """A plain aligned text table (cells cut to ``max_width`` characters)."""

    def cut(s: Any) -> str:
        s = " ".join(str(s).split())
        return s if len(s) <= max_width else s[: max_width - 1] + "…"

    cells = [[cut(h) for h in header]] + [[cut(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _encode(texts: list[str], desc: str = "encode") -> Any:
    """Base vectors of texts through the cached default encoder, with a progress bar."""
    import numpy as np
    from tqdm.auto import tqdm

    from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
    from gst_integrations.core.paths import default_cache_dir

    enc = CachedEncoder(None, VectorCache(default_cache_dir() / "vectors.sqlite"))
    out = []
    for s in tqdm(range(0, len(texts), 64), desc=desc, unit="batch", leave=False):
        out.append(enc.encode(texts[s : s + 64]))
    return np.concatenate(out) if out else np.zeros((0, enc.dim), np.float32), enc


def _parse_where(raw: str | None) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        where = json.loads(raw)
    except json.JSONDecodeError as exc:
        example = '{"rating": "positive"}'
        raise CLIError(f"--where is not valid JSON: {exc.msg} (e.g. '{example}')") from None
    if not isinstance(where, dict):
        raise CLIError("--where must be a JSON object")
    return where


def _open_engine(args: argparse.Namespace, show_progress: bool = True) -> Any:
    """A ViewEngine over the Chroma collection and head directory named in ``args``."""
    from gst_integrations.core.heads.store import HeadStore
    from gst_integrations.core.views.engine import ViewEngine
    from gst_integrations.stores.chroma import ChromaSource, open_chroma_collection

    if args.host is None and not Path(args.chroma_path).exists():
        raise CLIError(f"Chroma directory not found: {args.chroma_path}")
    heads_dir = Path(args.heads)
    if not heads_dir.is_dir():
        raise CLIError(f"head directory not found: {heads_dir}")
    collection = open_chroma_collection(
        args.collection, path=args.chroma_path, host=args.host, port=args.port
    )
    return ViewEngine(ChromaSource(collection), HeadStore(heads_dir), show_progress=show_progress)


def _view_arg(view: str | None) -> str | None:
    return None if view in (None, "", "generic", "base") else view


def _stratified_limit(labels: Sequence[str], limit: int | None, seed: int) -> list[int]:
    """Indices of a seeded, label-stratified subsample of at most ``limit`` items."""
    n = len(labels)
    if limit is None or limit >= n:
        return list(range(n))
    if limit < 2:
        raise CLIError("--limit must be at least 2")
    from sklearn.model_selection import train_test_split

    idx = list(range(n))
    try:
        keep, _ = train_test_split(idx, train_size=limit, random_state=seed, stratify=labels)
    except ValueError:
        keep, _ = train_test_split(idx, train_size=limit, random_state=seed)
    return sorted(int(i) for i in keep)


def _load_dataset(name: str, limit: int | None, seed: int, facet: str | None = None) -> Any:
    from gst_integrations.evaluation.datasets import DATASETS

    if name not in DATASETS:
        raise CLIError(f"unknown dataset {name!r}; choose one of: {', '.join(sorted(DATASETS))}")
    corpus = DATASETS[name]()
    strat = facet if facet in corpus.facets else next(iter(corpus.facets))
    return corpus.subset(_stratified_limit(corpus.facets[strat], limit, seed))


# -- commands --------------------------------------------------------------------------------
def cmd_fit(args: argparse.Namespace) -> int:
    """Fit a head for an instruction from labelled texts or LLM labels; save it by name."""
    from gst_integrations.core.heads.store import HeadStore, check_view_name
    from gst_integrations.core.heads.training import fit_head

    check_view_name(args.name)
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

        llm = _llm_from_option(args.llm, threads=1)
        n_clusters = args.clusters or max(2, min(50, min(args.sample, len(texts)) // 10))
        labeler = LLMLabeler(llm, n_clusters=n_clusters, sample_size=args.sample, seed=args.seed)
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
    X, enc = _encode([texts[i] for i in keep], desc="embed texts")
    options: dict[str, Any] = {"seed": args.seed}
    if args.family:
        options["family"] = args.family
    head = fit_head(
        args.instruction,
        X,
        [labels[i] for i in keep],
        encoder=enc.base_encoder,
        name=args.name,
        show_progress=True,
        **options,
    )
    path = HeadStore(args.heads).save(args.name, head)
    metrics = {k: v for k, v in head.card.get("metrics", {}).items() if v is not None}
    print(f"saved view {args.name!r} ({head.family}, {head.in_dim}->{head.out_dim}) to {path}")
    print(f"labels ({len(head.label_names)}): {', '.join(head.label_names)}")
    print("held-out metrics: " + json.dumps(metrics))
    print(feasibility_line(head))
    return 0


def feasibility_line(head: Any) -> str:
    """How much of the facet the base vectors carry, from the head's card."""
    feas, fit = head.card.get("feasibility") or {}, head.card.get("view_fit") or {}
    if not feas:
        return "feasibility: not measured for this head family"
    verdict = (
        "barely encoded: the view falls back to the generic vectors"
        if fit.get("fell_back_to_generic")
        else f"encoded: view mix alpha {fit.get('alpha')}"
    )
    return (
        f"feasibility: probe accuracy {feas.get('cv_accuracy', float('nan')):.2f} against a "
        f"majority share of {feas.get('majority_share', float('nan')):.2f} -> {verdict}"
    )


def _fit_from_collection(args: argparse.Namespace) -> int:
    """``gst fit --collection``: a view from the vectors a Chroma collection already holds."""
    from gst_integrations.core.heads.store import HeadStore
    from gst_integrations.core.views.fit import fit_view
    from gst_integrations.stores.chroma import ChromaSource, open_chroma_collection

    if (args.label_key is None) == (args.llm is None):
        raise CLIError("with --collection, give either --label-key (metadata) or --llm")
    if args.host is None and not Path(args.chroma_path).exists():
        raise CLIError(f"Chroma directory not found: {args.chroma_path}")
    source = ChromaSource(
        open_chroma_collection(
            args.collection, path=args.chroma_path, host=args.host, port=args.port
        )
    )
    labeler = None
    if args.llm is not None:
        from gst_integrations.labels import LLMLabeler

        llm = _llm_from_option(args.llm, threads=1)
        n_clusters = args.clusters or max(2, min(50, args.sample // 10))
        labeler = LLMLabeler(llm, n_clusters=n_clusters, seed=args.seed)
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


def _fmt_metrics(metrics: dict[str, Any]) -> str:
    parts = []
    first = ("val_auc", "val_knn_accuracy", "n_train", "n_val")
    ordered = {k: metrics[k] for k in first if k in metrics}
    ordered.update({k: v for k, v in metrics.items() if k not in ordered and v not in (0, None)})
    for k, v in ordered.items():
        parts.append(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


def cmd_views(args: argparse.Namespace) -> int:
    """List the heads of a directory: instruction, labels, held-out metrics, encoder."""
    from gst_integrations.core.heads.store import HeadStore

    heads_dir = Path(args.heads)
    if not heads_dir.is_dir():
        raise CLIError(f"head directory not found: {heads_dir}")
    store = HeadStore(heads_dir, device="cpu")
    cards, errors = store.cards(), store.errors()
    if args.json:
        out = {
            "views": [
                {
                    "name": n,
                    "instruction": c["instruction"],
                    "label_names": c["label_names"],
                    "metrics": c.get("metrics", {}),
                    "encoder": (c.get("encoder") or {}).get("name"),
                    "family": c.get("options", {}).get("family"),
                }
                for n, c in cards.items()
            ],
            "errors": errors,
        }
        print(json.dumps(out, indent=2))
        return 0
    if not cards and not errors:
        print(f"no views in {heads_dir} (create one with `gst fit`)")
        return 0
    rows = [
        [
            n,
            c["instruction"],
            ", ".join(c["label_names"]),
            _fmt_metrics(c.get("metrics", {})),
            (c.get("encoder") or {}).get("name", "?"),
        ]
        for n, c in cards.items()
    ]
    rows += [[n, "UNREADABLE", err, "", ""] for n, err in errors.items()]
    print(_table(rows, ["view", "instruction", "labels", "held-out metrics", "encoder"]))
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    """Embed a file's texts once into a Chroma collection (other columns become metadata)."""
    from gst_integrations.core.encoders.cache import CachedEncoder, VectorCache
    from gst_integrations.core.paths import default_cache_dir
    from gst_integrations.stores.chroma import embed_into_chroma, open_chroma_collection

    texts, _, rows = read_texts(args.data, args.text_col)
    if args.id_col:
        ids = [str(r.get(args.id_col, "")) for r in rows]
        if any(not i for i in ids):
            raise CLIError(f"column {args.id_col!r} is missing or empty in some rows")
    else:
        ids = [str(i) for i in range(len(texts))]
    skip = {args.text_col, args.id_col}
    metas = [
        {
            k: (v if isinstance(v, (int, float, bool)) else str(v))
            for k, v in r.items()
            if k not in skip and k and v not in (None, "")
        }
        or None
        for r in rows
    ]
    enc = CachedEncoder(None, VectorCache(default_cache_dir() / "vectors.sqlite"))
    collection = open_chroma_collection(
        args.collection,
        path=args.chroma_path,
        host=args.host,
        port=args.port,
        create=True,
        encoder_fingerprint=enc.fingerprint(),
    )
    n = embed_into_chroma(collection, texts, ids, metas, encoder=enc, show_progress=True)
    print(f"embedded {n} texts into collection {args.collection!r} ({collection.count()} in all)")
    return 0


def cmd_query(args: argparse.Namespace) -> int:
    """Search a Chroma collection through a view and print a results table."""
    if args.k < 1:
        raise CLIError("-k must be at least 1")
    engine = _open_engine(args)
    view = _view_arg(args.view)
    hits = engine.search(args.query, view=view, k=args.k, where=_parse_where(args.where))
    if args.json:
        print(json.dumps([h.__dict__ for h in hits], indent=2, default=str))
        return 0
    label = view or "generic"
    print(f"view {label!r}, query {args.query!r}: {len(hits)} result(s)")
    rows = [
        [str(r), f"{h.score:.3f}", h.id, _fmt_meta(h.metadata), h.document or ""]
        for r, h in enumerate(hits, 1)
    ]
    print(_table(rows, ["#", "score", "id", "metadata", "document"]))
    return 0


def _fmt_meta(meta: dict[str, Any]) -> str:
    return " ".join(f"{k}={v}" for k, v in meta.items() if not str(k).startswith("gst_"))


def cmd_eval(args: argparse.Namespace) -> int:
    """Run the EVAL.md protocol; print the markdown table and write markdown + JSON."""
    require_eval_extra("eval")
    from gst_integrations.evaluation.blends import parse_blends
    from gst_integrations.evaluation.budget import run_label_budget
    from gst_integrations.evaluation.datasets.dataset import LabelledCorpus
    from gst_integrations.evaluation.protocol import HEAD_VARIANTS, INSTRUCTIONS, run_protocol

    if args.dataset and args.data:
        raise CLIError("give --dataset or --data, not both")
    instructions: dict[str, str] = {}
    if args.dataset:
        facets = args.facets.split(",") if args.facets else None
        corpus = _load_dataset(args.dataset, args.limit, args.seed, facets[0] if facets else None)
        facets = facets or list(corpus.facets)[:2]
        for f in facets:
            if f not in corpus.facets:
                raise CLIError(
                    f"dataset {args.dataset!r} has no facet {f!r}; facets: "
                    f"{', '.join(corpus.facets)}"
                )
    elif args.data:
        if not args.label_col or not args.facet_b_col:
            raise CLIError("--data needs --label-col (facet A) and --facet-b-col (facet B)")
        texts, labels, _ = read_texts(args.data, args.text_col, [args.label_col, args.facet_b_col])
        corpus = LabelledCorpus(name=Path(args.data).stem, texts=texts, facets=labels)
        corpus = corpus.subset(_stratified_limit(labels[args.label_col], args.limit, args.seed))
        facets = [args.label_col, args.facet_b_col]
        if args.instruction:
            instructions[args.label_col] = args.instruction
    else:
        raise CLIError("give --dataset NAME or --data FILE")
    if len(facets) == 1:  # e.g. bbc-news: use text length as the independent facet B
        lengths = [len(t) for t in corpus.texts]
        median = sorted(lengths)[len(lengths) // 2]
        corpus.facets["length"] = ["long" if n >= median else "short" for n in lengths]
        facets.append("length")
        print("note: one facet only; facet B is text length (short/long, median split)")
    # Facet A's classes need two texts each for a stratified guide sample.
    from collections import Counter

    counts = Counter(corpus.facets[facets[0]])
    keep = [i for i, y in enumerate(corpus.facets[facets[0]]) if y and counts[y] >= 4]
    if len(keep) < len(corpus):
        dropped = len(corpus) - len(keep)
        print(f"note: dropped {dropped} texts of facet-{facets[0]!r} classes with < 4 texts")
        corpus = corpus.subset(keep)
    if len(set(corpus.facets[facets[0]])) < 2:
        raise CLIError(f"facet {facets[0]!r} needs at least two classes with 4+ texts each")
    for f in facets:
        instructions.setdefault(f, INSTRUCTIONS.get(f, f"What is the {f} of this text?"))
    variants = HEAD_VARIANTS
    if args.fast:
        variants = {k: v for k, v in HEAD_VARIANTS.items() if not k.startswith("head: paper")}
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    try:
        blends = parse_blends(args.blends, facets[:2]) if args.blends else None
    except ValueError as exc:
        raise CLIError(f"--blends: {exc}") from None
    with _thread_limit(args.threads):
        report = run_protocol(
            corpus,
            facets,
            guide_fraction=args.guide_fraction,
            seeds=seeds,
            instructions=instructions,
            head_variants=variants,
            prefixed_baseline=not args.fast,
            blends=blends,
            show_progress=True,
        )
        curve = None
        if args.budget:
            fractions = [float(x) for x in args.budget.split(",")]
            curve = run_label_budget(
                corpus,
                facets,
                fractions=fractions,
                seeds=seeds,
                done={args.guide_fraction: report},
                instructions=instructions,
                blends=blends,
                show_progress=True,
                log=print,
            )
    md = report.to_markdown() + ("\n\n" + curve.to_markdown() if curve else "")
    print(md)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        stem = f"eval-{corpus.name}"
        payload = report.to_dict()
        if curve:
            payload["label_budget"] = curve.to_dict()
            curve.plot(out / f"{stem}-budget.png")
            print(f"wrote {out / (stem + '-budget.png')}")
        (out / f"{stem}.md").write_text(md + "\n", encoding="utf-8")
        (out / f"{stem}.json").write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {out / (stem + '.md')} and {out / (stem + '.json')}")
    return 0


@contextlib.contextmanager
def _thread_limit(threads: int | None) -> Iterator[None]:
    """Cap BLAS/OpenMP and torch threads: on a shared CPU, oversubscribed threads made the
    SVD-heavy fits and KMeans 5-10x slower."""
    if not threads:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(limits=threads):
            yield
    finally:
        torch.set_num_threads(before)


def cmd_eval_labels(args: argparse.Namespace) -> int:
    """Label drug reviews with an LLM and compare a head fitted on those labels with generic
    vectors and with a head fitted on gold labels (held-out), plus label agreement with gold."""
    require_eval_extra("eval-labels")
    import platform

    import torch

    from gst_integrations.evaluation.datasets import load_drug_reviews
    from gst_integrations.evaluation.llm_labels import run_label_eval

    llm = _llm_from_option(args.llm, args.threads)
    load_before = os.getloadavg()
    report = run_label_eval(
        load_drug_reviews(),
        llm,
        args.facets.split(","),
        modes=args.modes.split(","),
        n_label=args.n,
        seed=args.seed,
        log=print,
    )
    load_after = os.getloadavg()
    report.machine = (
        f"{platform.machine()} CPU, {os.cpu_count()} cores, {torch.get_num_threads()} torch "
        f"thread(s), shared with other jobs (load average {load_before[0]:.1f} at start, "
        f"{load_after[0]:.1f} at end)"
    )
    text = report.to_markdown()
    print(text)
    if args.out:
        out = Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        (out / f"{args.name}.md").write_text(text)
        (out / f"{args.name}.json").write_text(report.to_json())
        print(f"wrote {out / args.name}.md and .json")
    return 0


def _llm_from_option(spec: str, threads: int) -> Any:
    """The LLM a ``--llm`` option names: the local SmolLM2 through LangChain (``smollm2``) or
    LlamaIndex (``smollm2-llamaindex``), or MODULE:ATTR (an LLM, or a factory called once)."""
    if spec == "smollm2":
        from gst_integrations.langchain.local_llm import local_chat_model

        return local_chat_model(num_threads=threads)
    if spec == "smollm2-llamaindex":
        from gst_integrations.llama_index.local_llm import local_llm

        return local_llm(num_threads=threads)
    factory = load_object(spec)
    return factory() if callable(factory) and not hasattr(factory, "invoke") else factory


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the view benchmarks (``gst_integrations.evaluation.bench``) and print their table."""
    require_eval_extra("bench")
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


def cmd_map(args: argparse.Namespace) -> int:
    """Write a PNG: the generic map next to the view's map, coloured by a metadata field."""
    require_eval_extra("map")
    from gst_integrations.evaluation.plots import dataset_maps, plot_maps

    if args.dataset:
        corpus = _load_dataset(args.dataset, args.limit, args.seed, args.facet)
        if not args.facet:
            raise CLIError("--dataset needs --facet (the labels the view is fitted on)")
        if args.facet not in corpus.facets:
            raise CLIError(
                f"dataset {args.dataset!r} has no facet {args.facet!r}; facets: "
                f"{', '.join(corpus.facets)}"
            )
        color_by = args.color_by or args.facet
        if color_by not in corpus.facets:
            raise CLIError(f"no field {color_by!r}; fields: {', '.join(corpus.facets)}")
        X, Z, title = dataset_maps(corpus, args.facet, args.seed, _encode)
        colors = corpus.facets[color_by]
        view = args.facet
    else:
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
        engine = _open_engine(args)
        view = args.view
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
        color_by = args.color_by
        title = engine.head(view).instruction
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


def cmd_quickstart(args: argparse.Namespace) -> int:
    """Run the main job (``gst_integrations.cli.quickstart``) with the remaining arguments."""
    try:
        from gst_integrations.cli.quickstart import main as quickstart_main
    except ImportError as exc:
        raise CLIError(f"the quickstart is not available: {exc}") from None
    return int(quickstart_main(list(args.rest)) or 0)


# -- parser ----------------------------------------------------------------------------------
def _add_store_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--chroma-path", default="./chroma", help="embedded Chroma directory")
    p.add_argument("--collection", required=required, help="Chroma collection name")
    p.add_argument("--host", help="Chroma server host (`chroma run`); overrides --chroma-path")
    p.add_argument("--port", type=int, default=8000, help="Chroma server port (default 8000)")


def build_parser() -> argparse.ArgumentParser:
    """The ``gst`` argument parser with one sub-parser per command."""
    parser = argparse.ArgumentParser(
        prog="gst",
        description="Instruction views (GSTransform) over vectors already in a vector store.",
        epilog=EPILOG,
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    p = sub.add_parser(
        "fit",
        help="fit a view (head) from labelled texts or LLM labels",
        description=cmd_fit.__doc__ + " With --llm, MODULE:ATTR names a "
        "zero-argument factory (or an object) giving a LangChain chat model, a "
        "LlamaIndex LLM or a prompt -> answer callable; LLMLabeler then labels a "
        "--sample of the texts. MODULE may be a path to a .py file.",
    )
    p.add_argument("--instruction", required=True, help="what the view should capture")
    p.add_argument("--name", required=True, help="view name (letters, digits, _ . -)")
    p.add_argument("--heads", required=True, help="head directory (created if missing)")
    p.add_argument("--data", help="texts as .csv, .tsv or .jsonl (or use --collection)")
    _add_store_args(p, required=False)
    p.add_argument("--label-key", help="with --collection: the metadata key holding labels")
    p.add_argument("--text-col", default="text")
    p.add_argument("--label-col", help="column of instruction-focused labels")
    p.add_argument(
        "--llm",
        metavar="MODULE:ATTR",
        help="LLM factory for LLM labels, or smollm2 / smollm2-llamaindex (the local model)",
    )
    p.add_argument("--sample", type=int, default=300, help="texts the LLM labels (default 300)")
    p.add_argument("--clusters", type=int, help="summary clusters for LLM labels (default auto)")
    p.add_argument("--family", help="head family (default: the package default)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser(
        "views", help="list the views of a head directory", description=cmd_views.__doc__
    )
    p.add_argument("--heads", required=True)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_views)

    p = sub.add_parser(
        "embed",
        help="embed a file's texts once into a Chroma collection",
        description=cmd_embed.__doc__,
    )
    _add_store_args(p)
    p.add_argument("--data", required=True)
    p.add_argument("--text-col", default="text")
    p.add_argument("--id-col", help="column of ids (default: row numbers)")
    p.set_defaults(func=cmd_embed)

    p = sub.add_parser(
        "query", help="search a collection through a view", description=cmd_query.__doc__
    )
    _add_store_args(p)
    p.add_argument("--heads", required=True)
    p.add_argument("--view", help="view name (omit, or 'generic', for the base vectors)")
    p.add_argument("query")
    p.add_argument("-k", type=int, default=5)
    p.add_argument("--where", help='metadata filter as JSON, e.g. \'{"rating": "positive"}\'')
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_query)

    p = sub.add_parser("eval", help="run the EVAL.md protocol", description=cmd_eval.__doc__)
    p.add_argument("--dataset", help="drug-reviews, bbc-news or gcide-two-facet")
    p.add_argument("--facets", help="facets A,B of a dataset (default: its first two)")
    p.add_argument("--data", help="your labelled .csv/.jsonl")
    p.add_argument("--text-col", default="text")
    p.add_argument("--label-col", help="facet A column (--data)")
    p.add_argument("--facet-b-col", help="facet B column (--data)")
    p.add_argument("--instruction", help="instruction of facet A (--data)")
    p.add_argument("--limit", type=int, help="stratified subsample of at most N texts")
    p.add_argument("--guide-fraction", type=float, default=0.3)
    p.add_argument(
        "--fast",
        action="store_true",
        help="skip the prefixed re-encoding baseline and the paper head",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--seeds", help="comma-separated split seeds: mean scores over several splits (0,1,2)"
    )
    p.add_argument(
        "--blends",
        help="blends of the default head's views, e.g. 'pos=.5,field=.5;pos=.4,field=.4,"
        "generic=.2' (default: equal weights with and without generic, and 0.6/0.4/0.2)",
    )
    p.add_argument(
        "--budget", help="label-budget curve over these guide fractions, e.g. 0.1,0.3,0.5,0.7"
    )
    p.add_argument("--threads", type=int, help="cap BLAS/OpenMP/torch threads (shared CPUs)")
    p.add_argument("--out", help="directory for eval-<dataset>.md, .json (and -budget.png)")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser(
        "eval-labels",
        help="judge LLM labels against gold (drug reviews)",
        description=cmd_eval_labels.__doc__,
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch CPU threads for a local LLM")
    p.add_argument("--out", help="directory for the report (.md and .json)")
    p.add_argument("--name", default="eval-llm-labels", help="report file name, no suffix")
    p.set_defaults(func=cmd_eval_labels)

    p = sub.add_parser("bench", help="run the view benchmarks", description=cmd_bench.__doc__)
    p.add_argument("--small", action="store_true", help="tiny sizes: a smoke run")
    p.add_argument("--sizes", help="comma-separated view sizes N (default 100000,1000000)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda")
    p.add_argument("--encode-texts", type=int, help="reviews timed for the re-encoding rate")
    p.add_argument("--out", help="directory for bench-views.md and .json")
    p.set_defaults(func=cmd_bench)

    p = sub.add_parser(
        "map", help="PNG map of a view next to the generic map", description=cmd_map.__doc__
    )
    _add_store_args(p, required=False)
    p.add_argument("--heads")
    p.add_argument("--view")
    p.add_argument("--dataset", help="map a dataset instead, fitting the view on a 30%% sample")
    p.add_argument("--facet", help="dataset facet the view is fitted on")
    p.add_argument("--limit", type=int, help="stratified subsample of the dataset")
    p.add_argument("--color-by", help="metadata field (or dataset facet) for the colours")
    p.add_argument(
        "--method",
        choices=["auto", "pca", "umap"],
        default="auto",
        help="2-D projection (auto: UMAP when installed, else PCA)",
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="PNG file to write")
    p.set_defaults(func=cmd_map)

    p = sub.add_parser(
        "quickstart",
        help="the main job: drug reviews under two instructions",
        description=cmd_quickstart.__doc__,
        add_help=False,
    )
    p.add_argument("rest", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_quickstart)
    return parser


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
        if argv[:1] == ["quickstart"]:  # every later argument belongs to the quickstart
            args = argparse.Namespace(func=cmd_quickstart, rest=argv[1:])
        else:
            args = parser.parse_args(argv)
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
