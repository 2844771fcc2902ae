"""``python -m lab.demo`` as a user runs it: up, a cut gives exactly one case, SIGTERM leaves nothing behind.

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
from pathlib import Path

import requests

from lab.network import Lab
from tests.support import require_binary

DEMO_START_TIMEOUT = 240.0
CASE_TIMEOUT = 240.0
OPD = "kec-utara"


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


def test_demo_comes_up_turns_a_cut_into_one_case_and_cleans_up(lab: Lab, tmp_path: Path) -> None:
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
        cases_url = re.search(r"Case tracker\s+(http://127\.0\.0\.1:\d+)/", banner).group(1)  # type: ignore[union-attr]
        for label in ("Prometheus", "Alertmanager"):
            url = re.search(rf"{label}\s+(http://127\.0\.0\.1:\d+)/", banner).group(1)  # type: ignore[union-attr]
            assert requests.get(f"{url}/-/ready", timeout=5).ok
        assert "demo-test-token" in banner, "the token from BATIKNET_API_TOKEN is the one printed"
        for user in ("admin", "kepala", "teknisi1"):
            assert re.search(rf"^\s+{user}\s+\S{{12,}}$", banner, re.MULTILINE), f"no login for {user}"

        headers = {"Authorization": "Bearer demo-test-token"}

        def cases_about(target: str) -> list[dict]:
            answer = requests.get(f"{cases_url}/api/v1/cases", headers=headers, timeout=10).json()
            cases = answer["cases"] if isinstance(answer, dict) else answer
            return [case for case in cases if case["target"] == target]

        assert cases_about(OPD) == []
        lab.cut(OPD)
        try:
            _wait_for(lambda: cases_about(OPD), CASE_TIMEOUT, f"case for {OPD}")
            time.sleep(10)  # a duplicate would come with the next group interval
            assert len(cases_about(OPD)) == 1
        finally:
            lab.restore(OPD)
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
