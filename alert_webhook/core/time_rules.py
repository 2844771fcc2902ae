"""Which times a person may enter: one rule for the API and the pages.

A time a person gives is either a fact of the case — a letter received, the ISP called, the network back
— or an expectation: the ISP's estimate of the recovery. A fact has happened: it lies no later than now
plus the clock skew allowed between the person's clock and the server's (``BATIKNET_CLOCK_SKEW_SECONDS``),
not before the case was received when it happened during the case, and never before 1 January 2000 (no
disruption of Batik.Net is older). An estimate lies after the call and within a year. A letter is dated
no later than the day it was received. So nothing at the calendar's edges (year 1, year 9999) ever reaches
the working-time clock.

Each check answers the :class:`~.refusals.Refusal` naming the field, or None when the time is acceptable.
The services raise it as a 400 before anything is written; the API's schemas check the fixed part first
(:func:`outside_era`, which needs no clock), and the pages show the refusal under the field, translated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from .refusals import Refusal

__all__ = [
    "EARLIEST",
    "ESTIMATE_HORIZON",
    "LATEST",
    "Now",
    "expected",
    "happened",
    "letter_dated",
    "outside_era",
]

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# The latest instant the API's schemas let through before the services compare it with now: an estimate
# is at most a year ahead, so this bound is only the calendar's edge kept well away.
LATEST = datetime(2100, 1, 1, tzinfo=UTC)
ESTIMATE_HORIZON = timedelta(days=366)


@dataclass(frozen=True)
class Now:
    """The server's now and the skew allowed between a person's clock and it."""

    at: datetime
    skew: timedelta

    @property
    def latest_fact(self) -> datetime:
        return self.at + self.skew


def outside_era(field: str, value: datetime | date) -> Refusal | None:
    """The fixed bounds, which need no clock: from 1 January 2000 to before 2100."""
    instant = (
        value if isinstance(value, datetime) else datetime(value.year, value.month, value.day, tzinfo=UTC)
    )
    if instant < EARLIEST:
        return Refusal("time_too_early", {"field": field, "earliest": EARLIEST.date()})
    if instant >= LATEST:
        return Refusal("time_too_late", {"field": field, "latest": LATEST.date()})
    return None


def happened(field: str, value: datetime, now: Now, since: datetime | None = None) -> Refusal | None:
    """A fact: within the era, not after now (plus the skew), and not before ``since`` (the case's receipt)
    when given."""
    refusal = outside_era(field, value)
    if refusal is not None:
        return refusal
    if value > now.latest_fact:
        return Refusal("time_in_future", {"field": field, "minutes": _minutes(now.skew)})
    if since is not None and value < since:
        return Refusal("time_before_receipt", {"field": field, "received_at": since})
    return None


def expected(field: str, value: datetime, now: Now, after: datetime) -> Refusal | None:
    """An estimate: within the era, not before ``after`` (the call it came from), at most a year ahead."""
    refusal = outside_era(field, value)
    if refusal is not None:
        return refusal
    if value < after:
        return Refusal("estimate_before_call", {"field": field, "called_at": after})
    if value > now.at + ESTIMATE_HORIZON:
        return Refusal("estimate_too_far", {"field": field, "days": ESTIMATE_HORIZON.days})
    return None


def letter_dated(field: str, day: date, received_on: date) -> Refusal | None:
    """A letter's date: within the era and no later than the (local) day the letter was received."""
    refusal = outside_era(field, day)
    if refusal is not None:
        return refusal
    if day > received_on:
        return Refusal("letter_after_receipt", {"field": field, "received_on": received_on})
    return None


def _minutes(skew: timedelta) -> int:
    return round(skew.total_seconds() / 60)
