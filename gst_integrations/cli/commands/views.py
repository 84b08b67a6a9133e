"""``gst views``: the views of a head directory, as a table or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from gst_integrations.cli.common import table
from gst_integrations.cli.data_files import CLIError

NAME = "views"


def add_parser(sub: Any) -> argparse.ArgumentParser:
    p = sub.add_parser(NAME, help="list the views of a head directory", description=run.__doc__)
    p.add_argument("--heads", required=True, help="head directory")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run)
    return p


def fmt_metrics(metrics: dict[str, Any]) -> str:
    """Held-out metrics as ``key=value`` pairs, the headline figures first."""
    parts = []
    first = ("val_auc", "val_knn_accuracy", "n_train", "n_val")
    ordered = {k: metrics[k] for k in first if k in metrics}
    ordered.update({k: v for k, v in metrics.items() if k not in ordered and v not in (0, None)})
    for k, v in ordered.items():
        parts.append(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}")
    return " ".join(parts)


def run(args: argparse.Namespace) -> int:
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
            fmt_metrics(c.get("metrics", {})),
            (c.get("encoder") or {}).get("name", "?"),
        ]
        for n, c in cards.items()
    ]
    rows += [[n, "UNREADABLE", err, "", ""] for n, err in errors.items()]
    print(table(rows, ["view", "instruction", "labels", "held-out metrics", "encoder"]))
    return 0
