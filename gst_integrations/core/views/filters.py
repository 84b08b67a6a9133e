"""Chroma-style ``where`` / ``where_document`` filters, evaluated host-side.

``matches_where`` checks one metadata dict (reference semantics, used in tests and small
sets). ``where_mask`` evaluates the same filter over a ``MetadataColumns`` table with numpy,
so a filtered view search costs no per-row Python. ``check_where`` /
``check_where_document`` validate a filter without evaluating it, so a filter the store
would evaluate is refused the same way as one evaluated here.

Semantics follow chromadb (measured on 1.5.9): a bare value means ``$eq``; range operators
match numbers only; a missing key matches nothing except ``$ne``, ``$nin`` and
``$not_contains``; ``$contains`` on a metadata key is membership in a list value, with
the element's type (a list of ints does not contain 1.0); NaN or inf operands, tuples
for ``$in``/``$nin`` and non-string keys are refused.

Regular expressions run on RE2 (``google-re2``): linear time in the text, so no pattern
can freeze a search, and the same dialect as Chroma's own engine (Rust ``regex``), which
refuses look-around and back-references as RE2 does.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import re2

from gst_integrations.core.errors import GSTError

COMPARISON_OPS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin")
LIST_OPS = ("$contains", "$not_contains")
WHERE_OPS = COMPARISON_OPS + LIST_OPS
LOGICAL_OPS = ("$and", "$or")
DOCUMENT_OPS = ("$contains", "$not_contains", "$regex", "$not_regex")

_MISSING = object()


class FilterError(GSTError):
    """A malformed ``where`` or ``where_document`` filter."""


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _check_value(key: str, op: str, value: Any) -> None:
    if not isinstance(value, (str, int, float, bool)):
        raise FilterError(f"{op} on {key!r} needs a str, int, float or bool, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise FilterError(f"{op} on {key!r} needs a finite number, got {value!r}")


_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False  # the error is raised as a FilterError, not logged by RE2


@functools.lru_cache(maxsize=256)
def compile_regex(pattern: str) -> Any:
    """A compiled RE2 pattern (linear-time matching), or FilterError saying why not."""
    try:
        return re2.compile(pattern, _RE2_OPTIONS)
    except re2.error as exc:
        why = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
        raise FilterError(
            f"invalid regular expression {pattern!r}: {why} (regexes follow RE2 and Chroma: "
            "no look-around, no back-references)"
        ) from None


def _check_clause(key: str, cond: Any) -> tuple[str, Any]:
    """Normalise ``{key: cond}`` to (operator, operand), refusing what Chroma refuses."""
    if not isinstance(cond, dict):
        _check_value(key, "$eq", cond)
        return "$eq", cond
    if len(cond) != 1:
        raise FilterError(f"filter on {key!r} must have exactly one operator, got {sorted(cond)}")
    op, value = next(iter(cond.items()))
    if op not in WHERE_OPS:
        raise FilterError(
            f"unknown where operator {op!r} on {key!r}; supported: {', '.join(WHERE_OPS)}"
        )
    if op in ("$in", "$nin"):
        if not isinstance(value, list) or not value:
            raise FilterError(f"{op} on {key!r} needs a non-empty list of values, got {value!r}")
        for v in value:
            _check_value(key, op, v)
        if len({type(v) for v in value}) != 1:
            raise FilterError(f"{op} on {key!r} needs values of one type, got {value!r}")
    elif op in ("$gt", "$gte", "$lt", "$lte"):
        if not _is_number(value):
            raise FilterError(f"{op} on {key!r} needs an int or a float, got {value!r}")
        _check_value(key, op, value)
    else:
        _check_value(key, op, value)
    return op, value


def _split_logical(where: dict[str, Any]) -> list[tuple[str, Any]]:
    """The one clause of a ``where``: Chroma takes exactly one key per dict, and $and/$or
    lists of at least two filters (combine keys with $and)."""
    if not isinstance(where, dict):
        raise FilterError(f"where must be a dict, got {type(where).__name__}")
    if len(where) != 1:
        raise FilterError(
            f"a where filter has exactly one key (use $and to combine), got {sorted(where)}"
        )
    items = list(where.items())
    for key, value in items:
        if not isinstance(key, str):
            raise FilterError(f"where keys are metadata names (strings), got {key!r}")
        if key.startswith("$"):
            if key not in LOGICAL_OPS:
                raise FilterError(
                    f"unknown where operator {key!r}; supported: "
                    f"{', '.join(LOGICAL_OPS + COMPARISON_OPS)}"
                )
            if not isinstance(value, list) or len(value) < 2:
                raise FilterError(f"{key} needs a list of at least two filters, got {value!r}")
    return items


def _eq(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    return a == b


def _list_has(value: Any, operand: Any) -> bool:
    """Chroma's ``$contains`` on metadata: ``value`` is a list holding ``operand``, same type."""
    return isinstance(value, list) and any(type(v) is type(operand) and v == operand for v in value)


