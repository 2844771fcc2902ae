"""alertmanager/alertmanager.yml: checked by amtool, every routing decision proven with
``amtool config routes test --verify.receivers``, and the real Alertmanager shown delivering: e-mail to a
local SMTP sink, the case tracker's webhook with the bearer token read from a credentials file, Telegram,
the Watchdog heartbeat, and inhibition (a dead switch mutes the OPDs behind it; critical mutes warning).

The real Alertmanager runs on loopback with the committed file rendered by lab.stackconfig (the same
rendering the demo uses): every address points at sinks started here.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import yaml
from aiosmtpd.controller import Controller

from lab import stackconfig
from tests.support import require_binary

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "alertmanager" / "alertmanager.yml"
ALERT_RULES = REPO / "prometheus" / "rules" / "alerts.yml"
LOOPBACK = "127.0.0.1"
T = TypeVar("T")

# Where each alert of the rule files must go. Every alert rule must appear here (test below).
EXPECTED_RECEIVER = {
    "BatiknetOPDUnreachable": "gangguan-kritis",
    "BatiknetCoreDeviceDown": "gangguan-kritis",
    "BatiknetISPUplinkDown": "gangguan-kritis",
    "BatiknetDNSDown": "gangguan-kritis",
    "BatiknetOPDPacketLoss": "gangguan-peringatan",
    "BatiknetOPDHighLatency": "gangguan-peringatan",
    "BatiknetDNSWrongAnswer": "gangguan-peringatan",
    "BatiknetCoreInterfaceDown": "pemantauan-perangkat",
    "BatiknetSNMPUnreachable": "pemantauan-perangkat",
    "BatiknetProbesStale": "operasional-noc",
    "BatiknetExporterReloadFailed": "operasional-noc",
    "BatiknetCaseTrackerDown": "operasional-noc",
    "BatiknetCaseTrackerSpoolStuck": "operasional-noc",
    "BatiknetCaseTrackerMessagesFailing": "operasional-noc",
    "BatiknetCaseTrackerNotificationsSetAside": "operasional-noc",
    "BatiknetCaseOverdue": "operasional-noc",
    "Watchdog": "heartbeat",
}


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("amtool")
    return subprocess.run([binary, *args], capture_output=True, text=True, check=False)


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(ALERT_RULES.read_text(encoding="utf-8"))["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def test_config_is_valid() -> None:
    result = amtool("check-config", str(CONFIG))
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_has_an_expected_route() -> None:
    assert {rule["alert"] for rule in alert_rules()} == set(EXPECTED_RECEIVER)


@pytest.mark.parametrize(
    "rule", alert_rules(), ids=lambda rule: f"{rule['alert']}-{rule['labels']['severity']}"
)
def test_alert_routes_to_its_receiver(rule: dict[str, Any]) -> None:
    # the labels the rule itself sets, plus a target for rules whose target comes from the series
    labels = {"target": "setda", **rule["labels"], "alertname": rule["alert"]}
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        f"--verify.receivers={EXPECTED_RECEIVER[rule['alert']]}",
        *(f"{name}={value}" for name, value in labels.items()),
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_unknown_alert_falls_back_to_the_noc_receiver() -> None:
    result = amtool(
        "config",
        "routes",
        "test",
        f"--config.file={CONFIG}",
        "--verify.receivers=operasional-noc",
        "alertname=SomethingNew",
        "severity=info",
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the real Alertmanager --------------------------------------------------------------------------


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class HTTPSink:
    """Records every POST (the case tracker's webhook and heartbeat, Telegram's API)."""

    requests: list[Request] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def start(self) -> str:
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length) or b"null")
                sink.requests.append(Request(self.path, dict(self.headers.items()), body))
                # Telegram's sendMessage answer: Alertmanager 0.25 crashes when "chat" is missing.
                answer = b'{"ok": true, "result": {"message_id": 1, "chat": {"id": 1}}}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"{LOOPBACK}:{self.server.server_address[1]}"

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def posted(self, path: str) -> list[Request]:
        return [request for request in self.requests if request.path == path]


class MailSink:
    """aiosmtpd handler keeping each message."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 OK"


