"""The demo as the README walks it, end to end: ``python -m lab.demo`` comes up, the README's cuts give what
it promises, and SIGTERM leaves nothing behind.

From a cut cable in the lab to a case in the tracker, through the real Prometheus and Alertmanager with the
committed rules' ``for:`` and ``keep_firing_for`` (the demo only scrapes every 5 s and shortens
Alertmanager's group timers, see lab/demo.py), so the times printed are what an operator of the demo sees.
The README's two stories run at once, as two independent faults would: a cut OPD and a cut distribution
switch each become one case and one critical alert, the OPDs behind the switch raise nothing of their own,
and each restore marks its case network restored.

The suite's ``lab`` fixture holds the machine-wide lab lock for the whole session, so the demo runs with
``--caller-holds-lab-lock`` (this test holds it) after the test takes the session's lab down; the test
brings the lab back up for the tests after it.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from lab.network import Lab
from lab.stackrun import Ports, Stack
from tests.support import require_binary

DEMO_START_TIMEOUT = 240.0
BASELINE_TIMEOUT = 120.0  # every lab target answering in the demo's Prometheus
CASE_TIMEOUT = 240.0  # for: 1m + scrapes + evaluation + group_wait, with a wide margin on 2 cores
RESTORE_TIMEOUT = 300.0  # keep_firing_for: 2m + the same
OPD = "dinkes"  # Dinas Kesehatan, behind dist-sw1, as in the README
SWITCH = "dist-sw2"  # the distribution switch of Jl. Sriwijaya, with four OPDs behind it


class _Output:
    """Collects a process's output in a thread, so the test can wait for lines without blocking."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self._thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)


