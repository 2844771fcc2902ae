"""The quarterly evaluation's queries (SOP section 14): the plain facts :mod:`..core.evaluation` scores,
each case's standing by the one definition of on time (:func:`..core.service_level.standing`)."""

from __future__ import annotations

from datetime import datetime, timedelta
from itertools import groupby
from typing import Any

from sqlalchemy import func as sql
from sqlalchemy import select

from ..core.evaluation import CaseFacts, Technician, TechnicianScore, evaluate, quarter_bounds, quarter_of
from ..core.service_level import standing
from ..core.workflow import Role
from ..store.models import Case, CaseAssignment, Complaint, User
from .tracker import Tracker

__all__ = ["current_quarter", "quarter", "quarterly_scores"]


def current_quarter(tracker: Tracker) -> tuple[int, int]:
    """(year, quarter) of now in the service's time zone."""
    return quarter_of(tracker.now().astimezone(tracker.calendar.timezone).date())


def quarterly_scores(tracker: Tracker, start: datetime, end: datetime) -> list[TechnicianScore]:
    """Scores of every technician for the cases received in ``[start, end)``.

    Plain rows rather than ORM objects: a quarter of a busy year holds thousands of cases.
    """
    now = tracker.now()
    in_quarter = (Case.received_at >= start, Case.received_at < end)
    with tracker.db.read() as session:
        rows = session.execute(
            select(
                Case.id,
                Case.closed_at,
                Case.target_deadline,
                Case.maximum_deadline,
                Case.restore_working_seconds,
                User.id,
                User.display_name,
            )
            .outerjoin(CaseAssignment, CaseAssignment.case_id == Case.id)
            .outerjoin(User, User.id == CaseAssignment.user_id)
            .where(*in_quarter)
            .order_by(Case.id)
        ).all()
        complaints = dict(
            session.execute(
                select(Complaint.case_id, sql.count(Complaint.id))
                .join(Case, Case.id == Complaint.case_id)
                .where(*in_quarter)
                .group_by(Complaint.case_id)
            ).all()
        )
        technicians = [
            Technician(user_id, name)
            for user_id, name in session.execute(
                select(User.id, User.display_name)
                .where(User.role == Role.TECHNICIAN, User.active)
                .order_by(User.display_name, User.id)
            )
        ]
    facts = []
    for case_id, group in groupby(rows, key=lambda row: row[0]):
        group = list(group)
        _, closed_at, target_deadline, maximum_deadline, restore_seconds, _, _ = group[0]
        facts.append(
            CaseFacts(
                case_id=case_id,
                technicians=tuple(Technician(row[-2], row[-1]) for row in group if row[-2] is not None),
                standing=standing(closed_at or now, target_deadline, maximum_deadline),
                completed=closed_at is not None,
                restore_working_seconds=restore_seconds,
                complaints=complaints.get(case_id, 0),
            )
        )
    return evaluate(technicians, facts)


def quarter(tracker: Tracker, year: int, number: int) -> dict[str, Any]:
    """A quarter's evaluation as the page and the printed report show it."""
    start, end = quarter_bounds(year, number, tracker.calendar.timezone)
    return {
        "year": year,
        "quarter": number,
        "period_start": start.date(),
        "period_end": (end - timedelta(days=1)).date(),
        "scores": quarterly_scores(tracker, start, end),
        "now": tracker.now(),
    }
