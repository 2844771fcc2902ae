"""The technicians' and the head's work on a case, SOP steps 2–10: disposition, checks, ISP coordination,
restore, report, close, and comments.

Each action is decided by the pure workflow (:func:`..core.workflow.decide`), applied in one transaction
and written to the case's timeline (:func:`_act`); a refusal raises :class:`~.errors.Refused` (409) or
:class:`~.errors.Forbidden` (403) with its :class:`~..core.refusals.Refusal`. Every function answers the
case as it is afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..core import time_rules, workflow
from ..core.refusals import Refusal
from ..core.workflow import MONITORED_CHECKS, Actor, Check, CheckResult, EventKind, Role
from ..store.models import Case, CaseAssignment, ISPContact, Recheck, RecordedCheck, Report, User
from . import outbox
from .cases import add_event, get_case, load_case, snapshot
from .errors import Forbidden, Invalid, Refused, refuse_field
from .evidence import check_prefill
from .report_numbers import issue_report_number
from .tracker import Tracker
from .views import CaseDetail, level_of

__all__ = [
    "add_comment",
    "assign",
    "close",
    "dispose",
    "escalate_isp",
    "record_check",
    "record_recheck",
    "record_recovery",
    "require_staff",
    "restore",
    "return_to_checking",
    "start_checks",
    "write_report",
]

Apply = Callable[[Session, Case, datetime], dict[str, Any] | None]
Then = Callable[[Session, Case], None]


def require_staff(actor: Actor, action: str) -> None:
    if actor.role not in workflow.STAFF:
        raise Forbidden(Refusal("viewer", {"role": actor.role, "action": action}))


def _act(
    tracker: Tracker,
    actor: Actor,
    case_id: int,
    action: EventKind,
    data: dict[str, Any],
    apply: Apply,
    note: str = "",
    then: Then | None = None,
) -> CaseDetail:
    """Decide ``action`` with the pure rules, apply it and write one timeline event, in one transaction;
    ``then`` queues what the action owes people (after its event, so the timeline reads in order)."""
    now = tracker.now()
    with tracker.db.write() as session:
        case = load_case(session, case_id, for_update=True)
        decision = workflow.decide(snapshot(case), action, actor, data)
        if not decision.allowed:
            raise Forbidden(decision.refusal) if decision.forbidden else Refused(decision.refusal)
        from_state = case.state
        event_data = apply(session, case, now) or {}
        if decision.to_state is not None:
            case.state = decision.to_state
        add_event(
            session,
            case,
            actor,
            action,
            now,
            from_state=from_state,
            to_state=case.state if case.state != from_state else None,
            note=note,
            data=event_data,
        )
        if then is not None:
            then(session, case)
    return get_case(tracker, case_id)


# --- disposition (SOP step 2) ------------------------------------------------------------------------


def _technicians(session: Session, ids: Sequence[int]) -> list[User]:
    users = session.scalars(select(User).where(User.id.in_(ids))).all()
    found = {u.id for u in users}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid(f"user {missing[0]} does not exist", "technician_ids")
    for user in users:
        if user.role != Role.TECHNICIAN or not user.active:
            raise Invalid(f"{user.username} is not an active technician", "technician_ids")
    return list(users)


def _assign(session: Session, case: Case, actor: Actor, ids: Sequence[int], now: datetime) -> list[User]:
    current = {a.user_id for a in case.assignments}
    added = []
    for user in _technicians(session, ids):
        if user.id not in current:
            session.add(
                CaseAssignment(case=case, user_id=user.id, assigned_by_id=actor.user_id, assigned_at=now)
            )
            added.append(user)
    return added


def dispose(
    tracker: Tracker, actor: Actor, case_id: int, technician_ids: Sequence[int], note: str = ""
) -> CaseDetail:
    """SOP step 2: the head's disposition, assigning one or more technicians; they are told with the note,
    and the head's reminder is no longer needed."""
    added: list[User] = []

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        added.extend(_assign(session, case, actor, technician_ids, now))
        case.dispositioned_at = now
        case.disposition_working_seconds = tracker.working_seconds(case.received_at, now)
        return {"technicians": [u.username for u in added]}

    def tell(session: Session, case: Case) -> None:
        outbox.cancel_reminders(session, case.id)
        outbox.queue_assignment(session, tracker, case.id, actor, added, note)

    data = {"technician_ids": list(technician_ids)}
    return _act(tracker, actor, case_id, EventKind.DISPOSE, data, apply, note, tell)


