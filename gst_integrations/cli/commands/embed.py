"""``gst embed``: a file's texts embedded once into a Chroma collection."""

from __future__ import annotations

import argparse
from typing import Any

from gst_integrations.cli.common import add_store_args
from gst_integrations.cli.data_files import CLIError, read_texts

NAME = "embed"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(
        NAME, help="embed a file's texts once into a Chroma collection", description=run.__doc__
    )
    add_store_args(p)
    p.add_argument("--data", required=True, help="texts as .csv, .tsv or .jsonl")
    p.add_argument("--text-col", default="text", help="column of the texts")
    p.add_argument("--id-col", help="column of ids (default: row numbers)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
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
    n = embed_into_chroma(collection, texts, ids, metas, encoder=enc)
    print(f"embedded {n} texts into collection {args.collection!r} ({collection.count()} in all)")
    return 0
