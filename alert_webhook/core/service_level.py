"""On time, one definition: a case's service level from the SOP (section 3), as one pure function.

- **The service** is the handling of a disruption until its completion is reported to the OPD (SOP step 10:
  the case is closed). It has at most 5 working days — the **maximum**, the end of working day 5 — and a
  **target** of completion in 1–2 days, the end of working day 2 (:func:`.clock.deadlines`). A case stands
  *within the target*, *within the maximum* or *past the maximum*, measured at its completion, or at now
  while it is open.
- **The restoration time** is the disruption's duration, from the case's receipt to the network's
  recovery. It is reported beside the service level, in clock time and in working time, and is never part
  of "on time": a network back in an hour does not complete a service whose report is still unwritten.
- **The ISP waiting time** runs from each call to the ISP, as the technician says it was called
  (``called_at``), until the recovery, the return to the checks, or now; calls that overlap count once.

Every surface — the case list, the case page, the NOC screen, the API, the metrics, the quarterly
evaluation and the printed documents — takes its answer from :func:`service_level` (the metrics and the
list's filter from :func:`standing`, written once more in SQL beside the query that needs it and tested
against this one).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from .clock import WorkingCalendar, working_seconds_between

__all__ = [
    "CaseTimes",
    "Duration",
    "ISPCall",
    "ServiceLevel",
    "Standing",
    "isp_wait",
    "service_level",
    "standing",
]


class Standing(StrEnum):
    WITHIN_TARGET = "within_target"  # completed (or, while open, still) by the end of working day 2
    WITHIN_MAXIMUM = "within_maximum"  # past the target, by the end of working day 5
    PAST_MAXIMUM = "past_maximum"


@dataclass(frozen=True)
class Duration:
    """A stretch of time as people are told it: on the clock, and how much of it was service hours."""

    clock_seconds: float
    working_seconds: float

    @property
    def outside_service_hours(self) -> bool:
        """All of it fell outside the service windows (a night's restoration): worth saying in words."""
        return self.working_seconds == 0 and self.clock_seconds > 0


@dataclass(frozen=True)
class ISPCall:
    called_at: datetime
    ended_at: datetime | None  # the return to the checks or the recovery was recorded; None: waiting


@dataclass(frozen=True)
class CaseTimes:
    """What the definition needs of a case."""

    received_at: datetime  # the earliest receipt of the disruption, letter or alert
    target_deadline: datetime
    maximum_deadline: datetime
    restored_at: datetime | None
    closed_at: datetime | None  # completion reported to the OPD
    isp_calls: tuple[ISPCall, ...] = ()


@dataclass(frozen=True)
class ServiceLevel:
    target_deadline: datetime
    maximum_deadline: datetime
    completed: bool
    measured_at: datetime  # the completion, or now while the case is open
    standing: Standing
    elapsed: Duration  # receipt → measured_at: the service time used
    restoration: Duration | None  # receipt → recovery; None while the network is not back
    isp_wait: Duration | None  # None when the ISP was never called

    @property
    def past_target(self) -> bool:
        return self.standing is not Standing.WITHIN_TARGET

    @property
    def past_maximum(self) -> bool:
        return self.standing is Standing.PAST_MAXIMUM


def standing(measured_at: datetime, target_deadline: datetime, maximum_deadline: datetime) -> Standing:
    """Where a case measured at ``measured_at`` stands; a deadline is met up to and including its instant."""
    if measured_at <= target_deadline:
        return Standing.WITHIN_TARGET
    if measured_at <= maximum_deadline:
        return Standing.WITHIN_MAXIMUM
    return Standing.PAST_MAXIMUM


def service_level(case: CaseTimes, now: datetime, calendar: WorkingCalendar) -> ServiceLevel:
    """The service level of ``case``: its standing at completion (or now), and the durations beside it."""
    measured_at = case.closed_at or now
    restoration = None
    if case.restored_at is not None:
        restoration = _duration(calendar, [(case.received_at, case.restored_at)])
    return ServiceLevel(
        target_deadline=case.target_deadline,
        maximum_deadline=case.maximum_deadline,
        completed=case.closed_at is not None,
        measured_at=measured_at,
        standing=standing(measured_at, case.target_deadline, case.maximum_deadline),
        elapsed=_duration(calendar, [(case.received_at, measured_at)]),
        restoration=restoration,
        isp_wait=isp_wait(case.isp_calls, case.restored_at, now, calendar),
    )


def isp_wait(
    calls: Iterable[ISPCall], restored_at: datetime | None, now: datetime, calendar: WorkingCalendar
) -> Duration | None:
    """The time spent waiting on the ISP: from each call until it ended, the recovery or now, whichever
    came first; overlapping calls count once. None when the ISP was never called."""
    spans = []
    for call in calls:
        end = min(t for t in (call.ended_at, restored_at, now) if t is not None)
        spans.append((call.called_at, max(end, call.called_at)))
    if not spans:
        return None
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return _duration(calendar, merged)


def _duration(calendar: WorkingCalendar, spans: list[tuple[datetime, datetime]]) -> Duration:
    return Duration(
        clock_seconds=sum(max((end - start).total_seconds(), 0.0) for start, end in spans),
        working_seconds=sum(working_seconds_between(calendar, start, end) for start, end in spans),
    )
