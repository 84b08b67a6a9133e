"""Drug reviews (a 979-review subset of the UCI Drugs.com reviews, CC BY 4.0).

Facets: ``condition`` (the condition treated), ``rating`` (positive, neutral, negative) and
``drugName``. The reviews ship inside this package (``data/drug_reviews.tsv.gz``, 186 KB, with
their attribution in ``data/README.md``), so the quickstart and the evaluation need no other
data package and nothing is downloaded.
"""

from __future__ import annotations

import csv
import gzip
import html
import io
from collections import Counter
from importlib.resources import files

from gst_integrations.core.errors import GSTError
from gst_integrations.evaluation.datasets.dataset import LabelledCorpus

#: The bundled reviews: columns id, drugName, condition, review (raw HTML-escaped text), rating.
DATA_FILE = "drug_reviews.tsv.gz"


def read_rows() -> list[dict[str, str]]:
    """The bundled reviews as rows (column name -> value), in their original order."""
    resource = files("gst_integrations.evaluation.datasets").joinpath("data", DATA_FILE)
    try:
        raw = gzip.decompress(resource.read_bytes()).decode("utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise GSTError(f"the bundled drug-review data cannot be read ({resource}): {exc}") from None
    return list(csv.DictReader(io.StringIO(raw), delimiter="\t"))


def _clean(review: str) -> str:
    text = html.unescape(review).strip()
    while len(text) >= 2 and text[0] == '"' and text[-1] == '"':
        text = text[1:-1].strip()
    return " ".join(text.split())


def load_drug_reviews(min_per_condition: int = 15) -> LabelledCorpus:
    """All reviews of the conditions with at least ``min_per_condition`` reviews.

    With the default of 15 this is the evaluation's setup: 495 reviews over 11 conditions.
    """
    rows = [r for r in read_rows() if r.get("condition") and r.get("review")]
    counts = Counter(r["condition"] for r in rows)
    keep = [r for r in rows if counts[r["condition"]] >= min_per_condition]
    ids = [r.get("id") or str(i) for i, r in enumerate(keep)]
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
