"""Which instants the tracker can compute with at all, whatever they mean.

An instant is converted to UTC to be stored, and the clock adds days to it (deadlines, the next working
day) or walks between it and now. Python's datetime ends at years 1 and 9999, so an instant near those
edges, or one whose offset carries it past them, would fail in that arithmetic with an ``OverflowError``
long after it was accepted. Every edge that takes an instant — the webhook's payload, the API's schemas,
the pages' forms — refuses one outside :data:`REACH` as a 400 naming the field. Which instants make sense
for a case (not decades ahead, not before the case) is a rule of its own, checked after this one.
"""

from __future__ import annotations

from datetime import UTC, datetime

__all__ = ["REACH", "within_reach"]

# A year of room on either side of the calendar's ends, for the clock's arithmetic.
REACH = (datetime(2, 1, 1, tzinfo=UTC), datetime(9998, 12, 31, tzinfo=UTC))


def within_reach(instant: datetime) -> bool:
    """Whether ``instant`` (aware) lies within :data:`REACH` once converted to UTC."""
    try:
        utc = instant.astimezone(UTC)
    except OverflowError:  # the offset carries it past year 1 or year 9999
        return False
    return REACH[0] <= utc <= REACH[1]
