"""Every expression proven: each PromQL expression of every rule and of every dashboard panel and variable
returns data from a real Prometheus scraping the exporter over the lab and the case tracker.

Some expressions only have data while something is wrong (a down OPD, a late case, a stopped exporter).
The test makes each of those conditions real rather than excusing the expression: it runs the stack through
phases (all well; faults everywhere in the lab; a restored OPD; a frozen tracker; its applier frozen, and
meanwhile a refused reload and a frozen exporter; a damaged spool file; Telegram refusing) and after each
phase evaluates every expression not yet proven, until nothing new comes for a few scrapes. At the end
each one must have returned at least one sample that is not NaN in some phase.

The faults: an OPD cut (its own outage, an alert, a case; its switch port goes dark too but must not
alert, as the port's description names the OPD), a PC unplugged from a switch port (a port in use losing
link), a distribution switch cut (a core device down, the OPDs behind it unreachable), an ISP uplink cut,
one DNS server stopped and the other answering wrongly, the core router's snmpd paused (answers ping, not
SNMP), an OPD answering one echo in three 200 ms late (loss and latency: tests/rules/slow_echo.py, as the
lab's kernel has no netem) and an OPD's letter received two weeks ago (an overdue case). A broken inventory
is reloaded too (the exporter refuses it and keeps probing), a damaged file is left in the tracker's spool
(set aside), and Telegram refuses the tracker's messages.
While they last,
the test also checks the outcome issue 4 asks of a core outage: nothing behind the cut switch or uplink
fires, gets a case or an e-mail, while the switch itself does.
"""

from __future__ import annotations

import json
import math
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import requests
import yaml

from lab.stackrun import LAB_INVENTORY
from tests.stack import Stack, Timing, start_stack
from tests.support import applier_pids

REPO = Path(__file__).resolve().parents[2]
SLOW_ECHO = Path(__file__).resolve().parent / "slow_echo.py"

# Dashboard variables as Grafana would fill them for this stack (scrapes every 2 s).
VARIABLES = {
    "$__rate_interval": "20s",
    "$__range": "1h",
    "$opd": "setda",
    "$device": "dist-sw1",
}
CUT_OPD = "setda"  # its own outage: down, an alert, a case, then restored
CUT_SWITCH = "dist-sw2"  # a core device down, the OPDs behind it unreachable
CUT_ISP = "isp-metro"
FAILED_DNS, WRONG_DNS = "dns2", "dns1"
SNMP_PAUSED = "core-router"  # not dist-sw1: its ports must stay visible
DARK_PORT = ("dist-sw1", "access1")  # a PC unplugged: a port in use loses link, no target behind it
SLOW_OPD = "bappeda"
LETTER_OPD = "bpkad"
MESSAGE_OPD = "dinkes"  # a letter opening a case of its own (nothing open behind dist-sw1 then)
FAULT_ALERTS = {
    ("BatiknetOPDUnreachable", CUT_OPD),
    ("BatiknetCoreDeviceDown", CUT_SWITCH),
    ("BatiknetISPUplinkDown", CUT_ISP),
    ("BatiknetDNSDown", FAILED_DNS),
    ("BatiknetDNSWrongAnswer", WRONG_DNS),
    ("BatiknetSNMPUnreachable", SNMP_PAUSED),
    ("BatiknetCoreInterfaceDown", DARK_PORT[0]),
    ("BatiknetOPDPacketLoss", SLOW_OPD),
    ("BatiknetOPDHighLatency", SLOW_OPD),
    ("BatiknetCaseOverdue", "batiknet-cases"),
}


def rule_expressions() -> dict[str, str]:
    found = {}
    for path in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]:
            for index, rule in enumerate(group["rules"]):
                name = rule.get("record") or rule["alert"]
                found[f"{path.name}: {group['name']}[{index}] {name}"] = rule["expr"]
    return found


def substitute(expr: str) -> str:
    for variable, value in VARIABLES.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, f"a dashboard variable the test does not fill: {expr}"
    return expr


