"""What the tracker shows of a case and a complaint: typed views, the same for the JSON API and the pages.

A view is built from the stored rows in one place (:func:`case_summary`, :func:`case_detail`,
:func:`complaint_view`); the API serialises it as it is (``model_dump(mode="json")``) and the pages read
its attributes. Instants are aware datetimes, written in JSON as ISO 8601 with their offset (UTC).
A person is named by id (and, where the API always gave it, username) and by display name (``*_name``),
which is what the pages show; a name is null for the system (Alertmanager, the mailer).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from ..core.complaints import ComplaintState
from ..core.service_level import CaseTimes, ISPCall, ServiceLevel, Standing, service_level
from ..core.workflow import CaseSource, CaseState, Check, CheckResult
from ..store.models import (
    AlertEpisode,
    Case,
    CaseEvent,
    Complaint,
    ISPContact,
    Letter,
    RecordedCheck,
    Report,
    User,
)
from .tracker import Tracker

__all__ = [
    "Assignee",
    "CaseDetail",
    "CaseLinks",
    "CaseSummary",
    "CheckView",
    "ComplaintView",
    "DurationView",
    "EpisodeView",
    "EventView",
    "ISPContactView",
    "Instant",
    "LetterView",
    "RecheckView",
    "ReportView",
    "ServiceLevelView",
    "case_detail",
    "case_summary",
    "complaint_view",
    "event_view",
    "level_of",
]

T = TypeVar("T")

# ISO 8601 with the offset written out (``+00:00``), as the API has always answered.
Instant = Annotated[
    datetime,
    PlainSerializer(lambda value: value.isoformat(), return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


class View(BaseModel):
    model_config = ConfigDict(frozen=True)


# A word of an enumeration as stored (``Stored[CaseState]``): one of the enumeration, or any other text
# (written by another version, or by hand), passed on as it is rather than failing every page that shows
# it. The pages show an unknown word as itself.
Stored = Annotated[T | str, Field(union_mode="left_to_right")]


class Assignee(View):
    id: int
    username: str
    display_name: str


class EpisodeView(View):
    """One firing of one alert (fingerprint and startsAt)."""

    fingerprint: str
    alertname: str
    target: str | None
    status: str  # firing or resolved
    starts_at: Instant
    ends_at: Instant | None
    labels: dict[str, str]
    annotations: dict[str, str]
    generator_url: str


class CaseLinks(View):
    self: str
    timeline: str
    page: str


class DurationView(View):
    """A stretch of time: on the clock, and how much of it fell in service hours."""

    clock_seconds: float
    working_seconds: float = Field(description="The part in service hours (the working-time clock)")


class ServiceLevelView(View):
    """On time, one definition (``core/service_level.py``, from SOP section 3): the service — handling until
    completion is reported to the OPD, i.e. the case is closed — has a target (end of working day 2) and a
    maximum (end of working day 5). ``standing`` is measured at completion, or at now while the case is
    open. The restoration (receipt → recovery) and the ISP wait are reported beside it, never part of it."""

    standing: Standing = Field(description="within_target, within_maximum or past_maximum")
    completed: bool = Field(description="Completion reported to the OPD (the case is closed)")
    measured_at: Instant = Field(description="Where the standing is measured: closed_at, else now")
    elapsed: DurationView = Field(description="From receipt to measured_at")
    restoration: DurationView | None = Field(
        description="The disruption's duration, from receipt to recovery; null while not restored"
    )
    isp_wait: DurationView | None = Field(
        description="Waiting on the ISP, from each call (called_at) to its end, the recovery or now; "
        "null when the ISP was never called"
    )


class CaseSummary(View):
    """A case as the list shows it."""

    id: int
    state: Stored[CaseState]
    source: Stored[CaseSource]
    title: str
    target: str
    target_name: str
    affected_targets: list[str]
    isp: str | None
    received_at: Instant = Field(description="The earliest receipt of the disruption, letter or alert")
    dispositioned_at: Instant | None
    network_restored_at: Instant | None
    restored_at: Instant | None
    report_written_at: Instant | None
    closed_at: Instant | None
    target_deadline: Instant = Field(description="End of working day 2")
    maximum_deadline: Instant = Field(description="End of working day 5")
    service_level: ServiceLevelView
    working_seconds_elapsed: float = Field(description="service_level.elapsed.working_seconds")
    overdue: bool = Field(description="Past the target: service_level.standing is not within_target")
    past_maximum: bool = Field(description="service_level.standing is past_maximum")
    isp_wait_seconds: float = Field(description="service_level.isp_wait.working_seconds, 0 if none")
    flap_count: int
    incomplete: bool
    previous_case_id: int | None
    assignees: list[Assignee]
    episodes: list[EpisodeView]
    links: CaseLinks


class CheckView(View):
    id: int
    round: int
    check: Stored[Check]
    result: Stored[CheckResult]
    note: str
    evidence: dict[str, Any]
    user_id: int | None
    by: str | None  # username
    by_name: str | None
    at: Instant


class ISPContactView(View):
    id: int
    isp: str
    isp_name: str
    contact: str
    ticket_number: str
    called_at: Instant
    estimate_at: Instant | None
    note: str
    user_id: int | None
    logged_at: Instant  # when the call was entered in the tracker
    by_name: str | None
    ended_at: Instant | None


class RecheckView(View):
    id: int
    isp_contact_id: int | None  # the ISP call it followed
    connected: bool
    note: str
    user_id: int | None
    by_name: str | None
    at: Instant


class LetterView(View):
    id: int
    number: str
    letter_date: date
    opd: str
    reporter: str
    description: str
    received_at: Instant
    file_name: str | None
    file_mime: str | None
    file_url: str | None


class ReportView(View):
    id: int
    number: str | None  # its letter number, issued when written (None: written before numbering)
    cause: str
    actions: str
    parts_replaced: str
    isp_part: str
    duration_working_seconds: float
    isp_wait_working_seconds: float
    written_by_id: int | None
    written_at: Instant


class EventView(View):
    """One line of a case's timeline."""

    id: int
    at: Instant
    actor: str  # username, or the system's name ("alertmanager")
    actor_id: int | None
    actor_name: str | None  # the person's display name; null for the system
    kind: str
    from_state: Stored[CaseState] | None
    to_state: Stored[CaseState] | None
    note: str
    data: dict[str, Any]