def _compare(value: Any, op: str, operand: Any) -> bool:
    if op == "$contains":
        return _list_has(value, operand)
    if op == "$not_contains":
        return not _list_has(value, operand)
    if op == "$eq":
        return value is not _MISSING and _eq(value, operand)
    if op == "$ne":
        return value is _MISSING or not _eq(value, operand)
    if op == "$in":
        return value is not _MISSING and any(_eq(value, o) for o in operand)
    if op == "$nin":
        return value is _MISSING or not any(_eq(value, o) for o in operand)
    if not _is_number(value):
        return False
    return {
        "$gt": value > operand,
        "$gte": value >= operand,
        "$lt": value < operand,
        "$lte": value <= operand,
    }[op]


def check_where(where: dict[str, Any] | None) -> None:
    """Raise FilterError unless ``where`` is a filter Chroma accepts (None passes)."""
    if not where:
        return
    for key, cond in _split_logical(where):
        if key in LOGICAL_OPS:
            for sub in cond:
                check_where(sub)
        else:
            _check_clause(key, cond)


def check_where_document(where_document: dict[str, Any] | None) -> None:
    """Raise FilterError unless ``where_document`` is a filter Chroma accepts (None passes)."""
    if not where_document:
        return
    for op, value in _check_document_filter(where_document):
        if op in LOGICAL_OPS:
            for sub in value:
                check_where_document(sub)


def matches_where(metadata: dict[str, Any] | None, where: dict[str, Any] | None) -> bool:
    """True when one metadata dict passes a Chroma ``where`` filter (None passes all)."""
    if not where:
        return True
    metadata = metadata or {}
    for key, cond in _split_logical(where):
        if key == "$and":
            if not all(matches_where(metadata, sub) for sub in cond):
                return False
        elif key == "$or":
            if not any(matches_where(metadata, sub) for sub in cond):
                return False
        else:
            op, operand = _check_clause(key, cond)
            if not _compare(metadata.get(key, _MISSING), op, operand):
                return False
    return True


def _check_document_filter(where_document: dict[str, Any]) -> list[tuple[str, Any]]:
    if not isinstance(where_document, dict):
        raise FilterError(f"where_document must be a dict, got {type(where_document).__name__}")
    if len(where_document) != 1:
        raise FilterError(
            "a where_document filter has exactly one key (use $and to combine), "
            f"got {sorted(where_document)}"
        )
    items = list(where_document.items())
    for op, value in items:
        if op in LOGICAL_OPS:
            if not isinstance(value, list) or len(value) < 2:
                raise FilterError(f"{op} needs a list of at least two document filters")
        elif op in DOCUMENT_OPS:
            if not isinstance(value, str):
                raise FilterError(f"{op} needs a string, got {value!r}")
            if op in ("$regex", "$not_regex"):
                try:
                    compile_regex(value)
                except FilterError as exc:
                    raise FilterError(f"{op}: {exc}") from None
        else:
            raise FilterError(
                f"unknown where_document operator {op!r}; supported: "
                f"{', '.join(DOCUMENT_OPS + LOGICAL_OPS)}"
            )
    return items


