"""Real Alertmanagers (an HA pair, unclustered: the worst case) deliver to the real tracker server.

Both Alertmanagers get the same alert through their API and each posts it to ``batiknet-cases serve`` on
loopback with the bearer token from a credentials file: one case, both deliveries stored, one of them
deduplicated. Ending the alert makes both send the resolved, and the case records its recovery.
Everything listens on 127.0.0.1 and is stopped by PID.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support import require_binary
from tests.tracker.conftest import API_TOKEN, LAB_INVENTORY, METRICS_TOKEN, metric_value

pytestmark = pytest.mark.system

HEADERS = {"Authorization": f"Bearer {API_TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition: Callable[[], Any], timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = condition()
        except requests.ConnectionError:
            result = None
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def stop(process: subprocess.Popen[bytes]) -> None:
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture
def tracker_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    env = {
        **os.environ,
        "BATIKNET_DATABASE_URL": database_url,
        "BATIKNET_API_TOKEN": API_TOKEN,
        "BATIKNET_METRICS_TOKEN": METRICS_TOKEN,
        "BATIKNET_INVENTORY": str(LAB_INVENTORY),
        "BATIKNET_SECRET_KEY": "e2e",
        "BATIKNET_INSTANCE_PATH": str(tmp_path / "instance"),
    }
    cli = [sys.executable, "-m", "alert_webhook.cli"]
    subprocess.run([*cli, "db", "upgrade"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [*cli, "serve", "--listen", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{url}/healthz", timeout=1).ok, 30, "the tracker")
        yield url
    finally:
        stop(server)


@pytest.fixture
def alertmanagers(tracker_url: str, tmp_path: Path) -> Iterator[list[str]]:
    binary = require_binary("prometheus-alertmanager")
    token_file = tmp_path / "tracker-token"
    token_file.write_text(API_TOKEN)
    config = tmp_path / "alertmanager.yml"
    config.write_text(f"""
route:
  receiver: case-tracker
  group_by: [alertname, target]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: case-tracker
    webhook_configs:
      - url: {tracker_url}/api/v1/alerts
        send_resolved: true
        http_config:
          authorization:
            type: Bearer
            credentials_file: {token_file}
""")
    processes, urls = [], []
    try:
        for peer in range(2):
            port = free_port()
            url = f"http://127.0.0.1:{port}"
            processes.append(
                subprocess.Popen(
                    [
                        binary,
                        f"--config.file={config}",
                        f"--storage.path={tmp_path / f'am{peer}'}",
                        f"--web.listen-address=127.0.0.1:{port}",
                        f"--web.external-url={url}",
                        "--cluster.listen-address=",
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(url)
        for url in urls:
            wait_until(lambda url=url: requests.get(f"{url}/-/ready", timeout=1).ok, 30, "Alertmanager")
        yield urls
    finally:
        for process in processes:
            stop(process)


def post_alert(alertmanager: str, starts_at: datetime, ends_at: datetime | None = None) -> None:
    alert = {
        "labels": {
            "alertname": "BatiknetOPDUnreachable",
            "target": "setda",
            "opd": "setda",
            "severity": "critical",
        },
        "annotations": {"summary": "OPD Sekretariat Daerah tidak terjangkau"},
        "startsAt": starts_at.isoformat(),
        "generatorURL": "http://127.0.0.1:9090/graph",
    }
    if ends_at is not None:
        alert["endsAt"] = ends_at.isoformat()
    answer = requests.post(f"{alertmanager}/api/v2/alerts", json=[alert], timeout=5)
    assert answer.status_code == 200, answer.text


def test_ha_pair_gives_one_case_and_the_resolved_restores_it(
    tracker_url: str, alertmanagers: list[str]
) -> None:
    def cases() -> list[dict[str, Any]]:
        return requests.get(f"{tracker_url}/api/v1/cases", headers=HEADERS, timeout=5).json()["cases"]

    def metric(name: str) -> float | None:
        scraper = {"Authorization": f"Bearer {METRICS_TOKEN}"}
        return metric_value(requests.get(f"{tracker_url}/metrics", headers=scraper, timeout=5).text, name)

    starts_at = datetime.now(UTC).replace(microsecond=0)
    for alertmanager in alertmanagers:
        post_alert(alertmanager, starts_at)
    wait_until(lambda: metric("batiknet_notifications_received_total") == 2, 30, "both deliveries")
    wait_until(lambda: metric("batiknet_notifications_queued") == 0, 10, "the deliveries applied")
    [case] = cases()
    assert case["target"] == "setda" and case["source"] == "alert" and case["state"] == "received"
    assert len(case["episodes"]) == 1 and case["episodes"][0]["status"] == "firing"
    assert metric("batiknet_notifications_deduplicated_total") == 1

    ends_at = datetime.now(UTC).replace(microsecond=0)
    for alertmanager in alertmanagers:
        post_alert(alertmanager, starts_at, ends_at)
    wait_until(lambda: cases()[0]["restored_at"], 30, "the resolved notification")
    wait_until(lambda: metric("batiknet_notifications_received_total") == 4, 30, "both resolved deliveries")
    wait_until(lambda: metric("batiknet_notifications_queued") == 0, 10, "the deliveries applied")
    [case] = cases()
    assert case["restored_at"] == ends_at.isoformat()
    assert case["closed_at"] is None
    assert case["episodes"][0]["status"] == "resolved"
    assert metric("batiknet_notifications_deduplicated_total") == 2