class CaseDetail(CaseSummary):
    """A case with everything it holds: checks, ISP log, letters, report, timeline."""

    check_round: int
    checks: list[CheckView]
    isp_contacts: list[ISPContactView]
    rechecks: list[RecheckView]
    letters: list[LetterView]
    report: ReportView | None
    timeline: list[EventView]


class ComplaintView(View):
    id: int
    case_id: int | None
    state: Stored[ComplaintState]
    channel: str
    complainant: str
    contact: str
    description: str
    received_at: Instant
    officer_id: int | None  # the officer who responded
    officer_name: str | None
    officer_response: str
    responded_at: Instant | None
    escalated_at: Instant | None
    escalated_by_id: int | None  # who forwarded it to the official
    escalated_by_name: str | None
    official_name: str
    resolution: str
    resolved_at: Instant | None
    resolved_by: str  # officer or official
    resolution_recorded_by_id: int | None  # who recorded the resolution
    resolution_recorded_by_name: str | None
    response_working_seconds: float | None
    resolution_working_seconds: float | None


# --- building the views from the stored rows ------------------------------------------------------------


def level_of(tracker: Tracker, case: Case, now: datetime) -> ServiceLevel:
    """The stored case's service level (:func:`..core.service_level.service_level`)."""
    times = CaseTimes(
        received_at=case.received_at,
        target_deadline=case.target_deadline,
        maximum_deadline=case.maximum_deadline,
        restored_at=case.restored_at,
        closed_at=case.closed_at,
        isp_calls=tuple(ISPCall(c.called_at, c.ended_at) for c in case.isp_contacts),
    )
    return service_level(times, now, tracker.calendar)


def _summary_fields(tracker: Tracker, case: Case, now: datetime) -> dict[str, Any]:
    level = level_of(tracker, case, now)
    return {
        "id": case.id,
        "state": case.state,
        "source": case.source,
        "title": case.title,
        "target": case.target,
        "target_name": tracker.target_name(case.target),
        "affected_targets": [t.target for t in case.targets if t.target != case.target],
        "isp": case.isp,
        "received_at": case.received_at,
        "dispositioned_at": case.dispositioned_at,
        "network_restored_at": case.network_restored_at,
        "restored_at": case.restored_at,
        "report_written_at": case.report_written_at,
        "closed_at": case.closed_at,
        "target_deadline": case.target_deadline,
        "maximum_deadline": case.maximum_deadline,
        "service_level": ServiceLevelView.model_validate(level, from_attributes=True),
        "working_seconds_elapsed": level.elapsed.working_seconds,
        "overdue": level.past_target,
        "past_maximum": level.past_maximum,
        "isp_wait_seconds": level.isp_wait.working_seconds if level.isp_wait else 0.0,
        "flap_count": case.flap_count,
        "incomplete": case.incomplete,
        "previous_case_id": case.previous_case_id,
        "assignees": [
            Assignee(id=a.user.id, username=a.user.username, display_name=a.user.display_name)
            for a in case.assignments
        ],
        "episodes": [_episode(e) for e in case.episodes],
        "links": CaseLinks(
            self=f"/api/v1/cases/{case.id}",
            timeline=f"/api/v1/cases/{case.id}/timeline",
            page=f"/cases/{case.id}",
        ),
    }


