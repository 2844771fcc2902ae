"""Cases: reading them (list, one case, timeline, what one may do now) and the rows every case starts with.

The reads answer typed views (:mod:`.views`), the same for the API and the pages. The helpers below them
(:func:`insert_case`, :func:`load_case`, :func:`add_event`) are shared by the services that change cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, literal, select
from sqlalchemy import case as when
from sqlalchemy import func as sql
from sqlalchemy.orm import Session, selectinload

from ..core import clock, workflow
from ..core.service_level import Standing
from ..core.workflow import Actor, CaseSource, CaseState, Check, CheckResult, EventKind
from ..store.limits import fit
from ..store.models import Case, CaseAssignment, CaseEvent, CaseTarget, User
from .errors import NotFound
from .tracker import Tracker
from .views import CaseDetail, CaseSummary, EventView, case_detail, case_summary, event_view

__all__ = [
    "CaseList",
    "add_event",
    "allowed_actions",
    "get_case",
    "insert_case",
    "isp_of",
    "list_cases",
    "load_case",
    "move_receipt",
    "snapshot",
    "standing_sql",
    "timeline",
]

CASES = Case.__table__
CASE_TARGETS = CaseTarget.__table__
_INSERT_CASE = CASES.insert().returning(CASES.c.id)
INSERT_CASE_TARGET = CASE_TARGETS.insert()


def standing_sql(now: datetime) -> ColumnElement[str]:
    """:func:`..core.service_level.standing` in SQL, for filters and counts over many cases: measured at
    the completion (``closed_at``), else ``now``; a deadline is met up to and including its instant."""
    measured = sql.coalesce(Case.closed_at, literal(now, Case.closed_at.type))
    return when(
        (measured <= Case.target_deadline, literal(Standing.WITHIN_TARGET.value)),
        (measured <= Case.maximum_deadline, literal(Standing.WITHIN_MAXIMUM.value)),
        else_=literal(Standing.PAST_MAXIMUM.value),
    )


@dataclass(frozen=True)
class CaseList:
    items: list[CaseSummary]
    has_next: bool  # more cases match after this page
    total: int | None  # how many match in all; None unless asked for (counting costs a scan)
    limit: int
    offset: int


def list_cases(
    tracker: Tracker,
    *,
    state: CaseState | None = None,
    target: str | None = None,
    technician: str | None = None,
    overdue: bool | None = None,
    source: CaseSource | None = None,
    open_only: bool = False,
    limit: int = 50,
    offset: int = 0,
    count_total: bool = False,
) -> CaseList:
    """Cases newest first, filtered in SQL (target matches affected targets too; technician by username).

    Whether a next page exists comes from asking for one case more than the page holds; the total is
    counted only when ``count_total`` asks for it (the API reports it, the pages do not need it).
    """
    now = tracker.now()
    conditions = []
    if state:
        conditions.append(Case.state == state)
    if open_only:
        conditions.append(Case.state != CaseState.CLOSED)
    if source:
        conditions.append(Case.source == source)
    if target:
        conditions.append(Case.id.in_(select(CaseTarget.case_id).where(CaseTarget.target == target)))
    if technician:
        conditions.append(
            Case.id.in_(
                select(CaseAssignment.case_id)
                .join(User, User.id == CaseAssignment.user_id)
                .where(User.username == technician)
            )
        )
    if overdue is not None:  # past the target, as the one definition says
        late = standing_sql(now) != Standing.WITHIN_TARGET.value
        conditions.append(late if overdue else ~late)
    with tracker.db.read() as session:
        total = None
        if count_total:
            total = session.scalar(select(sql.count()).select_from(Case).where(*conditions)) or 0
        cases = session.scalars(
            select(Case)
            .where(*conditions)
            .order_by(Case.id.desc())
            .limit(limit + 1)
            .offset(offset)
            .options(
                selectinload(Case.targets),
                selectinload(Case.episodes),
                selectinload(Case.assignments).selectinload(CaseAssignment.user),
                selectinload(Case.isp_contacts),
            )
        ).all()
        items = [case_summary(tracker, c, now) for c in cases[:limit]]
    return CaseList(items=items, has_next=len(cases) > limit, total=total, limit=limit, offset=offset)


def get_case(tracker: Tracker, case_id: int) -> CaseDetail:
    """The full case: everything in the list item plus checks, ISP log, letters, report, timeline."""
    with tracker.db.read() as session:
        return case_detail(tracker, load_case(session, case_id), tracker.now())


def timeline(tracker: Tracker, case_id: int) -> list[EventView]:
    with tracker.db.read() as session:
        return [event_view(e) for e in load_case(session, case_id).events]


def snapshot(case: Case) -> workflow.CaseSnapshot:
    """What the workflow's rules need to know of a stored case. A word the rules do not know (written by
    another version, or by hand) matches none of them: an unknown state allows no action, an unknown check
    or result counts as not recorded."""
    round_checks = {
        Check(c.check): CheckResult(c.result)
        for c in case.checks
        if c.round == case.check_round and c.check in tuple(Check) and c.result in tuple(CheckResult)
    }
    return workflow.CaseSnapshot(
        state=CaseState(case.state) if case.state in tuple(CaseState) else case.state,  # type: ignore[arg-type]
        assignee_ids=frozenset(a.user_id for a in case.assignments),
        round_checks=round_checks,
    )


def allowed_actions(tracker: Tracker, case_id: int, actor: Actor) -> list[str]:
    """The workflow actions ``actor`` may take on the case now (the pages show these forms)."""
    with tracker.db.read() as session:
        return workflow.allowed_actions(snapshot(load_case(session, case_id)), actor)


def load_case(session: Session, case_id: int, for_update: bool = False) -> Case:
    query = select(Case).where(Case.id == case_id)
    if for_update:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    return case


def add_event(
    session: Session,
    case: Case,
    actor: Actor,
    kind: EventKind,
    at: datetime,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    """One line on the case's timeline (rows are only ever added)."""
    session.add(
        CaseEvent(
            case_id=case.id,
            at=at,
            actor_id=actor.user_id,
            actor_name=actor.username,
            kind=kind,
            from_state=from_state,
            to_state=to_state,
            note=note or "",
            data=data or {},
        )
    )


