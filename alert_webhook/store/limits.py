"""How long a text may be, read from the models: the one source of every length limit.

A ``String(n)`` column holds at most ``n`` characters (PostgreSQL refuses more; SQLite would keep it
silently, so the two databases would disagree). Every check of a length — the webhook's payload, the API's
schemas, the pages' forms — asks here, so that a column made longer or shorter in :mod:`.models` (with its
migration) moves every check with it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MAX_ID", "MAX_INTEGER", "fit", "length"]

MAX_INTEGER = 2**31 - 1  # an Integer column is 32 bits on PostgreSQL
MAX_ID = MAX_INTEGER  # row ids are Integer columns


def length(*columns: Any) -> int | None:
    """The most characters every one of ``columns`` (model attributes such as ``Case.target``) can hold;
    None when none of them is bounded (``Text``)."""
    bounds = [column.type.length for column in columns if getattr(column.type, "length", None)]
    return min(bounds) if bounds else None


def fit(column: Any, text: str) -> str:
    """``text`` cut to what ``column`` holds: for values the tracker makes itself (a title from a summary),
    never for what a person or Alertmanager gave, which is refused instead."""
    limit = length(column)
    return text if limit is None else text[:limit]