def assign(
    tracker: Tracker, actor: Actor, case_id: int, technician_ids: Sequence[int], note: str = ""
) -> CaseDetail:
    """Add technicians to a case already disposed; those added are told, with the note."""
    added: list[User] = []

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        added.extend(_assign(session, case, actor, technician_ids, now))
        return {"technicians": [u.username for u in added]}

    def tell(session: Session, case: Case) -> None:
        outbox.queue_assignment(session, tracker, case.id, actor, added, note)

    data = {"technician_ids": list(technician_ids)}
    return _act(tracker, actor, case_id, EventKind.ASSIGN, data, apply, note, tell)


# --- checks (SOP steps 3–7) ------------------------------------------------------------------------


def start_checks(tracker: Tracker, actor: Actor, case_id: int, note: str = "") -> CaseDetail:
    """SOP step 3: the technicians begin; the Prometheus evidence of that moment is kept on the timeline."""
    evidence = check_prefill(tracker, case_id)
    return _act(
        tracker, actor, case_id, EventKind.START_CHECKS, {}, lambda s, c, n: {"evidence": evidence}, note
    )


def record_check(
    tracker: Tracker,
    actor: Actor,
    case_id: int,
    check: Check,
    result: CheckResult,
    note: str = "",
    evidence: dict[str, Any] | None = None,
) -> CaseDetail:
    """One of the four checks (physical, monitoring, dns, connectivity): ok, fault or not_applicable.

    The monitored checks keep the Prometheus evidence of the moment unless ``evidence`` is given.
    """
    if evidence is None and check in MONITORED_CHECKS:
        evidence = check_prefill(tracker, case_id).get(check, {})

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        session.add(
            RecordedCheck(
                case=case,
                round=case.check_round,
                check=check,
                result=result,
                note=note,
                evidence=evidence or {},
                user_id=actor.user_id,
                at=now,
            )
        )
        return {"check": check, "result": result, "round": case.check_round}

    data = {"check": check, "result": result, "note": note}
    return _act(tracker, actor, case_id, EventKind.RECORD_CHECK, data, apply, note)


# --- recovery and the ISP (SOP step 8) -------------------------------------------------------------


def record_recovery(tracker: Tracker, case: Case, restored_at: datetime, now: datetime) -> None:
    """The network is back as of ``restored_at``: the recovery time counts and any ISP wait ends now."""
    case.restored_at = restored_at
    case.restore_working_seconds = tracker.working_seconds(case.received_at, restored_at)
    for contact in case.isp_contacts:
        if contact.ended_at is None:
            contact.ended_at = now


def escalate_isp(
    tracker: Tracker,
    actor: Actor,
    case_id: int,
    ticket_number: str,
    *,
    called_at: datetime | None = None,
    estimate_at: datetime | None = None,
    isp: str | None = None,
    contact: str | None = None,
    note: str = "",
) -> CaseDetail:
    """SOP step 8: the ISP is called (ISP and contact default to the inventory's)."""

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        entry_clock = tracker.entry_clock(now)
        called = called_at or now
        if called_at is not None:
            refuse_field(time_rules.happened("called_at", called_at, entry_clock, since=case.received_at))
        if estimate_at is not None:
            refuse_field(time_rules.expected("estimate_at", estimate_at, entry_clock, after=called))
        isp_id = isp or case.isp
        if not isp_id:
            raise Invalid("no ISP is known for this case's target: name one", "isp")
        name, support = isp_id, contact or ""
        if tracker.inventory is not None:
            entry = tracker.inventory_entry(isp_id)
            if entry is None:
                raise Invalid(f"{isp_id!r} is not an ISP uplink of the inventory", "isp")
            if entry.kind != "isp":
                raise Invalid(f"{isp_id!r} is not an ISP uplink", "isp")
            name = f"{entry.provider} ({entry.name})"
            support = contact or " / ".join(x for x in (entry.support_phone, entry.support_email) if x)
        session.add(
            ISPContact(
                case=case,
                isp=isp_id,
                isp_name=name,
                contact=support,
                ticket_number=ticket_number,
                called_at=called,
                estimate_at=estimate_at,
                note=note,
                user_id=actor.user_id,
                created_at=now,
            )
        )
        case.isp = isp_id
        return {
            "isp": isp_id,
            "ticket_number": ticket_number,
            "called_at": called.isoformat(),
            "estimate_at": estimate_at.isoformat() if estimate_at else None,
        }

    data = {"ticket_number": ticket_number}
    return _act(tracker, actor, case_id, EventKind.ESCALATE_ISP, data, apply, note)


