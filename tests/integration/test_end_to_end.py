"""From a cut cable in the lab to a case in the tracker, through the real Prometheus and Alertmanager.

The stack runs the committed rules with their committed ``for:`` and ``keep_firing_for`` (only scrape and
evaluation intervals and Alertmanager's group timers are shortened, see tests/stack.py), so the times
printed here are what an operator sees, give or take the production scrape interval.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from lab.network import Lab
from tests.stack import Stack

OPD = "dinkes"  # Dinas Kesehatan, behind dist-sw1
SWITCH = "dist-sw2"  # the distribution switch of Jl. Sriwijaya, with four OPDs behind it
CASE_TIMEOUT = 240.0  # for: 1m + scrapes + evaluation + group_wait, with a wide margin on 2 cores
RESTORE_TIMEOUT = 300.0  # keep_firing_for: 2m + the same


def _cases_about(stack: Stack, target: str) -> list[dict[str, Any]]:
    return [case for case in stack.cases() if case["target"] == target]


def _all_targets_up(stack: Stack, lab: Lab) -> bool:
    up = {sample["metric"]["target"] for sample in stack.query("batiknet_target_up == 1")}
    return up >= set(lab.plan.addresses())


def _report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    """Print past pytest's capture: the timings are part of what this test reports."""
    with capsys.disabled():
        print(f"\nend-to-end: {line}", flush=True)


def _wait_for_healthy_baseline(stack: Stack, lab: Lab) -> None:
    stack.wait_until(
        lambda: _all_targets_up(stack, lab), timeout=90, what="every lab target up in Prometheus"
    )


def test_a_cut_opd_becomes_one_case_and_its_restore_marks_it_restored(
    lab: Lab, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    _wait_for_healthy_baseline(stack, lab)
    assert _cases_about(stack, OPD) == []

    started = time.monotonic()
    lab.cut(OPD)
    try:
        cases = stack.wait_until(
            lambda: _cases_about(stack, OPD), timeout=CASE_TIMEOUT, what=f"case for {OPD}"
        )
        seconds_to_case = time.monotonic() - started
        _report(capsys, f"cut of {OPD} -> case #{cases[0]['id']} in {seconds_to_case:.1f} s")
        firing = [
            alert
            for alert in stack.prometheus_alerts()
            if alert["labels"]["alertname"] == "BatiknetOPDUnreachable" and alert["state"] == "firing"
        ]
        assert {alert["labels"]["target"] for alert in firing} == {OPD}
    finally:
        lab.restore(OPD)

    def restored() -> dict[str, Any] | None:
        case = stack.get_json("cases", f"/api/v1/cases/{cases[0]['id']}")
        return case if case["restored_at"] else None

    restore_started = time.monotonic()
    case = stack.wait_until(restored, timeout=RESTORE_TIMEOUT, what=f"network restored on the {OPD} case")
    seconds_to_restored = time.monotonic() - restore_started
    _report(capsys, f"restore of {OPD} -> case #{case['id']} network restored in {seconds_to_restored:.1f} s")
    assert case["closed_at"] is None and case["state"] != "closed", "restored, not closed"
    assert len(_cases_about(stack, OPD)) == 1
    opd_ids = {opd.id for opd in lab.inventory.opds}
    others = [c for c in stack.cases() if c["target"] in opd_ids and c["target"] != OPD]
    assert others == [], "no other OPD gets a case"


def test_a_cut_switch_gives_one_critical_alert_and_silences_the_opds_behind_it(
    lab: Lab, stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    behind = set(lab.inventory.behind(SWITCH))
    behind_opds = behind & {opd.id for opd in lab.inventory.opds}
    assert len(behind_opds) >= 2, "the lab must have OPDs behind the switch for this test to mean anything"
    _wait_for_healthy_baseline(stack, lab)
    mails_before = len(stack.mails())

    started = time.monotonic()
    lab.cut(SWITCH)
    try:
        cases = stack.wait_until(
            lambda: _cases_about(stack, SWITCH), timeout=CASE_TIMEOUT, what=f"case for {SWITCH}"
        )
        _report(capsys, f"cut of {SWITCH} -> case #{cases[0]['id']} in {time.monotonic() - started:.1f} s")
        # The OPDs behind the switch stop answering at the same moment; give their alerts every chance to
        # fire and be notified (several evaluation and group intervals) before looking.
        time.sleep(20)

        unmuted = stack.alertmanager_alerts(active="true", silenced="false", inhibited="false")
        critical = [alert for alert in unmuted if alert["labels"].get("severity") == "critical"]
        assert [alert["labels"].get("target") for alert in critical] == [SWITCH], critical

        notified_targets = {c["target"] for c in stack.cases()} | {
            target for c in stack.cases() for target in c.get("affected_targets", [])
        }
        assert notified_targets.isdisjoint(behind_opds), (
            "an OPD notification behind the switch reached the webhook"
        )

        new_mails = stack.mails()[mails_before:]
        names = {opd.id for opd in lab.inventory.opds if opd.id in behind_opds} | {
            opd.name for opd in lab.inventory.opds if opd.id in behind_opds
        }
        leaked = [mail["Subject"] for mail in new_mails if any(name in mail.as_string() for name in names)]
        assert leaked == [], "an OPD notification behind the switch reached the mail sink"
    finally:
        lab.restore(SWITCH)