def case_summary(tracker: Tracker, case: Case, now: datetime) -> CaseSummary:
    return CaseSummary(**_summary_fields(tracker, case, now))


def case_detail(tracker: Tracker, case: Case, now: datetime) -> CaseDetail:
    return CaseDetail(
        **_summary_fields(tracker, case, now),
        check_round=case.check_round,
        checks=[_check(c) for c in case.checks],
        isp_contacts=[_isp_contact(c) for c in case.isp_contacts],
        rechecks=[
            RecheckView(
                id=r.id,
                isp_contact_id=r.isp_contact_id,
                connected=r.connected,
                note=r.note,
                user_id=r.user_id,
                by_name=_name(r.user),
                at=r.at,
            )
            for r in case.rechecks
        ],
        letters=[_letter(letter) for letter in case.letters],
        report=_report(case.reports[-1]) if case.reports else None,
        timeline=[event_view(e) for e in case.events],
    )


def _name(user: User | None) -> str | None:
    return user.display_name if user is not None else None


def _episode(e: AlertEpisode) -> EpisodeView:
    return EpisodeView(
        fingerprint=e.fingerprint,
        alertname=e.alertname,
        target=e.target,
        status=e.status,
        starts_at=e.starts_at,
        ends_at=e.ends_at,
        labels=e.labels,
        annotations=e.annotations,
        generator_url=e.generator_url,
    )


def _check(c: RecordedCheck) -> CheckView:
    return CheckView(
        id=c.id,
        round=c.round,
        check=c.check,
        result=c.result,
        note=c.note,
        evidence=c.evidence,
        user_id=c.user_id,
        by=c.user.username if c.user else None,
        by_name=_name(c.user),
        at=c.at,
    )


def _isp_contact(c: ISPContact) -> ISPContactView:
    return ISPContactView(
        id=c.id,
        isp=c.isp,
        isp_name=c.isp_name,
        contact=c.contact,
        ticket_number=c.ticket_number,
        called_at=c.called_at,
        estimate_at=c.estimate_at,
        note=c.note,
        user_id=c.user_id,
        logged_at=c.created_at,
        by_name=_name(c.user),
        ended_at=c.ended_at,
    )


def _letter(letter: Letter) -> LetterView:
    return LetterView(
        id=letter.id,
        number=letter.number,
        letter_date=letter.letter_date,
        opd=letter.opd,
        reporter=letter.reporter,
        description=letter.description,
        received_at=letter.received_at,
        file_name=letter.file_name,
        file_mime=letter.file_mime,
        file_url=f"/api/v1/letters/{letter.id}/file" if letter.file_data else None,
    )


def _report(r: Report) -> ReportView:
    return ReportView(
        id=r.id,
        number=r.number,
        cause=r.cause,
        actions=r.actions,
        parts_replaced=r.parts_replaced,
        isp_part=r.isp_part,
        duration_working_seconds=r.duration_working_seconds,
        isp_wait_working_seconds=r.isp_wait_working_seconds,
        written_by_id=r.written_by_id,
        written_at=r.written_at,
    )


def event_view(e: CaseEvent) -> EventView:
    return EventView(
        id=e.id,
        at=e.at,
        actor=e.actor_name,
        actor_id=e.actor_id,
        actor_name=_name(e.actor),
        kind=e.kind,
        from_state=e.from_state,
        to_state=e.to_state,
        note=e.note,
        data=e.data,
    )


def complaint_view(tracker: Tracker, c: Complaint) -> ComplaintView:
    def since_receipt(end: datetime | None) -> float | None:
        return tracker.working_seconds(c.received_at, end) if end else None

    return ComplaintView(
        id=c.id,
        case_id=c.case_id,
        state=c.state,
        channel=c.channel,
        complainant=c.complainant,
        contact=c.contact,
        description=c.description,
        received_at=c.received_at,
        officer_id=c.officer_id,
        officer_name=_name(c.officer),
        officer_response=c.officer_response,
        responded_at=c.responded_at,
        escalated_at=c.escalated_at,
        escalated_by_id=c.escalated_by_id,
        escalated_by_name=_name(c.escalated_by),
        official_name=c.official_name,
        resolution=c.resolution,
        resolved_at=c.resolved_at,
        resolved_by=c.resolved_by,
        resolution_recorded_by_id=c.resolution_recorded_by_id,
        resolution_recorded_by_name=_name(c.resolution_recorded_by),
        response_working_seconds=since_receipt(c.responded_at),
        resolution_working_seconds=since_receipt(c.resolved_at),
    )