def record_recheck(
    tracker: Tracker, actor: Actor, case_id: int, connected: bool, note: str = ""
) -> CaseDetail:
    """A recheck while waiting on the ISP; connected moves the case to restored."""

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        contact_id = case.isp_contacts[-1].id if case.isp_contacts else None
        session.add(
            Recheck(
                case=case,
                isp_contact_id=contact_id,
                connected=connected,
                note=note,
                user_id=actor.user_id,
                at=now,
            )
        )
        if connected:
            record_recovery(tracker, case, case.network_restored_at or now, now)
        return {"connected": connected}

    data = {"connected": connected}
    return _act(tracker, actor, case_id, EventKind.RECORD_RECHECK, data, apply, note)


def return_to_checking(tracker: Tracker, actor: Actor, case_id: int, note: str = "") -> CaseDetail:
    """Back from waiting on the ISP to a new round of the four checks."""

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        case.check_round += 1
        for contact in case.isp_contacts:
            if contact.ended_at is None:
                contact.ended_at = now
        return {"round": case.check_round}

    return _act(tracker, actor, case_id, EventKind.RETURN_TO_CHECKING, {}, apply, note)


def restore(
    tracker: Tracker, actor: Actor, case_id: int, restored_at: datetime | None = None, note: str = ""
) -> CaseDetail:
    """The network is connected again: recovery time as entered (between the case's receipt and now), else
    from the resolved alert, else now."""
    if restored_at is not None and restored_at.tzinfo is None:
        raise Invalid("restored_at needs a time zone offset", "restored_at")

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        if restored_at is not None:
            entry_clock = tracker.entry_clock(now)
            refuse_field(time_rules.happened("restored_at", restored_at, entry_clock, since=case.received_at))
        at = restored_at or case.network_restored_at or now
        record_recovery(tracker, case, at, now)
        return {"restored_at": at.isoformat()}

    return _act(tracker, actor, case_id, EventKind.RESTORE, {}, apply, note)


# --- report and closing (SOP steps 9–10) -----------------------------------------------------------


def write_report(
    tracker: Tracker,
    actor: Actor,
    case_id: int,
    cause: str,
    actions: str,
    parts_replaced: str = "",
    isp_part: str = "",
    note: str = "",
) -> CaseDetail:
    """SOP step 9: the resolution report, with its letter number; it keeps the restoration time and the ISP
    wait, in working time, as they stood when it was written."""

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        level = level_of(tracker, case, now)
        assert level.restoration is not None  # a report is written only once the network is back
        issued = issue_report_number(tracker, session, case.id, now)
        report = Report(
            case=case,
            number=issued.number,
            number_year=issued.year,
            number_sequence=issued.sequence,
            cause=cause,
            actions=actions,
            parts_replaced=parts_replaced,
            isp_part=isp_part,
            duration_working_seconds=level.restoration.working_seconds,
            isp_wait_working_seconds=level.isp_wait.working_seconds if level.isp_wait else 0.0,
            written_by_id=actor.user_id,
            written_at=now,
        )
        session.add(report)
        case.report_written_at = now
        return {"duration_working_seconds": report.duration_working_seconds, "number": report.number}

    data = {"cause": cause, "actions": actions}
    return _act(tracker, actor, case_id, EventKind.WRITE_REPORT, data, apply, note)


def close(tracker: Tracker, actor: Actor, case_id: int, reported_to: str, note: str = "") -> CaseDetail:
    """SOP step 10: completion reported to the OPD; the case is closed."""

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        case.closed_at = now
        case.active_key = None
        return {"reported_to": reported_to}

    data = {"reported_to": reported_to}
    return _act(tracker, actor, case_id, EventKind.CLOSE, data, apply, note)


def add_comment(tracker: Tracker, actor: Actor, case_id: int, note: str) -> CaseDetail:
    """A free note on the timeline, by any staff member, in any state."""
    require_staff(actor, "comment")
    if not note.strip():
        raise Invalid("a comment needs text", "note")
    with tracker.db.write() as session:
        add_event(session, load_case(session, case_id), actor, EventKind.COMMENT, tracker.now(), note=note)
    return get_case(tracker, case_id)
