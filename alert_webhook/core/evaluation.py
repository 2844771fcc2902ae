"""The quarterly performance evaluation of the technicians (SOP section 14), as pure functions.

Per technician and quarter: the cases they were assigned that were received in the quarter, how many were
restored and how many completed, how many stand within the target (end of working day 2) and within the
maximum (end of working day 5) — the one definition of :mod:`.service_level`: measured at the completion,
or at now for a case still open, exactly as the case list shows it — the median restoration time in working
hours (reported beside, never part of on time), and the complaints about those cases. Shares are over all
cases handled.

A technician is their user account: cases are matched by user id, never by the name shown, so renaming
someone keeps their record whole and two people of the same name keep theirs apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from statistics import median
from zoneinfo import ZoneInfo

from .service_level import Standing


@dataclass(frozen=True)
class Technician:
    user_id: int
    name: str  # as shown today


@dataclass(frozen=True)
class CaseFacts:
    case_id: int
    technicians: tuple[Technician, ...]
    standing: Standing  # at the completion, or now while open (service_level.standing)
    completed: bool
    restore_working_seconds: float | None  # None while not restored
    complaints: int


@dataclass(frozen=True)
class TechnicianScore:
    user_id: int
    technician: str  # the name shown
    cases: int
    restored: int
    completed: int
    within_target: int
    within_maximum: int
    median_restore_hours: float | None
    complaints: int

    @property
    def target_share(self) -> float | None:
        return self.within_target / self.cases if self.cases else None

    @property
    def maximum_share(self) -> float | None:
        return self.within_maximum / self.cases if self.cases else None


def quarter_of(day: date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int, timezone: ZoneInfo) -> tuple[datetime, datetime]:
    """``[start, end)`` of a calendar quarter in local time."""
    if quarter not in (1, 2, 3, 4):
        raise ValueError(f"quarter must be 1–4, not {quarter}")
    start = datetime.combine(date(year, 3 * quarter - 2, 1), time(), timezone)
    end_year, end_month = (year + 1, 1) if quarter == 4 else (year, 3 * quarter + 1)
    return start, datetime.combine(date(end_year, end_month, 1), time(), timezone)


def evaluate(technicians: Iterable[Technician], cases: Sequence[CaseFacts]) -> list[TechnicianScore]:
    """One score per technician (those without cases too, so nobody silently drops out of the table)."""
    roster = {t.user_id: t for t in technicians}
    for case in cases:
        for technician in case.technicians:
            roster.setdefault(technician.user_id, technician)
    scores = []
    for technician in roster.values():
        handled = [case for case in cases if technician.user_id in {t.user_id for t in case.technicians}]
        durations = [
            case.restore_working_seconds / 3600
            for case in handled
            if case.restore_working_seconds is not None
        ]
        scores.append(
            TechnicianScore(
                user_id=technician.user_id,
                technician=technician.name,
                cases=len(handled),
                restored=len(durations),
                completed=sum(case.completed for case in handled),
                within_target=sum(case.standing is Standing.WITHIN_TARGET for case in handled),
                within_maximum=sum(case.standing is not Standing.PAST_MAXIMUM for case in handled),
                median_restore_hours=round(median(durations), 2) if durations else None,
                complaints=sum(case.complaints for case in handled),
            )
        )
    return scores