def variable_expression(query: str) -> str:
    """The PromQL behind a Grafana query variable (label_values(...) or query_result(...))."""
    if query.startswith("label_values("):
        return query.removeprefix("label_values(").rsplit(",", 1)[0]
    if query.startswith("query_result("):
        return query.removeprefix("query_result(").removesuffix(")")
    return query


def dashboard_expressions() -> dict[str, str]:
    found = {}
    for path in sorted((REPO / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text(encoding="utf-8"))
        for panel in board["panels"]:
            for target in panel.get("targets", []):
                found[f"{path.name}: {panel['title']} [{target['refId']}]"] = substitute(target["expr"])
        for variable in board["templating"]["list"]:
            if variable["type"] == "query":
                query = (
                    variable["query"]["query"] if isinstance(variable["query"], dict) else variable["query"]
                )
                found[f"{path.name}: variable ${variable['name']}"] = substitute(variable_expression(query))
    return found


def has_data(stack: Stack, expr: str) -> bool:
    return any(not math.isnan(float(sample["value"][1])) for sample in stack.query(expr))


class Proof:
    """Which expressions have returned data so far, and in which phase."""

    def __init__(self, expressions: dict[str, str]) -> None:
        self.expressions = expressions
        self.proven: dict[str, str] = {}
        self.phases: list[tuple[str, float]] = []  # each phase and the seconds from the previous one's end
        self._phase_ended = time.monotonic()

    def check(self, stack: Stack, phase: str) -> None:
        for name, expr in self.expressions.items():
            if name not in self.proven and has_data(stack, expr):
                self.proven[name] = phase

    def settle(self, stack: Stack, phase: str, quiet: float = 8.0, longest: float = 30.0) -> None:
        """Check again every few seconds until nothing new has been proven for ``quiet`` seconds (rates
        need a few scrapes of the new state: four at the stack's 2 s), at most for ``longest``."""
        started = last_proof = time.monotonic()
        while True:
            before = len(self.proven)
            self.check(stack, phase)
            now = time.monotonic()
            if len(self.proven) > before:
                last_proof = now
            if not self.unproven() or now - last_proof >= quiet or now - started >= longest:
                self.phases.append((phase, now - self._phase_ended))
                self._phase_ended = now
                return
            time.sleep(2)

    def unproven(self) -> dict[str, str]:
        return {name: expr for name, expr in self.expressions.items() if name not in self.proven}


def firing(stack: Stack) -> set[tuple[str, str]]:
    return {
        (alert["labels"]["alertname"], alert["labels"].get("target", ""))
        for alert in stack.prometheus_alerts()
        if alert["state"] == "firing"
    }


def prove_frozen(stack: Stack, proof: Proof, service: str, job: str) -> None:
    """The service's processes stopped (SIGSTOP) until Prometheus finds them unscrapable and the proof has
    settled, then let go on."""
    group = stack.pids()[service]
    os.killpg(group, signal.SIGSTOP)
    try:
        stack.wait_until(
            lambda: has_data(stack, f'up{{job="{job}"}} == 0'), timeout=60, what=f"{job} unscrapable"
        )
        proof.settle(stack, f"{service} frozen")
    finally:
        os.killpg(group, signal.SIGCONT)


def pids_in_namespace(namespace: str, program: str) -> list[int]:
    listed = subprocess.run(["ip", "netns", "pids", namespace], capture_output=True, text=True, check=True)
    pids = [int(pid) for pid in listed.stdout.split()]
    return [pid for pid in pids if Path(f"/proc/{pid}/comm").read_text().strip() == program]


def netns_sysctl(namespace: str, setting: str) -> None:
    subprocess.run(["ip", "netns", "exec", namespace, "sysctl", "-qw", setting], check=True)


def seed_overdue_letter(stack: Stack, run_dir: Path) -> str:
    """A head and a technician, and a letter from an OPD received two weeks ago and never handled: past
    both deadlines. Returns the head's personal API token."""
    password = run_dir / "head-password"
    password.write_text("kata-sandi-uji-kepala\n", encoding="utf-8")
    stack.cases_command("users", "add", "kepala", "--role", "head", "--password-file", str(password))
    stack.cases_command("users", "add", "teknisi", "--role", "technician", "--password-file", str(password))
    token = stack.cases_command("users", "token", "kepala").strip()
    received = datetime.now(UTC) - timedelta(days=14)
    response = requests.post(
        stack.url("cases") + "/api/v1/cases",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "opd": LETTER_OPD,
            "letter_number": "005/UJI/2026",
            "letter_date": (date.today() - timedelta(days=15)).isoformat(),
            "reporter": "Operator BPKAD",
            "description": "Jaringan lambat sejak dua minggu",
            "received_at": received.isoformat(),
        },
        timeout=10,
    )
    assert response.status_code == 201, response.text
    return token


