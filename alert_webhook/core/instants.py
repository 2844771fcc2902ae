"""Which instants the tracker can compute with at all, whatever they mean.

An instant is converted to UTC to be stored, and the clock adds days to it (deadlines, the next working
day) or walks between it and now. Python's datetime ends at years 1 and 9999, so an instant near those
edges, or one whose offset carries it past them, would fail in that arithmetic with an ``OverflowError``
long after it was accepted. Every edge that takes an instant — the webhook's payload, the API's schemas,
the pages' forms — refuses one whose year, as written, lies outside :data:`YEARS` as a 400 naming the
field; the OpenAPI document says the same with :data:`YEAR_PATTERN`, so a client can know it. Which
instants make sense for a case (not decades ahead, not before the case) is a rule of its own, checked
after this one.
"""

from __future__ import annotations

from datetime import datetime

__all__ = ["YEARS", "YEAR_PATTERN", "within_reach"]

# Years as written: whatever its offset (less than a day), the instant in UTC keeps most of a year of room
# on either side of the calendar's ends, for the clock's arithmetic.
YEARS = (2, 9998)
# The same as the start of an RFC 3339 text: years 0002 to 9998.
YEAR_PATTERN = r"^(000[2-9]|00[1-9][0-9]|0[1-9][0-9]{2}|[1-8][0-9]{3}|9[0-8][0-9]{2}|99[0-8][0-9]|999[0-8])-"


def within_reach(instant: datetime) -> bool:
    """Whether ``instant`` (aware) is written with a year of :data:`YEARS`."""
    return YEARS[0] <= instant.year <= YEARS[1]
