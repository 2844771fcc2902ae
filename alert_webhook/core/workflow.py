"""The SOP's handling procedure as a pure state machine with per-role permissions.

    received ─dispose→ dispositioned ─start_checks→ checking ─restore→ restored ─write_report→
    report_written ─close→ closed
    checking ─escalate_isp→ isp_escalated ─recheck(connected)→ restored
    isp_escalated ─recheck(not connected)→ isp_escalated (logged)
    isp_escalated ─return_to_checking→ checking

``decide(case, action, actor)`` says whether an actor may take an action now and, if not, why: a
:class:`~.refusals.Refusal`, a code the pages translate and the API answers with its English sentence.
Roles: ``admin`` may do everything; ``head`` (kepala bidang) disposes and may act on any case; a
``technician`` acts only on cases assigned to him or her; a ``viewer`` only reads. Alertmanager acts as
``system`` and never moves the workflow; it only records recovery times and reopens (see ``ingest``).

The words of the workflow (states, roles, checks and their results, sources, timeline events) are
enumerations here; they are ``str`` too, so they are stored and compared as the plain text they stand for.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from .refusals import Refusal

__all__ = [
    "ACTIONS",
    "MAY_BE_NOT_APPLICABLE",
    "STAFF",
    "Actor",
    "CaseSnapshot",
    "CaseSource",
    "CaseState",
    "Check",
    "CheckResult",
    "Decision",
    "EventKind",
    "Refusal",
    "Role",
    "allowed_actions",
    "decide",
]


class CaseState(StrEnum):
    RECEIVED = "received"
    DISPOSITIONED = "dispositioned"
    CHECKING = "checking"
    ISP_ESCALATED = "isp_escalated"
    RESTORED = "restored"
    REPORT_WRITTEN = "report_written"
    CLOSED = "closed"


OPEN_STATES = tuple(s for s in CaseState if s is not CaseState.CLOSED)


class Role(StrEnum):
    ADMIN = "admin"
    HEAD = "head"
    TECHNICIAN = "technician"
    VIEWER = "viewer"
    SYSTEM = "system"  # Alertmanager and automation: never a user account


USER_ROLES = (Role.ADMIN, Role.HEAD, Role.TECHNICIAN, Role.VIEWER)
STAFF = (Role.ADMIN, Role.HEAD, Role.TECHNICIAN)


class CaseSource(StrEnum):
    ALERT = "alert"
    LETTER = "letter"


class Check(StrEnum):
    """The four checks of SOP steps 4–7, in the order they are done."""

    PHYSICAL = "physical"
    MONITORING = "monitoring"
    DNS = "dns"
    CONNECTIVITY = "connectivity"


# The checks Prometheus has evidence for (the physical check is looked at on site).
MONITORED_CHECKS = (Check.MONITORING, Check.DNS, Check.CONNECTIVITY)
# The checks a disruption may leave out, each with a note saying why (docs/tracker.md, "Which checks may be
# not applicable"): the physical check of the core's devices when the disruption lies outside the core, the
# DNS server when name resolution plays no part in it. Never the monitoring, which covers every target and
# is at hand at every case, nor connectivity, on whose result SOP step 7 branches (the ISP or the end).
MAY_BE_NOT_APPLICABLE = (Check.PHYSICAL, Check.DNS)


class CheckResult(StrEnum):
    OK = "ok"
    FAULT = "fault"
    NOT_APPLICABLE = "not_applicable"


class EventKind(StrEnum):
    """Every kind of line a case's timeline holds: the workflow's actions and what happened to the case."""

    OPENED = "opened"
    REOPENED = "reopened"
    ALERT_FIRING = "alert_firing"
    ALERT_RESOLVED = "alert_resolved"
    TARGET_JOINED = "target_joined"
    NETWORK_RESTORED = "network_restored"
    INCOMPLETE = "incomplete"
    LETTER_ADDED = "letter_added"
    RECEIPT_MOVED = "receipt_moved"  # a letter received earlier than the case: the clock starts then
    COMMENT = "comment"
    # A message to people (core/outbox.py): queued with the action, then sent, failed (retried) or given up.
    NOTICE_QUEUED = "notice_queued"
    NOTICE_SENT = "notice_sent"
    NOTICE_FAILED = "notice_failed"
    NOTICE_GIVEN_UP = "notice_given_up"
    DISPOSE = "dispose"
    ASSIGN = "assign"
    START_CHECKS = "start_checks"
    RECORD_CHECK = "record_check"
    RESTORE = "restore"
    ESCALATE_ISP = "escalate_isp"
    RECORD_RECHECK = "record_recheck"
    RETURN_TO_CHECKING = "return_to_checking"
    WRITE_REPORT = "write_report"
    CLOSE = "close"


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: Role


@dataclass(frozen=True)
class CaseSnapshot:
    """What the rules need to know about a case."""

    state: CaseState
    assignee_ids: frozenset[int] = frozenset()
    # The result of each check recorded in the current round (the latest one per check).
    round_checks: Mapping[Check, CheckResult] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    name: str
    from_states: tuple[CaseState, ...]
    to_state: CaseState | None  # None: stays in its state (or depends on the data, see decide)
    who: str  # "head" (head/admin), "assigned" (assigned technician, head, admin), "staff"


S = CaseState
ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("dispose", (S.RECEIVED,), S.DISPOSITIONED, "head"),
        Action("assign", OPEN_STATES[1:], None, "head"),
        Action("start_checks", (S.DISPOSITIONED,), S.CHECKING, "assigned"),
        Action("record_check", (S.CHECKING,), None, "assigned"),
        Action("restore", (S.CHECKING, S.ISP_ESCALATED), S.RESTORED, "assigned"),
        Action("escalate_isp", (S.CHECKING,), S.ISP_ESCALATED, "assigned"),
        Action("record_recheck", (S.ISP_ESCALATED,), None, "assigned"),
        Action("return_to_checking", (S.ISP_ESCALATED,), S.CHECKING, "assigned"),
        Action("write_report", (S.RESTORED,), S.REPORT_WRITTEN, "assigned"),
        Action("close", (S.REPORT_WRITTEN,), S.CLOSED, "assigned"),
        Action("add_letter", OPEN_STATES, None, "staff"),
    )
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    refusal: Refusal | None = None
    to_state: CaseState | None = None
    forbidden: bool = False  # refused because of who asks (rather than the case's state or the data)


def _refuse(refusal: Refusal, forbidden: bool = False) -> Decision:
    return Decision(False, refusal, forbidden=forbidden)


def _permitted(action: Action, case: CaseSnapshot, actor: Actor) -> Refusal | None:
    if actor.role == Role.ADMIN:
        return None
    if actor.role not in STAFF:
        return Refusal("viewer", {"role": actor.role, "action": action.name})
    if action.who == "head" and actor.role != Role.HEAD:
        return Refusal("head_only", {"action": action.name})
    if action.who == "assigned" and actor.role == Role.TECHNICIAN and actor.user_id not in case.assignee_ids:
        return Refusal("not_assigned", {"user": actor.username})
    return None


def decide(
    case: CaseSnapshot, action_name: str, actor: Actor, data: Mapping[str, object] | None = None
) -> Decision:
    """May ``actor`` take ``action_name`` on ``case`` with ``data`` now? If so, to which state?"""
    data = data or {}
    action = ACTIONS.get(action_name)
    if action is None:
        return _refuse(Refusal("unknown_action", {"action": action_name}))
    if case.state not in action.from_states:
        return _refuse(
            Refusal("state", {"action": action_name, "state": case.state, "states": action.from_states})
        )
    refusal = _permitted(action, case, actor)
    if refusal:
        return _refuse(refusal, forbidden=True)
    rule = _RULES.get(action_name)
    if rule is not None:
        refusal = rule(case, data)
        if refusal:
            return _refuse(refusal)
    to_state = action.to_state
    if action_name == "record_recheck" and data.get("connected") is True:
        to_state = CaseState.RESTORED
    return Decision(True, None, to_state)


def allowed_actions(case: CaseSnapshot, actor: Actor) -> list[str]:
    """The actions the actor could take now, ignoring the data they need (for showing forms)."""
    return [
        name
        for name, action in ACTIONS.items()
        if case.state in action.from_states and _permitted(action, case, actor) is None
    ]


# --- rules on the data of one action -------------------------------------------------------------


def _incomplete_round(case: CaseSnapshot) -> Refusal | None:
    """Why the round's checks cannot yet decide between the ISP and the end: one not recorded, or one marked
    not applicable that never may be (the tracker once accepted that)."""
    missing = tuple(c for c in Check if c not in case.round_checks)
    if missing:
        return Refusal("checks_incomplete", {"checks": missing})
    skipped = tuple(
        c
        for c in Check
        if c not in MAY_BE_NOT_APPLICABLE and case.round_checks[c] == CheckResult.NOT_APPLICABLE
    )
    if skipped:
        return Refusal("check_not_skippable", {"checks": skipped})
    return None


def _dispose(case: CaseSnapshot, data: Mapping[str, object]) -> Refusal | None:
    technicians = data.get("technician_ids")
    if not technicians:
        return Refusal("technician_required")
    return None


def _assign(case: CaseSnapshot, data: Mapping[str, object]) -> Refusal | None:
    return _dispose(case, data)


def _record_check(case: CaseSnapshot, data: Mapping[str, object]) -> Refusal | None:
    if data.get("check") not in tuple(Check):
        return Refusal("check_unknown", {"checks": tuple(Check)})
    if data.get("result") not in tuple(CheckResult):
        return Refusal("result_unknown", {"results": tuple(CheckResult)})
    if data["result"] == CheckResult.NOT_APPLICABLE:
        check = Check(data["check"])
        if check not in MAY_BE_NOT_APPLICABLE:
            return Refusal("check_not_skippable", {"checks": (check,)})
        if not str(data.get("note") or "").strip():
            return Refusal("not_applicable_reason", {"checks": (check,)})
    return None


def _restore(case: CaseSnapshot, data: Mapping[str, object]) -> Refusal | None:
    if case.state == CaseState.ISP_ESCALATED:
        return None
    refusal = _incomplete_round(case)
    if refusal:
        return refusal
    if case.round_checks[Check.CONNECTIVITY] == CheckResult.FAULT:
        return Refusal("connectivity_fault")
    return None


def _escalate_isp(case: CaseSnapshot, data: Mapping[str, object]) -> Refusal | None:
    refusal = _incomplete_round(case)
    if refusal:
        return refusal
    if case.round_checks[Check.CONNECTIVITY] != CheckResult.FAULT:
        return Refusal("isp_only_on_fault")
    if not data.get("ticket_number"):
        return Refusal("ticket_required")
    return None


def _record_recheck(case: CaseSnapshot, data: Mapping[str, object]) -> Refusal | None:
    if not isinstance(data.get("connected"), bool):
        return Refusal("connected_required")
    return None


def _write_report(case: CaseSnapshot, data: Mapping[str, object]) -> Refusal | None:
    for name in ("cause", "actions"):
        if not str(data.get(name) or "").strip():
            return Refusal("report_incomplete", {"part": name})
    return None


def _close(case: CaseSnapshot, data: Mapping[str, object]) -> Refusal | None:
    if not str(data.get("reported_to") or "").strip():
        return Refusal("reported_to_required")
    return None


_RULES = {
    "dispose": _dispose,
    "assign": _assign,
    "record_check": _record_check,
    "restore": _restore,
    "escalate_isp": _escalate_isp,
    "record_recheck": _record_recheck,
    "write_report": _write_report,
    "close": _close,
}
