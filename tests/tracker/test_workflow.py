"""The SOP state machine: every action from every state by every role, and the rules on the data."""

from __future__ import annotations

import itertools

import pytest

from alert_webhook.core.workflow import (
    ACTIONS,
    Actor,
    CaseSnapshot,
    CaseState,
    Check,
    allowed_actions,
    decide,
)

CHECKS, STATES = tuple(map(str, Check)), tuple(map(str, CaseState))

TECHNICIAN_ID = 7
ALL_CHECKS_OK = {check: "ok" for check in CHECKS}
CONNECTIVITY_FAULT = {**ALL_CHECKS_OK, "connectivity": "fault"}
ALL_NOT_APPLICABLE = {check: "not_applicable" for check in CHECKS}

# Written out independently of workflow.ACTIONS: (from states, to state, who).
OPEN = {"received", "dispositioned", "checking", "isp_escalated", "restored", "report_written"}
EXPECTED = {
    "dispose": ({"received"}, "dispositioned", "head"),
    "assign": (OPEN - {"received"}, None, "head"),
    "start_checks": ({"dispositioned"}, "checking", "assigned"),
    "record_check": ({"checking"}, None, "assigned"),
    "restore": ({"checking", "isp_escalated"}, "restored", "assigned"),
    "escalate_isp": ({"checking"}, "isp_escalated", "assigned"),
    "record_recheck": ({"isp_escalated"}, None, "assigned"),
    "return_to_checking": ({"isp_escalated"}, "checking", "assigned"),
    "write_report": ({"restored"}, "report_written", "assigned"),
    "close": ({"report_written"}, "closed", "assigned"),
    "add_letter": (OPEN, None, "staff"),
}
# Data that satisfies each action's own rules, and the checks recorded so far for it.
VALID = {
    "dispose": ({"technician_ids": [TECHNICIAN_ID]}, {}),
    "assign": ({"technician_ids": [TECHNICIAN_ID]}, {}),
    "start_checks": ({}, {}),
    "record_check": ({"check": "dns", "result": "ok"}, {}),
    "restore": ({}, ALL_CHECKS_OK),
    "escalate_isp": ({"ticket_number": "TLK-1"}, CONNECTIVITY_FAULT),
    "record_recheck": ({"connected": False}, {}),
    "return_to_checking": ({}, {}),
    "write_report": ({"cause": "kabel putus", "actions": "sambung ulang"}, {}),
    "close": ({"reported_to": "Operator Setda"}, {}),
    "add_letter": ({}, {}),
}
ACTORS = {
    "admin": Actor(1, "admin", "admin"),
    "head": Actor(2, "kabid", "head"),
    "assigned technician": Actor(TECHNICIAN_ID, "budi", "technician"),
    "other technician": Actor(8, "sari", "technician"),
    "viewer": Actor(9, "noc", "viewer"),
    "alertmanager": Actor(None, "alertmanager", "system"),
}


def may(who: str, actor_name: str) -> bool:
    if actor_name == "admin":
        return True
    if actor_name in ("viewer", "alertmanager"):
        return False
    if who == "head":
        return actor_name == "head"
    if who == "assigned":
        return actor_name in ("head", "assigned technician")
    return True  # staff


def test_the_expected_table_covers_every_action() -> None:
    assert set(EXPECTED) == set(ACTIONS)


@pytest.mark.parametrize(
    ("action", "state", "actor_name"), list(itertools.product(sorted(EXPECTED), STATES, sorted(ACTORS)))
)
def test_every_action_state_and_role(action: str, state: str, actor_name: str) -> None:
    from_states, to_state, who = EXPECTED[action]
    data, checks = VALID[action]
    case = CaseSnapshot(state=state, assignee_ids=frozenset({TECHNICIAN_ID}), round_checks=checks)
    decision = decide(case, action, ACTORS[actor_name], data)
    if state not in from_states:
        assert not decision.allowed
        assert decision.refusal.code == "state"
        assert f"state {state!r}" in str(decision.refusal)
        assert not decision.forbidden
    elif not may(who, actor_name):
        assert not decision.allowed
        assert decision.forbidden
        assert decision.refusal.code in ("viewer", "head_only", "not_assigned")
        assert str(decision.refusal)
    else:
        assert decision.allowed, decision.refusal
        assert decision.to_state == to_state


def test_closed_cases_take_no_action() -> None:
    closed = CaseSnapshot(state="closed", assignee_ids=frozenset({TECHNICIAN_ID}))
    assert allowed_actions(closed, ACTORS["admin"]) == []


