"""GCIDE definitions with two facets the base vectors both encode: part of speech and field.

The second two-facet corpus of the evaluation: dictionary definitions from the
Debian ``dict-gcide`` package, labelled from the entry markup, never from the text:
``pos`` (noun, verb, adjective) and ``field``, the subject label of the sense (Zool, Bot,
Chem, Med, Anat, Law, Naut, Biol: the 8 most frequent). The full subset has about 20,800
definitions; the evaluation uses a seeded sample stratified on both facets together.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from gst_integrations.core.errors import GSTError
from gst_integrations.evaluation.datasets.dataset import LabelledCorpus
from gst_integrations.evaluation.datasets.gcide import DEFAULT_PATH, load_gcide, two_facet_subset

#: Texts sampled by default: a 30% guide and 3 split seeds with the baselines, plus the
#: label-budget curve, run in about 20 minutes on a shared 2-core CPU (docs/eval).
DEFAULT_LIMIT = 2000


def load_gcide_two_facet(
    limit: int | None = DEFAULT_LIMIT, seed: int = 0, path: str | Path = DEFAULT_PATH
) -> LabelledCorpus:
    """A seeded sample of the part-of-speech x subject-field definitions (facets ``pos``,
    ``field``), stratified on the pair so rare combinations (a verb in Zool) keep their share.
    ``limit=None`` gives all of them."""
    if not (Path(path) / "gcide.index").exists():
        raise GSTError(
            f"GCIDE is not installed under {path}: `apt-get install dict-gcide` (Debian/Ubuntu)"
        )
    rows = two_facet_subset(load_gcide(path))
    if limit is not None and limit < len(rows):
        from sklearn.model_selection import train_test_split

        pairs = [f"{r.pos}|{r.field}" for r in rows]
        keep, _ = train_test_split(
            np.arange(len(rows)), train_size=limit, random_state=seed, stratify=pairs
        )
        rows = [rows[i] for i in sorted(keep)]
    return LabelledCorpus(
        name="gcide-two-facet",
        texts=[r.text for r in rows],
        facets={"pos": [str(r.pos) for r in rows], "field": [str(r.field) for r in rows]},
        ids=[f"gcide-{r.id}" for r in rows],
    )