@dataclass
class RunningAlertmanager:
    url: str
    token: str
    mail: MailSink
    http: HTTPSink

    def post(self, *alerts: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        payload = [
            {
                "labels": alert,
                "annotations": {"summary": f"ringkasan {alert['alertname']} {alert.get('target', '')}"},
                "startsAt": now.isoformat(),
                "endsAt": (now + timedelta(minutes=10)).isoformat(),
            }
            for alert in alerts
        ]
        requests.post(f"{self.url}/api/v2/alerts", json=payload, timeout=5).raise_for_status()

    def alerts(self) -> list[dict[str, Any]]:
        return requests.get(f"{self.url}/api/v2/alerts", timeout=5).json()

    def webhook_targets(self) -> set[str]:
        return {
            alert["labels"].get("target", "")
            for request in self.http.posted("/api/v1/alerts")
            for alert in request.body["alerts"]
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def wait_for(condition: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:.0f} s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningAlertmanager]:
    binary = require_binary("prometheus-alertmanager")
    run_dir = tmp_path_factory.mktemp("alertmanager")
    mail = MailSink()
    smtp = Controller(mail, hostname=LOOPBACK, port=free_port())
    smtp.start()
    http = HTTPSink()
    http_address = http.start()
    port = free_port()
    endpoints = stackconfig.Endpoints(
        exporter=f"{LOOPBACK}:{free_port()}",
        cases=http_address,
        prometheus=f"{LOOPBACK}:{free_port()}",
        alertmanager=f"{LOOPBACK}:{port}",
        smtp=f"{LOOPBACK}:{smtp.port}",
        telegram=http_address,
    )
    secrets_dir = run_dir / "secrets"
    secrets_dir.mkdir()
    token = "token-read-from-the-credentials-file"
    committed = yaml.safe_load(CONFIG.read_text(encoding="utf-8"))
    rendered = stackconfig.render_alertmanager_config(
        committed,
        endpoints=endpoints,
        secrets_dir=str(secrets_dir),
        timing=stackconfig.Timing(group_wait="1s", group_interval="2s"),
    )
    assert stackconfig.non_loopback_addresses(rendered) == []
    for name in stackconfig.secret_file_names(rendered):
        (secrets_dir / name).write_text(token + "\n", encoding="utf-8")
    config_file = run_dir / "alertmanager.yml"
    config_file.write_text(yaml.safe_dump(rendered, sort_keys=False, allow_unicode=True), encoding="utf-8")
    log = (run_dir / "alertmanager.log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.path={run_dir / 'data'}",
            f"--web.listen-address={LOOPBACK}:{port}",
            "--cluster.listen-address=",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://{LOOPBACK}:{port}"

    def ready() -> bool:
        assert process.poll() is None, (run_dir / "alertmanager.log").read_text()
        try:
            return requests.get(f"{url}/-/ready", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        wait_for(ready, "ready Alertmanager")
        yield RunningAlertmanager(url=url, token=token, mail=mail, http=http)
    finally:
        process.terminate()
        process.wait(10)
        log.close()
        smtp.stop()
        http.stop()


def opd_alert(target: str, segment: str, **extra: str) -> dict[str, str]:
    return {
        "alertname": "BatiknetOPDUnreachable",
        "severity": "critical",
        "target": target,
        "opd": f"OPD {target}",
        "kind": "opd",
        "upstream": segment,
        "segment": segment,
        "isp": "isp-telkom",
        "kecamatan": "Pekalongan Barat",
        **extra,
    }


def test_critical_outage_reaches_mail_webhook_and_telegram(alertmanager: RunningAlertmanager) -> None:
    alertmanager.post(opd_alert("mail-opd", "sw-mail"))

    def mail_for_target() -> list[EmailMessage]:
        return [m for m in alertmanager.mail.messages if "BatiknetOPDUnreachable mail-opd" in m["Subject"]]

    message = wait_for(mail_for_target, "e-mail in the SMTP sink")[0]
    assert message["To"] == "teknisi@batiknet.example"
    assert message["Subject"].startswith("[GANGGUAN] ")
    assert "Target: mail-opd | Tingkat: critical" in message.get_body(preferencelist=("plain",)).get_content()

    def hooks_for_target() -> list[Request]:
        hooks = alertmanager.http.posted("/api/v1/alerts")
        return [r for r in hooks if r.body["groupLabels"] == {"target": "mail-opd"}]

    hooks = wait_for(hooks_for_target, "webhook delivery")
    # the bearer token is the content of the credentials file, not anything written in the config
    assert hooks[0].headers["Authorization"] == f"Bearer {alertmanager.token}"
    assert hooks[0].body["version"] == "4"
    assert [alert["labels"]["target"] for alert in hooks[0].body["alerts"]] == ["mail-opd"]

    def telegram_for_target() -> list[Request]:
        messages = alertmanager.http.posted("/bot@TELEGRAM_BOT_TOKEN@/sendMessage")
        return [r for r in messages if "mail-opd" in r.body["text"]]

    telegram = wait_for(telegram_for_target, "Telegram message")
    assert telegram[0].body["chat_id"] == "-1001000000000"


def test_watchdog_is_a_heartbeat_with_the_bearer_token(alertmanager: RunningAlertmanager) -> None:
    alertmanager.post({"alertname": "Watchdog", "severity": "info", "target": "alertmanager"})
    beats = wait_for(lambda: alertmanager.http.posted("/api/v1/heartbeat"), "heartbeat")
    assert beats[0].headers["Authorization"] == f"Bearer {alertmanager.token}"
    assert beats[0].body["commonLabels"]["alertname"] == "Watchdog"
    case_alerts = [a for r in alertmanager.http.posted("/api/v1/alerts") for a in r.body["alerts"]]
    assert all(alert["labels"]["alertname"] != "Watchdog" for alert in case_alerts)


def test_dead_switch_mutes_the_opds_behind_it_only(alertmanager: RunningAlertmanager) -> None:
    switch = {
        "alertname": "BatiknetCoreDeviceDown",
        "severity": "critical",
        "target": "sw-cut",
        "kind": "switch",
        "upstream": "core-router",
        "segment": "sw-cut",
        "opd": "none",
    }
    behind = opd_alert("behind-cut", "sw-cut")
    elsewhere = opd_alert("elsewhere", "sw-other")
    alertmanager.post(switch, behind, elsewhere)

    wait_for(lambda: {"sw-cut", "elsewhere"} <= alertmanager.webhook_targets(), "webhook for switch")
    state = {alert["labels"]["target"]: alert["status"] for alert in alertmanager.alerts()}
    assert state["behind-cut"]["state"] == "suppressed"
    assert state["behind-cut"]["inhibitedBy"], "muted by inhibition, not by a silence"
    assert state["elsewhere"]["state"] == "active"
    # give a wrongly routed notification time to arrive before asserting it never does
    time.sleep(3)
    assert "behind-cut" not in alertmanager.webhook_targets()
    assert not [m for m in alertmanager.mail.messages if "behind-cut" in m["Subject"]]


def test_critical_mutes_warning_of_the_same_target(alertmanager: RunningAlertmanager) -> None:
    loss = {**opd_alert("lossy", "sw-loss"), "alertname": "BatiknetOPDPacketLoss", "severity": "warning"}
    other_loss = {**loss, "target": "lossy-other"}
    alertmanager.post(opd_alert("lossy", "sw-loss"), loss, other_loss)
    wait_for(lambda: "lossy-other" in alertmanager.webhook_targets(), "warning of another target")
    by_key = {(a["labels"]["alertname"], a["labels"]["target"]): a["status"] for a in alertmanager.alerts()}
    assert by_key[("BatiknetOPDPacketLoss", "lossy")]["state"] == "suppressed"
    assert by_key[("BatiknetOPDPacketLoss", "lossy-other")]["state"] == "active"
    assert by_key[("BatiknetOPDUnreachable", "lossy")]["state"] == "active"
