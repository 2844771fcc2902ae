"""The SOP's handling procedure as a pure state machine with per-role permissions.

    received ─dispose→ dispositioned ─start_checks→ checking ─restore→ restored ─write_report→
    report_written ─close→ closed
    checking ─escalate_isp→ isp_escalated ─recheck(connected)→ restored
    isp_escalated ─recheck(not connected)→ isp_escalated (logged)
    isp_escalated ─return_to_checking→ checking

``decide(case, action, actor)`` says whether an actor may take an action now and, if not, why (a sentence
fit to show on a page or in a 409 answer). Roles: ``admin`` may do everything; ``head`` (kepala bidang)
disposes and may act on any case; a ``technician`` acts only on cases assigned to him or her; a
``viewer`` only reads. Alertmanager acts as ``system`` and never moves the workflow; it only records
recovery times and reopens (see ``ingest``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from .models import CHECK_RESULTS, CHECKS

__all__ = ["ACTIONS", "Actor", "CaseSnapshot", "Decision", "allowed_actions", "decide"]

STAFF = ("admin", "head", "technician")


@dataclass(frozen=True)
class Actor:
    user_id: int | None
    username: str
    role: str  # admin, head, technician, viewer, system


@dataclass(frozen=True)
class CaseSnapshot:
    """What the rules need to know about a case."""

    state: str
    assignee_ids: frozenset[int] = frozenset()
    # The result of each check recorded in the current round (the latest one per check).
    round_checks: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Action:
    name: str
    from_states: tuple[str, ...]
    to_state: str | None  # None: stays in its state (or depends on the data, see decide)
    who: str  # "head" (head/admin), "assigned" (assigned technician, head, admin), "staff"


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action("dispose", ("received",), "dispositioned", "head"),
        Action(
            "assign",
            ("dispositioned", "checking", "isp_escalated", "restored", "report_written"),
            None,
            "head",
        ),
        Action("start_checks", ("dispositioned",), "checking", "assigned"),
        Action("record_check", ("checking",), None, "assigned"),
        Action("restore", ("checking", "isp_escalated"), "restored", "assigned"),
        Action("escalate_isp", ("checking",), "isp_escalated", "assigned"),
        Action("record_recheck", ("isp_escalated",), None, "assigned"),
        Action("return_to_checking", ("isp_escalated",), "checking", "assigned"),
        Action("write_report", ("restored",), "report_written", "assigned"),
        Action("close", ("report_written",), "closed", "assigned"),
        Action(
            "add_letter",
            ("received", "dispositioned", "checking", "isp_escalated", "restored", "report_written"),
            None,
            "staff",
        ),
    )
}


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""
    to_state: str | None = None
    forbidden: bool = False  # refused because of who asks (rather than the case's state or the data)


def _refuse(reason: str, forbidden: bool = False) -> Decision:
    return Decision(False, reason, forbidden=forbidden)


def _permitted(action: Action, case: CaseSnapshot, actor: Actor) -> str | None:
    if actor.role == "admin":
        return None
    if actor.role not in STAFF:
        return f"role {actor.role!r} may not {action.name}: viewers only read"
    if action.who == "head" and actor.role != "head":
        return f"only the head (kepala bidang) or an admin may {action.name}"
    if action.who == "assigned" and actor.role == "technician" and actor.user_id not in case.assignee_ids:
        return f"{actor.username} is not assigned to this case"
    return None


def decide(
    case: CaseSnapshot, action_name: str, actor: Actor, data: Mapping[str, object] | None = None
) -> Decision:
    """May ``actor`` take ``action_name`` on ``case`` with ``data`` now? If so, to which state?"""
    data = data or {}
    action = ACTIONS.get(action_name)
    if action is None:
        return _refuse(f"unknown action {action_name!r}")
    if case.state not in action.from_states:
        allowed_from = ", ".join(action.from_states)
        return _refuse(f"cannot {action_name} a case in state {case.state!r} (only from: {allowed_from})")
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
        to_state = "restored"
    return Decision(True, "", to_state)


def allowed_actions(case: CaseSnapshot, actor: Actor) -> list[str]:
    """The actions the actor could take now, ignoring the data they need (for showing forms)."""
    return [
        name
        for name, action in ACTIONS.items()
        if case.state in action.from_states and _permitted(action, case, actor) is None
    ]


# --- rules on the data of one action -------------------------------------------------------------


def _missing_checks(case: CaseSnapshot) -> list[str]:
    return [c for c in CHECKS if c not in case.round_checks]


def _dispose(case: CaseSnapshot, data: Mapping[str, object]) -> str | None:
    technicians = data.get("technician_ids")
    if not technicians:
        return "a disposition assigns at least one technician"
    return None


def _assign(case: CaseSnapshot, data: Mapping[str, object]) -> str | None:
    return _dispose(case, data)


def _record_check(case: CaseSnapshot, data: Mapping[str, object]) -> str | None:
    if data.get("check") not in CHECKS:
        return f"check must be one of {', '.join(CHECKS)}"
    if data.get("result") not in CHECK_RESULTS:
        return f"result must be one of {', '.join(CHECK_RESULTS)}"
    return None


def _restore(case: CaseSnapshot, data: Mapping[str, object]) -> str | None:
    if case.state == "isp_escalated":
        return None
    missing = _missing_checks(case)
    if missing:
        return f"the checks are not complete: {', '.join(missing)} not recorded"
    if case.round_checks.get("connectivity") == "fault":
        return "connectivity was checked as fault: contact the ISP (escalate_isp) or check again"
    return None


def _escalate_isp(case: CaseSnapshot, data: Mapping[str, object]) -> str | None:
    missing = _missing_checks(case)
    if missing:
        return f"the checks are not complete: {', '.join(missing)} not recorded"
    if case.round_checks.get("connectivity") != "fault":
        return "the ISP is contacted only when connectivity is checked as fault"
    if not data.get("ticket_number"):
        return "the ISP's ticket number is required"
    return None


def _record_recheck(case: CaseSnapshot, data: Mapping[str, object]) -> str | None:
    if not isinstance(data.get("connected"), bool):
        return "a recheck states whether the network is connected (true or false)"
    return None


def _write_report(case: CaseSnapshot, data: Mapping[str, object]) -> str | None:
    for name in ("cause", "actions"):
        if not str(data.get(name) or "").strip():
            return f"the report needs {name}"
    return None


def _close(case: CaseSnapshot, data: Mapping[str, object]) -> str | None:
    if not str(data.get("reported_to") or "").strip():
        return "closing reports completion to the OPD: say to whom (reported_to)"
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
