"""The working-time clock of the SOP: a table of arrivals and their deadlines, and properties."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from alert_webhook.core.clock import (
    HolidayList,
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


# --- the fast clock against the simple definition ------------------------------------------------------


def reference_working_seconds(calendar: WorkingCalendar, start: datetime, end: datetime) -> float:
    """The clock's definition, walked day by day: every local day from ``start``'s to ``end``'s, window by
    window. :func:`working_seconds_between` must give the same without walking."""
    if end <= start:
        return 0.0
    total = 0.0
    day, last = calendar.local_date(start), calendar.local_date(end)
    while day <= last:
        for opens, closes in calendar.windows_on(day):
            overlap = (min(closes, end) - max(opens, start)).total_seconds()
            if overlap > 0:
                total += overlap
        day += timedelta(days=1)
    return total


def fixed_holidays(days: frozenset[date]) -> HolidayList:
    return HolidayList(lambda years: (day for day in days if day.year in years))


hours_of_day = st.integers(min_value=0, max_value=23 * 60)


@st.composite
def calendars(draw: st.DrawFn) -> WorkingCalendar:
    """Any calendar: 0–2 windows per weekday, holidays and decrees anywhere around the instants drawn."""
    windows = {}
    for weekday in range(7):
        starts = sorted(draw(st.sets(hours_of_day, max_size=4)))
        pairs = list(zip(starts[::2], starts[1::2], strict=False))
        windows[weekday] = tuple((time(a // 60, a % 60), time(b // 60, b % 60)) for a, b in pairs if b > a)
    days = st.dates(min_value=date(2023, 12, 1), max_value=date(2028, 1, 31))
    return WorkingCalendar(
        timezone=draw(st.sampled_from([WIB, ZoneInfo("UTC"), ZoneInfo("Asia/Jayapura")])),
        windows=windows,
        holidays=fixed_holidays(frozenset(draw(st.sets(days, max_size=40)))),
        extra_closed=frozenset(draw(st.sets(days, max_size=10))),
        extra_open=frozenset(draw(st.sets(days, max_size=10))),
    )


span_instants = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(calendars(), span_instants, span_instants)
def test_fast_clock_equals_the_day_by_day_definition(
    calendar: WorkingCalendar, a: datetime, b: datetime
) -> None:
    assert working_seconds_between(calendar, a, b) == pytest.approx(
        reference_working_seconds(calendar, a, b), abs=1e-6
    )


@settings(max_examples=100, deadline=None)
@given(span_instants, span_instants)
def test_fast_clock_equals_the_definition_on_the_sops_calendar(a: datetime, b: datetime) -> None:
    """The real holiday list (public holidays and cuti bersama) and configured decrees."""
    calendar = working_calendar(
        load_settings(
            {"BATIKNET_HOLIDAYS_ADD": "2026-12-01,2025-06-02", "BATIKNET_HOLIDAYS_REMOVE": "2026-12-24"}
        )
    )
    assert working_seconds_between(calendar, a, b) == pytest.approx(
        reference_working_seconds(calendar, a, b), abs=1e-6
    )


def test_a_span_of_decades_equals_the_definition() -> None:
    start, end = wib(2000, 1, 3, 9, 15), wib(2030, 6, 14, 10, 40)
    assert working_seconds_between(CALENDAR, start, end) == pytest.approx(
        reference_working_seconds(CALENDAR, start, end), abs=1e-3
    )


def test_a_span_of_two_thousand_years_is_whole_weeks() -> None:
    """Year 1 to 2026 without holidays: whole weeks of 4 × 7 h 15 min + 3 h, counted at once."""
    calendar = WorkingCalendar(timezone=ZoneInfo("UTC"), holidays=fixed_holidays(frozenset()))
    monday = datetime(1, 1, 1, tzinfo=UTC)  # 1 January of year 1 was a Monday
    weeks = 105_000
    end = monday + timedelta(weeks=weeks)
    assert working_seconds_between(calendar, monday, end) == weeks * (4 * 26_100 + 3 * 3_600)


def test_holidays_are_asked_for_once_per_year() -> None:
    asked: list[range] = []

    def load(years: range) -> list[date]:
        asked.append(years)
        return [date(year, 8, 17) for year in years]

    calendar = WorkingCalendar(holidays=HolidayList(load))
    working_seconds_between(calendar, wib(2001, 1, 1), wib(2030, 1, 1))
    working_seconds_between(calendar, wib(2001, 1, 1), wib(2030, 1, 1))
    assert not calendar.is_working_day(date(2026, 8, 17))
    years = [year for loaded in asked for year in loaded]
    assert sorted(years) == list(range(2001, 2031))  # each year once, however often the span is asked