def test_allowed_actions_for_the_pages() -> None:
    case = CaseSnapshot(state="checking", assignee_ids=frozenset({TECHNICIAN_ID}))
    assert allowed_actions(case, ACTORS["assigned technician"]) == [
        "record_check",
        "restore",
        "escalate_isp",
        "add_letter",
    ]
    assert allowed_actions(case, ACTORS["other technician"]) == ["add_letter"]
    assert allowed_actions(case, ACTORS["viewer"]) == []
    assert "assign" in allowed_actions(case, ACTORS["head"])


@pytest.mark.parametrize(
    ("action", "state", "data", "checks", "reason"),
    [
        ("dispose", "received", {"technician_ids": []}, {}, "at least one technician"),
        ("record_check", "checking", {"check": "coffee", "result": "ok"}, {}, "check must be one of"),
        ("record_check", "checking", {"check": "dns", "result": "maybe"}, {}, "result must be one of"),
        (
            "record_check",
            "checking",
            {"check": "connectivity", "result": "not_applicable", "note": "x"},
            {},
            "connectivity may never be not applicable",
        ),
        (
            "record_check",
            "checking",
            {"check": "monitoring", "result": "not_applicable", "note": "x"},
            {},
            "monitoring may never be not applicable",
        ),
        ("record_check", "checking", {"check": "dns", "result": "not_applicable"}, {}, "note saying why"),
        ("restore", "checking", {}, ALL_NOT_APPLICABLE, "monitoring, connectivity may never be"),
        ("escalate_isp", "checking", {"ticket_number": "T"}, ALL_NOT_APPLICABLE, "connectivity may never"),
        ("restore", "checking", {}, {"physical": "ok"}, "monitoring, dns, connectivity not recorded"),
        ("restore", "checking", {}, CONNECTIVITY_FAULT, "contact the ISP"),
        ("escalate_isp", "checking", {"ticket_number": "T"}, {"dns": "ok"}, "not complete"),
        ("escalate_isp", "checking", {"ticket_number": "T"}, ALL_CHECKS_OK, "only when connectivity"),
        ("escalate_isp", "checking", {}, CONNECTIVITY_FAULT, "ticket number"),
        ("record_recheck", "isp_escalated", {"connected": "yes"}, {}, "true or false"),
        ("write_report", "restored", {"cause": "x"}, {}, "needs actions"),
        ("write_report", "restored", {"actions": "x"}, {}, "needs cause"),
        ("close", "report_written", {}, {}, "reported_to"),
    ],
)
def test_data_rules_refuse_with_a_reason(
    action: str, state: str, data: dict, checks: dict, reason: str
) -> None:
    case = CaseSnapshot(state=state, assignee_ids=frozenset({TECHNICIAN_ID}), round_checks=checks)
    decision = decide(case, action, ACTORS["head"], data)
    assert not decision.allowed
    assert reason in str(decision.refusal)


@pytest.mark.parametrize("check", ["physical", "dns"])
def test_physical_and_dns_may_be_not_applicable_with_a_note(check: str) -> None:
    case = CaseSnapshot(state="checking", assignee_ids=frozenset({TECHNICIAN_ID}))
    data = {"check": check, "result": "not_applicable", "note": "only the OPD's own link is down"}
    assert decide(case, "record_check", ACTORS["head"], data).allowed
    skipped = {**ALL_CHECKS_OK, check: "not_applicable"}
    restorable = CaseSnapshot(state="checking", round_checks=skipped)
    assert decide(restorable, "restore", ACTORS["head"]).allowed
    escalable = CaseSnapshot(state="checking", round_checks={**skipped, "connectivity": "fault"})
    assert decide(escalable, "escalate_isp", ACTORS["head"], {"ticket_number": "T"}).allowed


def test_recheck_connected_restores_and_not_connected_stays() -> None:
    case = CaseSnapshot(state="isp_escalated", assignee_ids=frozenset({TECHNICIAN_ID}))
    technician = ACTORS["assigned technician"]
    assert decide(case, "record_recheck", technician, {"connected": True}).to_state == "restored"
    assert decide(case, "record_recheck", technician, {"connected": False}).to_state is None


def test_restore_from_isp_escalated_needs_no_new_checks() -> None:
    case = CaseSnapshot(state="isp_escalated", round_checks=CONNECTIVITY_FAULT)
    assert decide(case, "restore", ACTORS["head"]).allowed


def test_unknown_action() -> None:
    decision = decide(CaseSnapshot(state="received"), "teleport", ACTORS["admin"])
    assert not decision.allowed and "unknown action" in str(decision.refusal)
    assert decision.refusal.code == "unknown_action"