def complete_case(stack: Stack, token: str, case_id: int) -> None:
    """The head carries a case the monitoring saw restored through the SOP to its completion, which the
    service-level figures count (batiknet_cases_completed_total)."""

    def act(action: str, **body: object) -> None:
        answer = requests.post(
            f"{stack.url('cases')}/api/v1/cases/{case_id}/{action}",
            headers={"Authorization": f"Bearer {token}"},
            json=body,
            timeout=10,
        )
        assert answer.status_code == 200, f"{action}: {answer.text}"

    act("dispose", technicians=["teknisi"])
    act("start-checks")
    for check in ("physical", "monitoring", "dns", "connectivity"):
        act("checks", check=check, result="ok")
    act("restore")
    act("report", cause="Jalur ke OPD diputus untuk pengujian", actions="Jalur disambung kembali")
    act("close", reported_to="Operator OPD")


@pytest.fixture(scope="module")
def proving_stack(lab: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Stack, Path]]:
    # Rule groups every 2 s (their own intervals dropped) and every `for` a twentieth as long (6 s at
    # least), so that alerts fire within the test; the expressions are the committed ones. Not shorter:
    # the restored OPD's loss over 5 minutes, its outage included, must not fire (for: 5m -> 15 s) before
    # its outage has resolved (keep_firing_for: 2m -> 6 s) and restored its case.
    run_dir = tmp_path_factory.mktemp("proving-stack")
    # A copy of the lab's inventory with its SNMP secret files (referenced relatively), so that a phase can
    # break it and reload. Not in run_dir itself: the stack keeps its own secrets in run_dir/secrets.
    inventory = run_dir / "inventory" / "inventory.yml"
    shutil.copytree(LAB_INVENTORY.parent / "secrets", inventory.parent / "secrets")
    shutil.copyfile(LAB_INVENTORY, inventory)
    stack = start_stack(run_dir, timing=Timing(duration_scale=0.05), inventory=inventory)
    try:
        yield stack, run_dir
    finally:
        stack.stop()


