"""The working-time clock of the service standard (SOP section 3), as pure functions.

Service hours are Asia/Jakarta (WIB): Monday–Thursday 08:00–12:00 and 12:30–15:45, Friday 08:00–11:00,
no service at the weekend, on Indonesian public holidays or on collective-leave days (cuti bersama).
A case's day 1 is the day it is received if that is a working day and the last service window of that day
has not yet ended; otherwise the next working day. The target is the end of working day 2 and the maximum
the end of working day 5.

Everything here takes aware datetimes and a :class:`WorkingCalendar`; nothing reads the system clock, so
every rule is testable with a table of instants.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

import holidays

__all__ = [
    "DEFAULT_WINDOWS",
    "Deadlines",
    "HolidayList",
    "WorkingCalendar",
    "add_working_seconds",
    "day_one",
    "deadlines",
    "indonesian_holidays",
    "nth_working_day",
    "parse_windows",
    "working_seconds_between",
]

Window = tuple[time, time]

# weekday() numbers: Monday is 0, Sunday 6.
DEFAULT_WINDOWS: Mapping[int, tuple[Window, ...]] = {
    0: ((time(8, 0), time(12, 0)), (time(12, 30), time(15, 45))),
    1: ((time(8, 0), time(12, 0)), (time(12, 30), time(15, 45))),
    2: ((time(8, 0), time(12, 0)), (time(12, 30), time(15, 45))),
    3: ((time(8, 0), time(12, 0)), (time(12, 30), time(15, 45))),
    4: ((time(8, 0), time(11, 0)),),
    5: (),
    6: (),
}
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# No Indonesian office closes for longer than this; a longer gap means a misconfigured calendar.
MAX_CLOSED_DAYS = 60


class HolidayList:
    """Closing days by year, loaded from their source a range of years at a time and kept.

    ``load(years)`` gives the holidays of a ``range`` of years; each year is asked for once, so the clock
    can count the holidays of a long span from sets instead of asking day by day.
    """

    def __init__(self, load: Callable[[range], Iterable[date]]) -> None:
        self._load = load
        self._by_year: dict[int, frozenset[date]] = {}

    def in_years(self, first: int, last: int) -> Iterator[date]:
        """The holidays of the years ``first`` to ``last`` (both included)."""
        self._load_years(first, last)
        for year in range(first, last + 1):
            yield from self._by_year[year]

    def __contains__(self, day: date) -> bool:
        self._load_years(day.year, day.year)
        return day in self._by_year[day.year]

    def _load_years(self, first: int, last: int) -> None:
        missing = [year for year in range(first, last + 1) if year not in self._by_year]
        if missing:
            years = range(missing[0], missing[-1] + 1)
            loaded: dict[int, set[date]] = {year: set() for year in years}
            for day in self._load(years):
                loaded.setdefault(day.year, set()).add(day)
            self._by_year.update({year: frozenset(days) for year, days in loaded.items()})


def indonesian_holidays(categories: Iterable[str] = ("public", "government")) -> HolidayList:
    """Public holidays and cuti bersama of Indonesia from the ``holidays`` package."""
    chosen = tuple(categories)
    if not chosen:
        return HolidayList(lambda years: ())
    return HolidayList(lambda years: holidays.country_holidays("ID", categories=chosen, years=years).keys())


@dataclass(frozen=True)
class WorkingCalendar:
    """When the service is open: windows per weekday, minus holidays, with configured exceptions.

    ``extra_closed`` adds closing days (a local decree); ``extra_open`` reopens a day the holiday source
    marks closed. Neither changes a weekday's windows.
    """

    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Jakarta"))
    windows: Mapping[int, tuple[Window, ...]] = field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    holidays: HolidayList = field(default_factory=indonesian_holidays)
    extra_closed: frozenset[date] = frozenset()
    extra_open: frozenset[date] = frozenset()

    def is_working_day(self, day: date) -> bool:
        if not self.windows.get(day.weekday()):
            return False
        if day in self.extra_closed:
            return False
        return day in self.extra_open or day not in self.holidays

    def windows_on(self, day: date) -> list[tuple[datetime, datetime]]:
        """The service windows of one local date as aware datetimes (empty on a closed day)."""
        if not self.is_working_day(day):
            return []
        return [
            (datetime.combine(day, start, self.timezone), datetime.combine(day, end, self.timezone))
            for start, end in self.windows[day.weekday()]
        ]

    def working_days_from(self, day: date) -> Iterator[date]:
        """Working days on or after ``day``, in order."""
        closed_run = 0
        while True:
            if self.is_working_day(day):
                closed_run = 0
                yield day
            else:
                closed_run += 1
                if closed_run > MAX_CLOSED_DAYS:
                    raise ValueError(f"no working day within {MAX_CLOSED_DAYS} days after {day}")
            day += timedelta(days=1)

    def local_date(self, instant: datetime) -> date:
        return _aware(instant).astimezone(self.timezone).date()

    @cached_property
    def seconds_per_weekday(self) -> tuple[float, ...]:
        """Service seconds of an open day, by weekday number (wall-clock time, as the windows are)."""
        return tuple(
            sum(
                (datetime.combine(date.min, end) - datetime.combine(date.min, start)).total_seconds()
                for start, end in self.windows.get(weekday, ())
            )
            for weekday in range(7)
        )

    def closed_days(self, first: date, end: date) -> set[date]:
        """Days in ``[first, end)`` whose weekday has service windows but which are closed (holidays and
        decrees, less the days reopened), taken from the sets rather than by walking the span."""
        closed = {day for day in self.extra_closed if first <= day < end}
        last_year = (end - timedelta(days=1)).year
        closed.update(
            day
            for day in self.holidays.in_years(first.year, last_year)
            if first <= day < end and day not in self.extra_open
        )
        return {day for day in closed if self.windows.get(day.weekday())}

    def working_seconds_of_days(self, first: date, end: date) -> float:
        """Service seconds of the whole days ``[first, end)``: whole weeks at once, then the days left,
        less the closed days. The cost grows with the holidays in the span, not with its days."""
        days = (end - first).days
        if days <= 0:
            return 0.0
        per_day = self.seconds_per_weekday
        weeks, rest = divmod(days, 7)
        total = weeks * sum(per_day) + sum(per_day[(first.weekday() + i) % 7] for i in range(rest))
        return total - sum(per_day[day.weekday()] for day in self.closed_days(first, end))


@dataclass(frozen=True)
class Deadlines:
    day_one: date
    target: datetime  # end of the last window of working day 2
    maximum: datetime  # end of the last window of working day 5


def parse_windows(spec: Mapping[str, Iterable[str]]) -> dict[int, tuple[Window, ...]]:
    """``{"mon": ["08:00-12:00", "12:30-15:45"], "sat": []}`` → windows per weekday number.

    Days not named keep the defaults, so a configuration only states what differs.
    """
    result = dict(DEFAULT_WINDOWS)
    for name, ranges in spec.items():
        key = name.strip().lower()[:3]
        if key not in WEEKDAY_NAMES:
            raise ValueError(f"working hours: {name!r} is not a weekday (mon, tue, ... sun)")
        windows = []
        for text in ranges:
            try:
                start_text, end_text = str(text).split("-")
                start, end = time.fromisoformat(start_text.strip()), time.fromisoformat(end_text.strip())
            except ValueError:
                raise ValueError(f"working hours: {name}: {text!r} is not HH:MM-HH:MM") from None
            if end <= start:
                raise ValueError(f"working hours: {name}: {text!r} ends before it starts")
            if windows and start < windows[-1][1]:
                raise ValueError(f"working hours: {name}: {text!r} overlaps or is out of order")
            windows.append((start, end))
        result[WEEKDAY_NAMES.index(key)] = tuple(windows)
    return result


def working_seconds_between(calendar: WorkingCalendar, start: datetime, end: datetime) -> float:
    """Seconds of service time in ``[start, end)``; zero when ``end`` is not after ``start``.

    The first and the last local day are measured window by window, the whole days between them at once
    (:meth:`WorkingCalendar.working_seconds_of_days`), so a span of centuries costs about what a week does.
    """
    start, end = _aware(start), _aware(end)
    if end <= start:
        return 0.0
    first, last = calendar.local_date(start), calendar.local_date(end)
    if first == last:
        return _overlap(calendar, first, start, end)
    between = calendar.working_seconds_of_days(first + timedelta(days=1), last)
    return _overlap(calendar, first, start, end) + between + _overlap(calendar, last, start, end)


def _overlap(calendar: WorkingCalendar, day: date, start: datetime, end: datetime) -> float:
    """Service seconds of one local day that fall in ``[start, end)``."""
    total = 0.0
    for opens, closes in calendar.windows_on(day):
        overlap = (min(closes, end) - max(opens, start)).total_seconds()
        if overlap > 0:
            total += overlap
    return total


def add_working_seconds(calendar: WorkingCalendar, start: datetime, seconds: float) -> datetime:
    """The instant at which ``seconds`` of service time have passed since ``start``."""
    start = _aware(start)
    remaining = timedelta(seconds=seconds)
    for day in calendar.working_days_from(calendar.local_date(start)):
        for opens, closes in calendar.windows_on(day):
            begin = max(opens, start)
            if begin >= closes:
                continue
            if begin + remaining <= closes:
                return begin + remaining
            remaining -= closes - begin
    raise AssertionError("unreachable: working_days_from never ends")


def day_one(calendar: WorkingCalendar, received_at: datetime) -> date:
    """Working day 1 of a case received at ``received_at``."""
    day = calendar.local_date(received_at)
    windows = calendar.windows_on(day)
    if windows and _aware(received_at) < windows[-1][1]:
        return day
    return next(calendar.working_days_from(day + timedelta(days=1)))


def nth_working_day(calendar: WorkingCalendar, first: date, n: int) -> date:
    """The ``n``-th working day counting ``first`` (a working day) as day 1."""
    if n < 1:
        raise ValueError("working days are counted from 1")
    for number, day in enumerate(calendar.working_days_from(first), start=1):
        if number == n:
            return day
    raise AssertionError("unreachable: working_days_from never ends")


def deadlines(
    calendar: WorkingCalendar, received_at: datetime, target_day: int = 2, maximum_day: int = 5
) -> Deadlines:
    first = day_one(calendar, received_at)

    def end_of(n: int) -> datetime:
        return calendar.windows_on(nth_working_day(calendar, first, n))[-1][1]

    return Deadlines(day_one=first, target=end_of(target_day), maximum=end_of(maximum_day))


def _aware(instant: datetime) -> datetime:
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"naive datetime {instant.isoformat()}: the clock needs a time zone")
    return instant