def insert_case(
    session: Session,
    tracker: Tracker,
    *,
    source: CaseSource,
    target: str,
    title: str,
    received_at: datetime,
    group_key: str | None,
    previous_case_id: int | None = None,
) -> int:
    """A new case in state received, with its deadlines and its own target; returns its id.

    A Core statement rather than the ORM: the applier opens cases in bulk during a storm. The title and
    the target, made from an alert's summary or its group's key, are cut to what their columns hold.
    """
    target, title = fit(Case.target, target), fit(Case.title, title)
    deadlines = clock.deadlines(tracker.calendar, received_at)
    connection = session.connection()
    case_id = connection.execute(
        _INSERT_CASE,
        {
            "source": source,
            "group_key": group_key,
            "active_key": group_key,
            "target": target,
            "title": title,
            "state": CaseState.RECEIVED,
            "received_at": received_at,
            "target_deadline": deadlines.target,
            "maximum_deadline": deadlines.maximum,
            "flap_count": 0,
            "incomplete": False,
            "check_round": 1,
            "isp": isp_of(tracker, target),
            "previous_case_id": previous_case_id,
        },
    ).scalar_one()
    connection.execute(INSERT_CASE_TARGET, {"case_id": case_id, "target": target, "added_at": received_at})
    return case_id


def move_receipt(tracker: Tracker, case: Case, received_at: datetime) -> dict[str, str]:
    """The disruption was received earlier than the case says (a letter that came before the alert): the
    clock starts then. The deadlines and the working times measured from receipt follow; answers what
    changed, for the timeline."""
    received_at = received_at.astimezone(UTC)
    moved = {"from": case.received_at.isoformat(), "to": received_at.isoformat()}
    result = clock.deadlines(tracker.calendar, received_at)
    case.received_at = received_at
    case.target_deadline, case.maximum_deadline = result.target, result.maximum
    if case.dispositioned_at is not None:
        case.disposition_working_seconds = tracker.working_seconds(received_at, case.dispositioned_at)
    if case.restored_at is not None:
        case.restore_working_seconds = tracker.working_seconds(received_at, case.restored_at)
    return {
        **moved,
        "target_deadline": result.target.isoformat(),
        "maximum_deadline": result.maximum.isoformat(),
    }


def isp_of(tracker: Tracker, target: str) -> str | None:
    """The ISP uplink a target depends on: itself, the one the inventory names, or the nearest upstream."""
    entry = tracker.inventory_entry(target)
    if entry is None:
        return None
    if entry.kind == "isp":
        return entry.id
    if getattr(entry, "isp", None):
        return entry.isp
    return next((a for a in tracker.ancestors(target) if tracker.inventory.target(a).kind == "isp"), None)
