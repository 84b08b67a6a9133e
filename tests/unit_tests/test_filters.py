"""Chroma where / where_document filters: reference semantics and the numpy mask agree."""

from __future__ import annotations

import pytest

from gst_integrations.core.views.filters import (
    FilterError,
    MetadataColumns,
    matches_where,
    matches_where_document,
    where_document_mask,
    where_mask,
)

ROWS = [
    {"condition": "Depression", "rating": 9, "year": 2015, "flag": True},
    {"condition": "Pain", "rating": 2, "year": 2012},
    {"condition": "Acne", "rating": 5.5, "flag": False},
    {"condition": "Depression", "rating": 1},
    {},
    {"condition": 3, "rating": "high"},
]

CASES = [
    ({"condition": "Depression"}, [0, 3]),
    ({"condition": {"$eq": "Pain"}}, [1]),
    ({"condition": {"$ne": "Depression"}}, [1, 2, 4, 5]),
    ({"rating": {"$gt": 5}}, [0, 2]),
    ({"rating": {"$gte": 5.5}}, [0, 2]),
    ({"rating": {"$lt": 2}}, [3]),
    ({"rating": {"$lte": 2}}, [1, 3]),
    ({"condition": {"$in": ["Pain", "Acne"]}}, [1, 2]),
    ({"condition": {"$nin": ["Pain", "Acne"]}}, [0, 3, 4, 5]),
    ({"$and": [{"condition": "Depression"}, {"rating": {"$gt": 5}}]}, [0]),
    ({"$or": [{"condition": "Acne"}, {"year": {"$lt": 2013}}]}, [1, 2]),
    ({"$and": [{"condition": "Depression"}, {"rating": 1}]}, [3]),  # Chroma's way to combine
    ({"flag": True}, [0]),
    ({"flag": False}, [2]),
    ({"rating": 1}, [3]),  # 1 is not True
    ({"condition": 3}, [5]),
    (
        {"$or": [{"$and": [{"rating": {"$gte": 1}}, {"rating": {"$lt": 3}}]}, {"flag": True}]},
        [0, 1, 3],
    ),
]


@pytest.mark.parametrize("where,expected", CASES)
def test_where_reference_and_mask_agree(where, expected):
    ref = [i for i, m in enumerate(ROWS) if matches_where(m, where)]
    assert ref == expected
    mask = where_mask(MetadataColumns(ROWS), where)
    assert mask.nonzero()[0].tolist() == expected


def test_empty_where_passes_everything():
    assert matches_where({"a": 1}, None) and matches_where(None, {})
    assert where_mask(MetadataColumns(ROWS), None).all()


@pytest.mark.parametrize(
    "where,msg",
    [
        ({"rating": {"$like": 3}}, "unknown where operator '\\$like'"),
        ({"$not": [{"a": 1}]}, "unknown where operator '\\$not'"),
        ({"$and": []}, "at least two filters"),
        ({"$and": [{"a": 1}]}, "at least two filters"),  # Chroma refuses one-element logic
        ({"condition": "Pain", "rating": 1}, "exactly one key"),  # and multi-key dicts
        ({"rating": {"$gt": "x"}}, "needs an int or a float"),
        ({"rating": {"$in": 3}}, "non-empty list"),
        ({"rating": {"$in": [1, "a"]}}, "one type"),
        ({"rating": {"$gt": 1, "$lt": 3}}, "exactly one operator"),
    ],
)
def test_bad_filters_raise_clear_errors(where, msg):
    with pytest.raises(FilterError, match=msg):
        matches_where(ROWS[0], where)
    with pytest.raises(FilterError, match=msg):
        where_mask(MetadataColumns(ROWS), where)


def test_where_document():
    docs = ["the pill helped my pain", "no effect at all", None]
    assert matches_where_document(docs[0], {"$contains": "pain"})
    assert not matches_where_document(docs[2], {"$contains": "pain"})
    assert matches_where_document(docs[1], {"$not_contains": "pain"})
    assert matches_where_document(docs[0], {"$and": [{"$contains": "pill"}, {"$regex": "p.in"}]})
    assert matches_where_document(docs[1], {"$or": [{"$contains": "zzz"}, {"$contains": "effect"}]})
    assert where_document_mask(docs, {"$contains": "e"}).tolist() == [True, True, False]
    with pytest.raises(FilterError, match="unknown where_document operator"):
        matches_where_document("x", {"$has": "x"})
    with pytest.raises(FilterError, match="needs a string"):
        matches_where_document("x", {"$contains": 3})


def test_bad_filters_are_gst_errors_and_bad_regex_is_named():
    from gst_integrations.core.errors import GSTError

    with pytest.raises(GSTError, match="unknown where operator"):
        where_mask(MetadataColumns(ROWS), {"rating": {"$foo": 1}})
    with pytest.raises(GSTError, match=r"\$regex: invalid regular expression '\('"):
        where_document_mask(["a (b)", "c"], {"$regex": "("})
    with pytest.raises(FilterError, match="invalid regular expression"):
        matches_where_document("x", {"$or": [{"$not_regex": "[a-"}, {"$contains": "x"}]})