def test_every_rule_and_panel_expression_returns_data(
    lab, proving_stack, record_property: Callable[[str, object], None]
) -> None:
    stack, run_dir = proving_stack
    proof = Proof({**rule_expressions(), **dashboard_expressions()})
    slow_namespace = lab.namespace(SLOW_OPD)
    snmp_namespace = lab.namespace(SNMP_PAUSED)
    responder: subprocess.Popen[bytes] | None = None
    paused_snmpd: list[int] = []
    ports_namespace = lab.node(DARK_PORT[0]).ports_namespace
    try:
        # 1. All well: every target answers, the tracker is scraped, the recording rules have run.
        stack.wait_until(
            lambda: (
                has_data(stack, 'count(batiknet_target_status{status="up"} == 1) >= 20')
                and has_data(stack, 'up{job="batiknet-cases"} == 1')
                and has_data(stack, "network:batiknet_availability:ratio_30d")
            ),
            timeout=120,
            what="the lab up and every rule group evaluated",
        )
        proof.settle(stack, "healthy")

        # 2. Faults everywhere at once.
        head_token = seed_overdue_letter(stack, run_dir)
        netns_sysctl(slow_namespace, "net.ipv4.icmp_echo_ignore_all=1")
        responder = subprocess.Popen(
            ["ip", "netns", "exec", slow_namespace, sys.executable, str(SLOW_ECHO),
             "--delay", "0.2", "--answer-every", "3"],
        )  # fmt: skip
        paused_snmpd = pids_in_namespace(snmp_namespace, "snmpd")
        assert paused_snmpd, f"no snmpd in {snmp_namespace}"
        for pid in paused_snmpd:
            os.kill(pid, signal.SIGSTOP)
        for target in (CUT_OPD, CUT_SWITCH, CUT_ISP):
            lab.cut(target)
        subprocess.run(["ip", "-n", ports_namespace, "link", "set", DARK_PORT[1], "down"], check=True)
        lab.dns_fail(FAILED_DNS)
        lab.dns_wrong(WRONG_DNS)
        stack.wait_until(
            lambda: (
                firing(stack) >= FAULT_ALERTS
                and any(case["target"] == CUT_OPD for case in stack.cases())
                # net-snmp answers hrProcessorLoad once it has run a minute: on a lab just brought up,
                # the switch's CPU comes while the faults' alerts wait out their `for`.
                and has_data(stack, f'batiknet_device_cpu_usage_ratio{{device="{VARIABLES["$device"]}"}}')
            ),
            timeout=300,
            what=f"every fault alert firing, a case for {CUT_OPD} and the switch's CPU read",
        )
        proof.settle(stack, "faults")

        # Behind the cut switch and uplink all is unreachable: no alert, case or e-mail of its own.
        def mail_bodies() -> list[str]:
            return [mail.get_body(preferencelist=("plain",)).get_content() for mail in stack.mails()]

        stack.wait_until(
            lambda: any(f"Target: {CUT_SWITCH} |" in body for body in mail_bodies()),
            timeout=60,
            what=f"the e-mail about {CUT_SWITCH}",
        )
        behind = set(lab.inventory.behind(CUT_SWITCH)) | set(lab.inventory.behind(CUT_ISP))
        assert not {target for _, target in firing(stack)} & behind
        assert not {case["target"] for case in stack.cases()} & behind
        assert not [t for t in behind if any(f"Target: {t} |" in body for body in mail_bodies())]
        # The switch port towards the cut OPD is described with the OPD's name: the OPD's alert covers it.
        dark_ports = {
            (alert["labels"]["device"], alert["labels"]["interface"])
            for alert in stack.prometheus_alerts()
            if alert["labels"]["alertname"] == "BatiknetCoreInterfaceDown"
        }
        assert DARK_PORT in dark_ports
        assert ("dist-sw1", f"dl-{CUT_OPD}") not in dark_ports

        # 3. The cut OPD comes back: its case is restored and completed, the service-level figures have both.
        lab.restore(CUT_OPD)
        restored = stack.wait_until(
            lambda: [c for c in stack.cases() if c["target"] == CUT_OPD and c["restored_at"]],
            timeout=120,
            what=f"the case of {CUT_OPD} restored",
        )
        complete_case(stack, head_token, restored[0]["id"])
        stack.wait_until(
            lambda: (
                has_data(stack, "batiknet_cases_restored_total")
                and has_data(stack, "batiknet_cases_completed_total")
            ),
            timeout=30,
            what="a restore and a completion counted",
        )
        proof.settle(stack, "restored")

        # 4. The tracker frozen: Prometheus cannot scrape it.
        prove_frozen(stack, proof, "cases", "batiknet-cases")

        # 5. The tracker's applier frozen: a delivery is answered and waits in the spool. The alert wants it
        # waiting over a minute; the exporter's own faults (6 and 7) are proven meanwhile.
        (applier,) = applier_pids(stack.pids()["cases"])
        os.kill(applier, signal.SIGSTOP)
        try:
            delivered = requests.post(
                stack.url("cases") + "/api/v1/alerts",
                data=(REPO / "tests" / "tracker" / "payloads" / "resolved.json").read_bytes(),
                headers={"Authorization": f"Bearer {stack.api_token}", "Content-Type": "application/json"},
                timeout=10,
            )
            assert delivered.status_code == 200, delivered.text

            # 6. A broken inventory reloaded: refused, the running one stays and the failure is reported.
            inventory = stack.inventory
            good = inventory.read_bytes()
            inventory.write_text("opds: [this is: not, valid\n", encoding="utf-8")
            os.killpg(stack.pids()["exporter"], signal.SIGHUP)
            try:
                stack.wait_until(
                    lambda: has_data(stack, "batiknet_exporter_config_last_reload_successful == 0"),
                    timeout=60,
                    what="the refused reload reported",
                )
                assert has_data(stack, "count(batiknet_target_info) >= 20")  # the running inventory, whole
                proof.settle(stack, "reload refused")
            finally:
                inventory.write_bytes(good)
                os.killpg(stack.pids()["exporter"], signal.SIGHUP)
            stack.wait_until(
                lambda: has_data(stack, "batiknet_exporter_config_last_reload_successful == 1"),
                timeout=60,
                what="the repaired inventory reloaded",
            )

            # 7. The exporter frozen: Prometheus cannot scrape it.
            prove_frozen(stack, proof, "exporter", "batiknet-exporter")

            stack.wait_until(
                lambda: has_data(stack, "batiknet_notifications_apply_lag_seconds > 60"),
                timeout=150,
                what="the delivery waiting in the spool for over a minute",
            )
            proof.settle(stack, "applier frozen")
        finally:
            os.kill(applier, signal.SIGCONT)

        # 8. A damaged file in the spool (a disk or an older version left it): set aside at once, holding up
        # nothing, and the NOC is told.
        spool = stack.run_dir / "cases-instance" / "spool"
        damaged = spool / f"{time.time_ns() // 1000:017d}-000000000-{secrets.token_hex(8)}.json"
        damaged.with_suffix(".partial").write_bytes(b'{"version": "4", "receiver": "\xff\xfe"}')
        damaged.with_suffix(".partial").rename(damaged)
        stack.wait_until(
            lambda: ("BatiknetCaseTrackerNotificationsSetAside", "batiknet-cases") in firing(stack),
            timeout=60,
            what="the damaged spool file set aside and alerted on",
        )
        stack.wait_until(  # nothing held up behind it
            lambda: has_data(stack, "batiknet_notifications_queued == 0"),
            timeout=30,
            what="the spool emptied past the damaged file",
        )
        proof.settle(stack, "spool file damaged")

        # 9. Telegram refuses: the tracker's message about a new case waits for another attempt.
        stack.refuse_telegram(*[502] * 1000)
        try:
            response = requests.post(
                stack.url("cases") + "/api/v1/cases",
                headers={"Authorization": f"Bearer {head_token}"},
                json={
                    "opd": MESSAGE_OPD,
                    "letter_number": "005/PESAN/2026",
                    "letter_date": date.today().isoformat(),
                    "reporter": "Operator Dinkes",
                    "description": "Jaringan mati",
                },
                timeout=10,
            )
            assert response.status_code == 201 and response.json()["source"] == "letter", response.text
            stack.wait_until(
                lambda: has_data(stack, "batiknet_outbox_retrying > 0"),
                timeout=60,
                what="the tracker's message to the chat waiting for another attempt",
            )
            proof.settle(stack, "messages refused")
        finally:
            stack.refuse_telegram()
    finally:
        subprocess.run(["ip", "-n", ports_namespace, "link", "set", DARK_PORT[1], "up"], check=False)
        for pid in paused_snmpd:
            os.kill(pid, signal.SIGCONT)
        if responder is not None:
            responder.terminate()
            responder.wait(10)
        netns_sysctl(slow_namespace, "net.ipv4.icmp_echo_ignore_all=0")
        lab.reset()

    # Printed at the end of the run (tests/conftest.py): where the test's time goes, to keep it in view.
    record_property("timings", ", ".join(f"{phase} {seconds:.0f} s" for phase, seconds in proof.phases))
    unproven = proof.unproven()
    assert not unproven, "expressions that never returned data:\n" + "\n".join(
        f"- {name}: {expr}" for name, expr in unproven.items()
    )
