"""Complaints (SOP section 6): recorded, answered by the officer, forwarded to an official, resolved.

Who may record a complaint and take its steps is one policy for the API and the pages alike:
:func:`..core.complaints.refusal` (the head and admins). Each step is timed in working seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select

from ..core import complaints as policy
from ..core.complaints import ComplaintChannel, ComplaintState, Resolver
from ..core.refusals import Refusal
from ..core.workflow import Actor
from ..store.models import Complaint
from .cases import load_case
from .errors import Forbidden, NotFound, Refused
from .tracker import Tracker
from .views import ComplaintView, complaint_view

__all__ = [
    "escalate_complaint",
    "file_complaint",
    "list_complaints",
    "resolve_complaint",
    "respond_complaint",
]


def _require_handler(actor: Actor, action: str) -> None:
    refusal = policy.refusal(actor.role, action)
    if refusal is not None:
        raise Forbidden(refusal)


def file_complaint(
    tracker: Tracker,
    actor: Actor,
    complainant: str,
    description: str,
    channel: ComplaintChannel = ComplaintChannel.DIRECT,
    contact: str = "",
    case_id: int | None = None,
) -> ComplaintView:
    """Record a complaint, about a case or not."""
    _require_handler(actor, "record_complaint")
    with tracker.db.write() as session:
        if case_id is not None:
            load_case(session, case_id)
        row = Complaint(
            case_id=case_id,
            received_at=tracker.now(),
            channel=channel,
            complainant=complainant,
            contact=contact,
            description=description,
            state=ComplaintState.RECEIVED,
        )
        session.add(row)
        session.flush()
        return complaint_view(tracker, row)


def _step(
    tracker: Tracker, actor: Actor, complaint_id: int, step: str, apply: Callable[[Complaint, datetime], None]
) -> ComplaintView:
    _require_handler(actor, "handle_complaint")
    with tracker.db.write() as session:
        row = session.get(Complaint, complaint_id)
        if row is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        if row.state != policy.STEPS[step].from_state:
            raise Refused(
                Refusal("complaint_state", {"complaint": complaint_id, "complaint_state": row.state})
            )
        apply(row, tracker.now())
        session.flush()  # so the view reads the people just recorded
        return complaint_view(tracker, row)


def respond_complaint(
    tracker: Tracker, actor: Actor, complaint_id: int, response: str, solved: bool
) -> ComplaintView:
    """The officer responds (the user recording it); ``solved`` ends it there, otherwise it waits for
    escalation."""

    def apply(row: Complaint, now: datetime) -> None:
        row.officer_id, row.officer_response, row.responded_at = actor.user_id, response, now
        row.state = ComplaintState.RESOLVED if solved else ComplaintState.RESPONDED
        if solved:
            row.resolved_at, row.resolved_by, row.resolution = now, Resolver.OFFICER, response
            row.resolution_recorded_by_id = actor.user_id

    return _step(tracker, actor, complaint_id, "respond", apply)


def escalate_complaint(
    tracker: Tracker, actor: Actor, complaint_id: int, official_name: str
) -> ComplaintView:
    """Forwarded to an official of Dinas Kominfo, by name; the user recording it forwarded it."""

    def apply(row: Complaint, now: datetime) -> None:
        row.escalated_at, row.official_name, row.state = now, official_name, ComplaintState.ESCALATED
        row.escalated_by_id = actor.user_id

    return _step(tracker, actor, complaint_id, "escalate", apply)


def resolve_complaint(tracker: Tracker, actor: Actor, complaint_id: int, resolution: str) -> ComplaintView:
    """The official's resolution ends it; the user recording it is kept beside the official's name."""

    def apply(row: Complaint, now: datetime) -> None:
        row.resolution, row.resolved_at, row.resolved_by = resolution, now, Resolver.OFFICIAL
        row.state, row.resolution_recorded_by_id = ComplaintState.RESOLVED, actor.user_id

    return _step(tracker, actor, complaint_id, "resolve", apply)


def list_complaints(tracker: Tracker, case_id: int | None = None) -> list[ComplaintView]:
    """Newest first; only those about one case when ``case_id`` is given."""
    with tracker.db.read() as session:
        query = select(Complaint).order_by(Complaint.id.desc())
        if case_id is not None:
            query = query.where(Complaint.case_id == case_id)
        return [complaint_view(tracker, c) for c in session.scalars(query)]
