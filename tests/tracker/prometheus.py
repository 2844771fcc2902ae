"""A real Prometheus for the tracker's tests: the distribution's binary on a free loopback port, with a
configuration the test writes, its data in a temporary folder, stopped by its PID.

Used where only Prometheus itself can say whether something holds: that a query the tracker builds means
what it should (test_promql.py), and that the committed scrape configuration reaches the tracker's
``/metrics`` with its token (test_access.py).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests
import yaml

from tests.support import require_binary

READY_SECONDS = 60


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_prometheus(config: dict[str, Any], directory: Path) -> Iterator[str]:
    """Prometheus with ``config`` (a parsed prometheus.yml) for the length of the block; yields its URL."""
    binary = require_binary("prometheus")
    directory.mkdir(parents=True, exist_ok=True)
    config_file = directory / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config), encoding="utf-8")
    url = f"http://127.0.0.1:{free_port()}"
    log = directory / "prometheus.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [binary, f"--config.file={config_file}", f"--storage.tsdb.path={directory / 'data'}",
             f"--web.listen-address={url.removeprefix('http://')}"],
            stdout=output,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + READY_SECONDS
        while not _ready(url):
            assert process.poll() is None, f"prometheus exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"prometheus not ready: {log.read_text()}"
            time.sleep(0.2)
        yield url
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _ready(url: str) -> bool:
    try:
        return requests.get(f"{url}/-/ready", timeout=2).ok
    except requests.ConnectionError:
        return False
