"""The working-time clock of the SOP: a table of arrivals and their deadlines, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alert_webhook.core.clock import (
    WorkingCalendar,
    add_working_seconds,
    day_one,
    deadlines,
    parse_windows,
    working_seconds_between,
)
from alert_webhook.settings import load_settings, working_calendar

WIB = ZoneInfo("Asia/Jakarta")
CALENDAR = WorkingCalendar()


def wib(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=WIB)


# (what, received at, day 1, target deadline, maximum deadline). 2026-11-30 is a Monday.
TABLE = [
    (
        "inside the morning window",
        wib(2026, 11, 30, 10),
        date(2026, 11, 30),
        wib(2026, 12, 1, 15, 45),
        wib(2026, 12, 4, 11),
    ),
    (
        "before opening on a working day",
        wib(2026, 11, 30, 6, 30),
        date(2026, 11, 30),
        wib(2026, 12, 1, 15, 45),
        wib(2026, 12, 4, 11),
    ),
    (
        "in the lunch break",
        wib(2026, 11, 30, 12, 10),
        date(2026, 11, 30),
        wib(2026, 12, 1, 15, 45),
        wib(2026, 12, 4, 11),
    ),
    (
        "after closing",
        wib(2026, 11, 30, 16),
        date(2026, 12, 1),
        wib(2026, 12, 2, 15, 45),
        wib(2026, 12, 7, 15, 45),
    ),
    (
        "exactly at closing",
        wib(2026, 11, 30, 15, 45),
        date(2026, 12, 1),
        wib(2026, 12, 2, 15, 45),
        wib(2026, 12, 7, 15, 45),
    ),
    (
        "Friday morning",
        wib(2026, 12, 4, 10, 59),
        date(2026, 12, 4),
        wib(2026, 12, 7, 15, 45),
        wib(2026, 12, 10, 15, 45),
    ),
    (
        "Friday after 11:00",
        wib(2026, 12, 4, 11, 30),
        date(2026, 12, 7),
        wib(2026, 12, 8, 15, 45),
        wib(2026, 12, 11, 11),
    ),
    ("Saturday", wib(2026, 12, 5, 9), date(2026, 12, 7), wib(2026, 12, 8, 15, 45), wib(2026, 12, 11, 11)),
    (
        "Sunday night",
        wib(2026, 12, 6, 23, 59),
        date(2026, 12, 7),
        wib(2026, 12, 8, 15, 45),
        wib(2026, 12, 11, 11),
    ),
    (
        "public holiday (Independence Day, a Monday)",
        wib(2026, 8, 17, 9),
        date(2026, 8, 18),
        wib(2026, 8, 19, 15, 45),
        wib(2026, 8, 24, 15, 45),
    ),
    (
        "collective leave (cuti bersama, 24 December)",
        wib(2026, 12, 24, 10),
        date(2026, 12, 28),
        wib(2026, 12, 29, 15, 45),
        wib(2027, 1, 4, 15, 45),
    ),
    (
        "evening before collective leave and Christmas",
        wib(2026, 12, 23, 16),
        date(2026, 12, 28),
        wib(2026, 12, 29, 15, 45),
        wib(2027, 1, 4, 15, 45),
    ),
    (
        "across the year end (New Year's Day and Isra Mi'raj closed)",
        wib(2026, 12, 30, 10),
        date(2026, 12, 30),
        wib(2026, 12, 31, 15, 45),
        wib(2027, 1, 7, 15, 45),
    ),
    (
        "UTC evening that is already the next morning in WIB",
        datetime(2026, 11, 30, 18, 30, tzinfo=UTC),
        date(2026, 12, 1),
        wib(2026, 12, 2, 15, 45),
        wib(2026, 12, 7, 15, 45),
    ),
    (
        "UTC Sunday that is Monday morning in WIB",
        datetime(2026, 11, 29, 23, 0, tzinfo=UTC),
        date(2026, 11, 30),
        wib(2026, 12, 1, 15, 45),
        wib(2026, 12, 4, 11),
    ),
]


@pytest.mark.parametrize(
    ("what", "received", "first", "target", "maximum"), TABLE, ids=[row[0] for row in TABLE]
)
def test_deadlines_table(
    what: str, received: datetime, first: date, target: datetime, maximum: datetime
) -> None:
    result = deadlines(CALENDAR, received)
    assert result.day_one == first
    assert result.target == target
    assert result.maximum == maximum


@pytest.mark.parametrize(
    ("start", "end", "seconds"),
    [
        (wib(2026, 11, 30, 8), wib(2026, 11, 30, 16), 4 * 3600 + 3 * 3600 + 15 * 60),  # a full Monday
        (wib(2026, 12, 4, 7), wib(2026, 12, 4, 12), 3 * 3600),  # a full Friday
        (wib(2026, 11, 30, 12), wib(2026, 11, 30, 12, 30), 0),  # the lunch break
        (wib(2026, 11, 30, 11, 50), wib(2026, 11, 30, 12, 40), 20 * 60),  # across the lunch break
        (wib(2026, 12, 4, 10), wib(2026, 12, 7, 9), 2 * 3600),  # Friday 10:00 to Monday 09:00
        (wib(2026, 12, 5, 8), wib(2026, 12, 6, 16), 0),  # a weekend
        (wib(2026, 8, 17, 8), wib(2026, 8, 17, 16), 0),  # Independence Day
        (wib(2026, 11, 30, 16), wib(2026, 11, 30, 10), 0),  # end before start
    ],
)
def test_working_seconds_between(start: datetime, end: datetime, seconds: float) -> None:
    assert working_seconds_between(CALENDAR, start, end) == seconds


def test_isp_waiting_is_counted_not_paused() -> None:
    """The clock never stops for the ISP: a case's elapsed time includes the wait, reported beside."""
    received, restored = wib(2026, 11, 30, 9), wib(2026, 11, 30, 14)
    waiting = working_seconds_between(CALENDAR, wib(2026, 11, 30, 10), wib(2026, 11, 30, 13))
    assert working_seconds_between(CALENDAR, received, restored) == 4.5 * 3600
    assert waiting == 2.5 * 3600