def matches_where_document(document: str | None, where_document: dict[str, Any] | None) -> bool:
    """True when a document passes a Chroma ``where_document`` filter (None passes all)."""
    if not where_document:
        return True
    text = document or ""
    for op, value in _check_document_filter(where_document):
        if op == "$and":
            ok = all(matches_where_document(document, sub) for sub in value)
        elif op == "$or":
            ok = any(matches_where_document(document, sub) for sub in value)
        elif op == "$contains":
            ok = document is not None and value in text
        elif op == "$not_contains":
            ok = value not in text
        elif op == "$regex":
            ok = document is not None and compile_regex(value).search(text) is not None
        else:  # $not_regex
            ok = compile_regex(value).search(text) is None
        if not ok:
            return False
    return True


class MetadataColumns:
    """Column view of row metadata for vectorised filters; columns are built on first use."""

    def __init__(self, metadatas: Sequence[dict[str, Any] | None]):
        self._rows = metadatas
        self.n = len(metadatas)
        self._cols: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}

    def column(self, key: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(values, present mask, numbers with NaN elsewhere, bool mask) of one key."""
        col = self._cols.get(key)
        if col is None:
            values = np.empty(self.n, dtype=object)
            values[:] = [(m or {}).get(key, _MISSING) for m in self._rows]
            present = values != _MISSING
            numeric = np.full(self.n, np.nan)
            is_num = np.fromiter((_is_number(v) for v in values), bool, self.n)
            numeric[is_num] = values[is_num].astype(np.float64)
            is_bool = np.fromiter((isinstance(v, bool) for v in values), bool, self.n)
            col = (values, present, numeric, is_bool)
            self._cols[key] = col
        return col

    def _eq_mask(self, key: str, operand: Any) -> np.ndarray:
        values, present, numeric, is_bool = self.column(key)
        if isinstance(operand, bool):
            return is_bool & (values == operand)
        if _is_number(operand):
            return ~is_bool & (numeric == operand)
        return present & (values == operand)


def where_mask(columns: MetadataColumns, where: dict[str, Any] | None) -> np.ndarray:
    """Boolean mask of the rows of ``columns`` that pass ``where``, computed with numpy."""
    mask = np.ones(columns.n, dtype=bool)
    if not where:
        return mask
    for key, cond in _split_logical(where):
        if key == "$and":
            for sub in cond:
                mask &= where_mask(columns, sub)
            continue
        if key == "$or":
            any_mask = np.zeros(columns.n, dtype=bool)
            for sub in cond:
                any_mask |= where_mask(columns, sub)
            mask &= any_mask
            continue
        op, operand = _check_clause(key, cond)
        if op in LIST_OPS:
            values = columns.column(key)[0]
            has = np.fromiter((_list_has(v, operand) for v in values), bool, columns.n)
            mask &= has if op == "$contains" else ~has
        elif op == "$eq":
            mask &= columns._eq_mask(key, operand)
        elif op == "$ne":
            mask &= ~columns._eq_mask(key, operand)
        elif op in ("$in", "$nin"):
            hit = np.zeros(columns.n, dtype=bool)
            for o in operand:
                hit |= columns._eq_mask(key, o)
            mask &= hit if op == "$in" else ~hit
        else:
            _, _, numeric, _ = columns.column(key)
            with np.errstate(invalid="ignore"):
                cmp = {"$gt": np.greater, "$gte": np.greater_equal, "$lt": np.less}.get(
                    op, np.less_equal
                )(numeric, operand)
            mask &= cmp
    return mask


def where_document_mask(
    documents: Sequence[str | None], where_document: dict[str, Any] | None
) -> np.ndarray:
    """Boolean mask of the documents that pass ``where_document``."""
    n = len(documents)
    if not where_document:
        return np.ones(n, dtype=bool)
    _check_document_filter(where_document)
    return np.fromiter(
        (matches_where_document(d, where_document) for d in documents), dtype=bool, count=n
    )