def _wait_for(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(1)
    raise AssertionError(f"no {what} within {timeout:.0f} s")


def _process_table() -> dict[int, tuple[int, str]]:
    """PID → (parent PID, start time in clock ticks) of every live process."""
    table = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        table[int(entry.name)] = (int(fields[1]), fields[19])
    return table


def _descendants(pid: int) -> dict[int, str]:
    """Every live descendant of ``pid`` with its start time (so a reused PID is not mistaken for it)."""
    table = _process_table()
    found: dict[int, str] = {}
    frontier = [pid]
    while frontier:
        parent = frontier.pop()
        for child, (ppid, started) in table.items():
            if ppid == parent and child not in found:
                found[child] = started
                frontier.append(child)
    return found


def _still_alive(processes: dict[int, str]) -> list[int]:
    table = _process_table()
    return [pid for pid, started in processes.items() if pid in table and table[pid][1] == started]


class Demo:
    """The running demo as the test reads it: a :class:`~lab.stackrun.Stack` attached to the run directory
    and the loopback ports its banner prints (the demo started it; the test only asks it things)."""

    def __init__(self, banner: str, run_dir: Path, token: str) -> None:
        def port(label: str, path: str) -> int:
            found = re.search(rf"^\s+{label}\s+http://127\.0\.0\.1:(\d+){path}$", banner, re.MULTILINE)
            assert found, f"the banner prints no {label}:\n{banner}"
            return int(found.group(1))

        ports = Ports(
            exporter=port("Exporter", "/metrics"),
            cases=port("Case tracker", "/"),
            prometheus=port("Prometheus", "/"),
            alertmanager=port("Alertmanager", "/"),
            smtp=0,  # the sinks' ports are not printed, and the test reads the mail from its folder
            telegram=0,
        )
        self.stack = Stack(run_dir, api_token=token, ports=ports)

    def cases_about(self, target: str) -> list[dict[str, Any]]:
        return [case for case in self.stack.cases() if case["target"] == target]

    def targets_up(self) -> set[str]:
        return {sample["metric"]["target"] for sample in self.stack.query("batiknet_target_up == 1")}

    def firing(self, alertname: str) -> set[str]:
        """The targets of the Prometheus alerts of that name now firing."""
        return {
            alert["labels"]["target"]
            for alert in self.stack.prometheus_alerts()
            if alert["labels"]["alertname"] == alertname and alert["state"] == "firing"
        }

    def notified_critical(self) -> list[str]:
        """The target of each critical alert Alertmanager notifies: neither silenced nor inhibited."""
        alerts = self.stack.alertmanager_alerts(active="true", silenced="false", inhibited="false")
        critical = [alert for alert in alerts if alert["labels"].get("severity") == "critical"]
        return sorted(alert["labels"].get("target", "") for alert in critical)


def _walk_the_readme(demo: Demo, lab: Lab, report: Callable[[str], None]) -> None:
    """A cut OPD and a cut switch at once: one case and one critical alert each, nothing for the OPDs
    behind the switch, and each restore marks its case network restored (not closed)."""
    opds = {opd.id for opd in lab.inventory.opds}
    behind_opds = set(lab.inventory.behind(SWITCH)) & opds
    assert len(behind_opds) >= 2, "the lab must have OPDs behind the switch for this test to mean anything"
    assert OPD not in lab.inventory.behind(SWITCH), "the two faults must be independent"
    _wait_for(
        lambda: demo.targets_up() >= set(lab.plan.addresses()),
        BASELINE_TIMEOUT,
        "every lab target up in the demo's Prometheus",
    )
    assert demo.cases_about(OPD) == [] and demo.cases_about(SWITCH) == []
    mails_before = len(demo.stack.mails())  # oldest first

    started = time.monotonic()
    lab.cut(OPD)
    lab.cut(SWITCH)
    try:
        try:
            (opd_case,) = _wait_for(lambda: demo.cases_about(OPD), CASE_TIMEOUT, f"case for {OPD}")
            report(f"cut of {OPD} -> case #{opd_case['id']} in {time.monotonic() - started:.1f} s")
            assert demo.firing("BatiknetOPDUnreachable") == {OPD}
        finally:
            lab.restore(OPD)
        opd_restore_started = time.monotonic()
        (switch_case,) = _wait_for(lambda: demo.cases_about(SWITCH), CASE_TIMEOUT, f"case for {SWITCH}")
        report(f"cut of {SWITCH} -> case #{switch_case['id']} in {time.monotonic() - started:.1f} s")
        # The OPDs behind the switch went dark with it, so their alerts would have fired with the switch's:
        # give them the demo's evaluation interval, group_wait and group_interval twice over before looking.
        time.sleep(20)
        # One critical alert per root cause; the OPD's keeps firing through keep_firing_for.
        assert demo.notified_critical() == sorted([OPD, SWITCH])
        cases = demo.stack.cases()
        notified = {c["target"] for c in cases} | {t for c in cases for t in c.get("affected_targets", [])}
        assert notified.isdisjoint(behind_opds), "an OPD behind the switch reached the case tracker"
        names = behind_opds | {opd.name for opd in lab.inventory.opds if opd.id in behind_opds}
        leaked = [
            mail["Subject"]
            for mail in demo.stack.mails()[mails_before:]
            if any(name in mail.as_string() for name in names)
        ]
        assert leaked == [], "an OPD behind the switch reached the mail sink"
    finally:
        lab.restore(SWITCH)
    switch_restore_started = time.monotonic()

    for case, target, restore_started in (
        (opd_case, OPD, opd_restore_started),
        (switch_case, SWITCH, switch_restore_started),
    ):

        def restored_case(case_id: int = case["id"]) -> dict[str, Any] | None:
            found = demo.stack.get_json("cases", f"/api/v1/cases/{case_id}")
            return found if found["restored_at"] else None

        restored = _wait_for(
            restored_case,
            RESTORE_TIMEOUT,
            f"network restored on the {target} case",
        )
        report(
            f"restore of {target} -> case #{case['id']} network restored in "
            f"{time.monotonic() - restore_started:.1f} s",
        )
        assert restored["closed_at"] is None and restored["state"] != "closed", "restored, not closed"
        assert len(demo.cases_about(target)) == 1, f"one case for {target}, repeats change nothing"
    opd_cases = {case["target"] for case in demo.stack.cases() if case["target"] in opds}
    assert opd_cases == {OPD}, "no other OPD gets a case"


def test_the_demo_walks_the_readme_and_leaves_nothing_behind(
    lab: Lab, tmp_path: Path, record_property: Callable[[str, object], None]
) -> None:
    for binary in ("prometheus", "prometheus-alertmanager"):
        require_binary(binary)
    run_dir = tmp_path / "demo"
    lab.down()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "lab.demo",
            "--free-ports",
            "--caller-holds-lab-lock",
            "--run-dir",
            str(run_dir),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "BATIKNET_API_TOKEN": "demo-test-token"},
    )
    output = _Output(process)
    try:
        _wait_for(
            lambda: "Press Ctrl-C" in output.text or process.poll() is not None, DEMO_START_TIMEOUT, "banner"
        )
        assert process.poll() is None, output.text
        banner = output.text
        demo = Demo(banner, run_dir, "demo-test-token")
        for url in (demo.stack.url("prometheus"), demo.stack.url("alertmanager")):
            assert requests.get(f"{url}/-/ready", timeout=5).ok
        assert f"{run_dir / 'mail'}/" in banner, "the banner shows where the mail lands"
        assert "demo-test-token" in banner, "the token from BATIKNET_API_TOKEN is the one printed"
        for user in ("admin", "kepala", "teknisi1"):
            assert re.search(rf"^\s+{user}\s+\S{{12,}}$", banner, re.MULTILINE), f"no login for {user}"
        for line in (f"cut {OPD} ", f"restore {OPD} ", "cut dist-sw1 "):
            assert line in banner, f"the banner shows no {line.strip()!r}"
        timings: list[str] = []  # printed at the end of the run (tests/conftest.py): what an operator sees
        try:
            _walk_the_readme(demo, lab, timings.append)
        finally:
            record_property("timings", "; ".join(timings))
    finally:
        started_by_demo = _descendants(process.pid)
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
            leftovers = _still_alive(started_by_demo)
            namespaces = subprocess.run(
                ["ip", "netns", "list"], capture_output=True, text=True, check=True
            ).stdout
            lab.up()  # for the tests after this one, as the session fixture promised
    assert process.returncode == 0, output.text
    assert "demo: stopped." in output.text
    assert len(started_by_demo) >= 4, "the exporter, case tracker, Prometheus and Alertmanager ran under it"
    assert leftovers == [], "processes the demo started are still running"
    assert not set(lab.plan.namespaces) & {line.split()[0] for line in namespaces.splitlines() if line}
