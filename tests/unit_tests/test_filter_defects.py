"""Filter defects: catastrophic regex, non-string keys, NaN and tuple operands, list metadata.

The semantics are chromadb 1.5.9's, measured (see tests/integration_tests/
test_filters_match_chroma.py for the differential test against Chroma itself).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from gst_integrations.core.views.filters import (
    FilterError,
    MetadataColumns,
    check_where,
    matches_where,
    matches_where_document,
    where_mask,
)

ROWS = [
    {"tags": ["x", "y"], "n": 1},
    {"tags": ["y"], "fl": [1.0, 2.5], "n": 2.5},
    {"nums": [1, 2], "s": "xyz", "n": 3},
    {"flags": [True, False], "n": True},
    {},
]

LIST_CASES = [
    ({"tags": {"$contains": "x"}}, [0]),
    ({"tags": {"$contains": "y"}}, [0, 1]),
    ({"tags": {"$not_contains": "x"}}, [1, 2, 3, 4]),
    ({"nums": {"$contains": 1}}, [2]),
    ({"nums": {"$contains": 1.0}}, []),  # Chroma: list membership is type-strict
    ({"fl": {"$contains": 1.0}}, [1]),
    ({"fl": {"$contains": 1}}, []),
    ({"flags": {"$contains": True}}, [3]),
    ({"flags": {"$contains": 1}}, []),
    ({"nums": {"$contains": True}}, []),
    ({"s": {"$contains": "x"}}, []),  # a scalar contains nothing
    ({"s": {"$not_contains": "x"}}, [0, 1, 2, 3, 4]),
    ({"missing": {"$contains": "x"}}, []),
    ({"missing": {"$not_contains": "x"}}, [0, 1, 2, 3, 4]),
    ({"nums": {"$not_contains": 1}}, [0, 1, 3, 4]),
    ({"tags": "x"}, []),  # $eq never matches a list
    ({"tags": {"$ne": "x"}}, [0, 1, 2, 3, 4]),
    ({"$and": [{"tags": {"$contains": "y"}}, {"n": {"$gt": 2}}]}, [1]),
]


@pytest.mark.parametrize("where,expected", LIST_CASES, ids=str)
def test_contains_on_list_metadata(where, expected) -> None:
    assert [i for i, m in enumerate(ROWS) if matches_where(m, where)] == expected
    assert np.flatnonzero(where_mask(MetadataColumns(ROWS), where)).tolist() == expected


REFUSED = [
    {5: 1},
    {"$and": [{5: 1}, {"n": 1}]},
    {"n": {"$in": (1, 2)}},
    {"n": {"$nin": (1,)}},
    {"n": float("nan")},
    {"n": {"$eq": float("nan")}},
    {"n": {"$ne": float("inf")}},
    {"n": {"$in": [float("nan")]}},
    {"n": {"$nin": [1.0, float("nan")]}},
    {"n": {"$gt": float("nan")}},
    {"n": {"$lt": float("inf")}},
    {"tags": {"$contains": ["x"]}},
    {"tags": {"$contains": float("nan")}},
]


@pytest.mark.parametrize("where", REFUSED, ids=str)
def test_refused_filters_are_filter_errors(where) -> None:
    with pytest.raises(FilterError):
        matches_where(ROWS[0], where)
    with pytest.raises(FilterError):
        where_mask(MetadataColumns(ROWS), where)
    with pytest.raises(FilterError):
        check_where(where)


def test_regex_is_linear_time_and_speaks_chromas_dialect() -> None:
    doc = "a" * 28 + "!"
    assert not matches_where_document(doc, {"$regex": "(a+)+$"})
    assert matches_where_document(doc, {"$not_regex": "(a+)+$"})
    assert matches_where_document(doc, {"$regex": "(a+)+!"})
    assert matches_where_document("café au lait", {"$regex": "(?i)CAFÉ"})
    for unsupported in ("(?=a)b", "(?<!a)b", r"(a)\1", "["):
        with pytest.raises(FilterError, match="regular expression"):
            matches_where_document(doc, {"$regex": unsupported})


CATASTROPHIC = r"""
import json, time
import numpy as np
from gst_integrations.core.views.source import ArraySource
from gst_integrations.core.views.engine import ViewEngine
docs = ["a" * 28 + "!", "aaa", "b"]
X = np.eye(3, 4, dtype=np.float32) + 0.1
eng = ViewEngine(ArraySource(["x", "y", "z"], X, docs), {}, device="cpu")
eng.search_by_vector(X[0], None, k=3)
t = time.perf_counter()
hits = eng.search_by_vector(X[0], None, k=3, where_document={"$regex": "(a+)+$"})
print(json.dumps({"seconds": time.perf_counter() - t, "ids": sorted(h.id for h in hits)}))
"""


def test_catastrophic_regex_does_not_freeze_a_search() -> None:
    """(a+)+$ against 28 a's and a '!' ran for over 40 s in Python's re, holding the GIL."""
    env = dict(os.environ, OMP_NUM_THREADS="1")
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[2])
    try:
        out = subprocess.run(
            [sys.executable, "-c", CATASTROPHIC],
            env=env,
            capture_output=True,
            text=True,
            timeout=45,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("a search with where_document={'$regex': '(a+)+$'} ran for over 45 s")
    assert out.returncode == 0, out.stderr[-2000:]
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["seconds"] <= 2.0
    assert got["ids"] == ["y"]
