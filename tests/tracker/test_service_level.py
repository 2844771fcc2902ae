"""On time, one definition (core/service_level.py): the service is measured to its completion (the case
closed) or to now; the restoration and the ISP wait are reported beside it, in clock and working time."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from alert_webhook.core.clock import HolidayList, WorkingCalendar, deadlines
from alert_webhook.core.service_level import (
    CaseTimes,
    Duration,
    ISPCall,
    Standing,
    isp_wait,
    service_level,
    standing,
)

WIB = ZoneInfo("Asia/Jakarta")
CALENDAR = WorkingCalendar(holidays=HolidayList(lambda years: ()))


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    """An instant of December 2026 in WIB (1 December is a Tuesday)."""
    return datetime(2026, 12, day, hour, minute, tzinfo=WIB)


RECEIVED = wib(1, 10)  # Tuesday: target Wednesday 2 December 15:45, maximum Monday 7 December 15:45
DEADLINES = deadlines(CALENDAR, RECEIVED)


def case(restored_at: datetime | None = None, closed_at: datetime | None = None, calls=()) -> CaseTimes:
    return CaseTimes(RECEIVED, DEADLINES.target, DEADLINES.maximum, restored_at, closed_at, tuple(calls))


def test_the_deadlines_of_the_example() -> None:
    assert (DEADLINES.target, DEADLINES.maximum) == (wib(2, 15, 45), wib(7, 15, 45))


@pytest.mark.parametrize(
    ("measured", "expected"),
    [
        (wib(2, 15, 45), Standing.WITHIN_TARGET),  # a deadline is met up to its instant
        (wib(2, 15, 46), Standing.WITHIN_MAXIMUM),
        (wib(7, 15, 45), Standing.WITHIN_MAXIMUM),
        (wib(7, 15, 46), Standing.PAST_MAXIMUM),
    ],
)
def test_standing_against_the_deadlines(measured: datetime, expected: Standing) -> None:
    assert standing(measured, DEADLINES.target, DEADLINES.maximum) is expected


def test_a_closed_case_is_measured_at_its_completion_whatever_now_is() -> None:
    level = service_level(case(wib(1, 11), closed_at=wib(2, 9)), now=wib(20, 9), calendar=CALENDAR)
    assert level.completed and level.measured_at == wib(2, 9)
    assert level.standing is Standing.WITHIN_TARGET and not level.past_target


def test_an_open_case_is_measured_at_now() -> None:
    level = service_level(case(), now=wib(3, 9), calendar=CALENDAR)
    assert not level.completed and level.measured_at == wib(3, 9)
    assert level.standing is Standing.WITHIN_MAXIMUM and level.past_target and not level.past_maximum
    assert level.restoration is None and level.isp_wait is None


def test_a_quick_restoration_does_not_make_a_late_completion_on_time() -> None:
    """The network back in an hour; the completion reported after the maximum: past the maximum."""
    level = service_level(case(wib(1, 11), closed_at=wib(8, 9)), now=wib(8, 9), calendar=CALENDAR)
    assert level.standing is Standing.PAST_MAXIMUM
    assert level.restoration == Duration(clock_seconds=3600, working_seconds=3600)


def test_the_restoration_is_told_in_clock_time_and_in_working_time() -> None:
    """Received 15:00, restored 17:15 the same day: 2 h 15 min on the clock, 45 min of service hours."""
    received = wib(1, 15)
    times = CaseTimes(received, DEADLINES.target, DEADLINES.maximum, wib(1, 17, 15), None)
    level = service_level(times, now=wib(1, 18), calendar=CALENDAR)
    assert level.restoration == Duration(clock_seconds=2 * 3600 + 15 * 60, working_seconds=45 * 60)
    assert not level.restoration.outside_service_hours


def test_a_restoration_after_hours_is_zero_working_time_but_not_zero_time() -> None:
    received = wib(1, 16)
    times = CaseTimes(received, DEADLINES.target, DEADLINES.maximum, wib(1, 18, 15), None)
    restoration = service_level(times, now=wib(1, 19), calendar=CALENDAR).restoration
    assert restoration == Duration(clock_seconds=2 * 3600 + 15 * 60, working_seconds=0)
    assert restoration.outside_service_hours


def test_the_isp_wait_runs_from_the_call_to_the_recovery() -> None:
    """Called at 10:30 (logged later), recovery at 11:30, recorded at 14:00 (when the call 'ended')."""
    wait = isp_wait([ISPCall(wib(1, 10, 30), wib(1, 14))], wib(1, 11, 30), wib(1, 15), CALENDAR)
    assert wait == Duration(clock_seconds=3600, working_seconds=3600)


def test_the_isp_wait_of_an_open_call_runs_to_now() -> None:
    wait = isp_wait([ISPCall(wib(1, 11), None)], None, wib(1, 13), CALENDAR)
    assert wait == Duration(clock_seconds=2 * 3600, working_seconds=1.5 * 3600)  # less the lunch break


def test_the_isp_wait_ends_with_the_return_to_the_checks_and_overlaps_count_once() -> None:
    calls = [
        ISPCall(wib(1, 8), wib(1, 9)),  # returned to the checks at 09:00
        ISPCall(wib(1, 10), None),  # two ISPs called at once
        ISPCall(wib(1, 10, 30), None),
    ]
    wait = isp_wait(calls, wib(1, 11), wib(1, 15), CALENDAR)
    assert wait == Duration(clock_seconds=2 * 3600, working_seconds=2 * 3600)


def test_a_call_after_the_recovery_waits_nothing() -> None:
    wait = isp_wait([ISPCall(wib(1, 12), None)], wib(1, 11), wib(1, 15), CALENDAR)
    assert wait == Duration(clock_seconds=0, working_seconds=0)


def test_elapsed_is_the_service_time_used() -> None:
    level = service_level(case(closed_at=RECEIVED + timedelta(days=1)), now=wib(9, 9), calendar=CALENDAR)
    assert level.elapsed == Duration(clock_seconds=86400, working_seconds=26100)