def test_configured_closing_and_opening_days() -> None:
    config = {
        "BATIKNET_HOLIDAYS_ADD": "2026-12-01",
        "BATIKNET_HOLIDAYS_REMOVE": "2026-12-24",
        "BATIKNET_HOLIDAY_CATEGORIES": "public,government",
    }
    calendar = working_calendar(load_settings(config))
    assert not calendar.is_working_day(date(2026, 12, 1))  # a local decree closes it
    assert calendar.is_working_day(date(2026, 12, 24))  # cuti bersama not observed
    assert day_one(calendar, wib(2026, 11, 30, 16)) == date(2026, 12, 2)


def test_public_holidays_only_when_government_category_is_dropped() -> None:
    public_only = working_calendar(load_settings({"BATIKNET_HOLIDAY_CATEGORIES": "public"}))
    assert public_only.is_working_day(date(2026, 12, 24))  # cuti bersama is the government category
    assert not public_only.is_working_day(date(2026, 12, 25))


def test_configured_windows() -> None:
    calendar = working_calendar(
        load_settings(
            {
                "BATIKNET_WORKING_HOURS": '{"fri": ["07:30-11:30"], "sat": ["08:00-10:00"]}',
                "BATIKNET_HOLIDAY_CATEGORIES": "",
            }
        )
    )
    assert working_seconds_between(calendar, wib(2026, 12, 4, 0), wib(2026, 12, 6, 0)) == 4 * 3600 + 2 * 3600
    assert deadlines(calendar, wib(2026, 12, 4, 11, 45)).day_one == date(2026, 12, 5)


@pytest.mark.parametrize(
    "spec",
    [{"mon": ["08:00-07:00"]}, {"mon": ["8-12"]}, {"funday": []}, {"tue": ["08:00-12:00", "11:00-13:00"]}],
)
def test_invalid_windows_are_refused(spec: dict[str, list[str]]) -> None:
    with pytest.raises(ValueError, match="working hours"):
        parse_windows(spec)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        deadlines(CALENDAR, datetime(2026, 11, 30, 10))


# --- properties ---------------------------------------------------------------------------------------

instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=150, deadline=None)
@given(instants, instants, instants)
def test_additive_and_monotonic(a: datetime, b: datetime, c: datetime) -> None:
    a, b, c = sorted((a, b, c))
    ab, bc, ac = (working_seconds_between(CALENDAR, x, y) for x, y in ((a, b), (b, c), (a, c)))
    assert ab + bc == pytest.approx(ac, abs=1e-6)
    assert ab <= ac and bc <= ac
    assert ac <= (c - a).total_seconds()


@settings(max_examples=150, deadline=None)
@given(instants, st.floats(min_value=0, max_value=10 * 26100))
def test_add_working_seconds_inverts_the_measure(start: datetime, seconds: float) -> None:
    end = add_working_seconds(CALENDAR, start, seconds)
    assert end >= start
    assert working_seconds_between(CALENDAR, start, end) == pytest.approx(seconds, abs=1e-3)


@settings(max_examples=100, deadline=None)
@given(instants)
def test_deadlines_are_ordered_and_on_working_days(received: datetime) -> None:
    result = deadlines(CALENDAR, received)
    assert received < result.target < result.maximum
    for deadline in (result.target, result.maximum):
        assert CALENDAR.is_working_day(deadline.astimezone(WIB).date())
    # Target is the end of working day 2: exactly one full working day after day 1 ends.
    day_one_end = CALENDAR.windows_on(result.day_one)[-1][1]
    assert day_one_end < result.target
    assert result.target - day_one_end >= timedelta(hours=15)
