"""LlamaIndex ``MetadataFilters`` to Chroma ``where`` dicts (what core's views evaluate).

Chroma is the store views are materialised from, so core speaks Chroma's filter syntax;
this module is the one place that translates LlamaIndex's filter objects into it.
"""

from __future__ import annotations

from typing import Any

from llama_index.core.vector_stores.types import (
    FilterCondition,
    FilterOperator,
    MetadataFilter,
    MetadataFilters,
)

from gst_integrations.core.views.filters import FilterError

_OPERATORS: dict[str, str] = {
    FilterOperator.EQ.value: "$eq",
    FilterOperator.NE.value: "$ne",
    FilterOperator.GT.value: "$gt",
    FilterOperator.GTE.value: "$gte",
    FilterOperator.LT.value: "$lt",
    FilterOperator.LTE.value: "$lte",
    FilterOperator.IN.value: "$in",
    FilterOperator.NIN.value: "$nin",
}
_CONDITIONS: dict[str, str] = {FilterCondition.AND.value: "$and", FilterCondition.OR.value: "$or"}


def _value(op: Any) -> str:
    return op.value if hasattr(op, "value") else str(op)


def to_chroma_where(
    filters: MetadataFilters | MetadataFilter | dict[str, Any] | None,
) -> dict[str, Any] | None:
    """A Chroma ``where`` dict for ``filters``; a dict is taken as a ``where`` already.

    Supported: ``== != > >= < <= in nin`` combined with ``and``/``or`` (nested too).
    Other LlamaIndex operators (``text_match``, ``contains``, ``not`` ...) raise
    ``FilterError`` naming the operator, instead of being silently ignored.
    """
    if filters is None:
        return None
    if isinstance(filters, dict):
        return filters or None
    if isinstance(filters, MetadataFilter):
        op = _value(filters.operator)
        if op not in _OPERATORS:
            raise FilterError(
                f"filter operator {op!r} on {filters.key!r} is not supported for views; "
                f"supported: {sorted(_OPERATORS)} (or pass a Chroma where dict)"
            )
        value = filters.value
        if op in ("in", "nin") and not isinstance(value, (list, tuple)):
            value = [value]
        return {filters.key: {_OPERATORS[op]: value}}
    if isinstance(filters, MetadataFilters):
        cond = _value(filters.condition or FilterCondition.AND)
        if cond not in _CONDITIONS:
            raise FilterError(
                f"filter condition {cond!r} is not supported for views; use 'and' or 'or'"
            )
        parts = [p for p in (to_chroma_where(f) for f in filters.filters) if p]
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {_CONDITIONS[cond]: parts}
    raise TypeError(
        f"filters must be MetadataFilters, a MetadataFilter or a Chroma where dict, "
        f"got {type(filters).__name__}"
    )


__all__ = ["FilterError", "to_chroma_where"]
