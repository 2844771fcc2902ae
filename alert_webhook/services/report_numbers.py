"""The register of resolution reports' letter numbers: a number is issued once, when a report is written,
and kept with it, so a report prints the same number however often and whatever the format is later.

The sequence runs per year of the report's date in the service's zone (an office's register of outgoing
letters starts again each January). The next one is one more than the highest of that year, read under a
lock (PostgreSQL: a transaction advisory lock; SQLite has one writer at a time anyway); the unique
constraints on ``reports`` make a duplicate impossible whatever happens.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func as sql
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core.documents import letter_number
from ..store.db import REPORT_NUMBER_LOCK_ID, serialize_writers
from ..store.models import Report
from .tracker import Tracker

__all__ = ["IssuedNumber", "issue_report_number"]


@dataclass(frozen=True)
class IssuedNumber:
    year: int
    sequence: int
    number: str


def issue_report_number(tracker: Tracker, session: Session, case_id: int, at: datetime) -> IssuedNumber:
    """The next letter number for a report about ``case_id`` dated ``at``, in this write transaction."""
    serialize_writers(session, REPORT_NUMBER_LOCK_ID)
    day = at.astimezone(tracker.calendar.timezone).date()
    highest = session.scalar(select(sql.max(Report.number_sequence)).where(Report.number_year == day.year))
    sequence = (highest or 0) + 1
    number = letter_number(tracker.settings.report_number_format, seq=sequence, case_id=case_id, day=day)
    return IssuedNumber(day.year, sequence, number)
