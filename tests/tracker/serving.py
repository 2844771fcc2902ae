"""The real ``batiknet-cases`` on loopback, for the tests that run processes: the CLI, ``serve`` (gunicorn
with its applier) started, watched and stopped by its PID."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from tests.support import applier_pids
from tests.tracker.conftest import API_TOKEN, LAB_INVENTORY, METRICS_TOKEN

CLI = [sys.executable, "-m", "alert_webhook.cli"]
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}  # Prometheus, reading /metrics


def tracker_env(database_url: str, instance: Path, **settings: str) -> dict[str, str]:
    """A server's environment: its database, its instance folder (the spool), extra BATIKNET_* settings."""
    return {
        **os.environ,
        "BATIKNET_DATABASE_URL": database_url,
        "BATIKNET_API_TOKEN": API_TOKEN,
        "BATIKNET_METRICS_TOKEN": METRICS_TOKEN,
        "BATIKNET_INVENTORY": str(LAB_INVENTORY),
        "BATIKNET_SECRET_KEY": "cli-test",
        "BATIKNET_INSTANCE_PATH": str(instance),
        **settings,
    }


def run(env: dict[str, str], *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, timeout=120, input=stdin)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``batiknet-cases serve`` on a loopback port (a free one unless given) for the length of a ``with``
    block, or until ``stop()``; its output (stdout and stderr, in a file) is ``output``."""

    def __init__(self, env: dict[str, str], workers: int, port: int | None = None) -> None:
        self.port = port or free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 (closed by stop())
        self.process = subprocess.Popen(
            [*CLI, "serve", "--listen", f"127.0.0.1:{self.port}", "--workers", str(workers)],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._output: str | None = None
        self._terminated = False

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def output(self) -> str:
        if self._output is not None:
            return self._output
        self._log.seek(0)
        return self._log.read()

    def applier(self) -> int:
        """The applier's PID, once there is one."""
        (pid,) = self.wait_for(lambda: applier_pids(self.pid), "no applier process")
        return pid

    def wait_for(self, condition, what: str, seconds: float = 15):
        """The first true value of ``condition()``, asked every 0.1 s while the server runs."""
        deadline = time.monotonic() + seconds
        while not (value := condition()):
            assert self.process.poll() is None and time.monotonic() < deadline, f"{what}\n{self.output}"
            time.sleep(0.1)
        return value

    def terminate(self) -> None:
        """SIGTERM, once, as systemd and compose stop it (a second one could reach the interpreter's own
        exit, where the default handler is back, and end it with -15 after it did everything)."""
        if not self._terminated:
            self._terminated = True
            self.process.send_signal(signal.SIGTERM)

    def stop(self, seconds: float = 60) -> int:
        """Terminate it; returns its exit status once it has ended."""
        self.terminate()
        status = self.process.wait(timeout=seconds)
        if self._output is None:
            self._output = self.output
            self._log.close()
        return status

    def __enter__(self) -> Server:
        try:
            self.wait_for(lambda: healthy(self.base), "the server did not come up", 60)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def healthy(base: str) -> bool:
    try:
        return requests.get(f"{base}/healthz", timeout=5).ok
    except requests.RequestException:  # not listening yet, or too busy starting to answer
        return False


def worker_pids(server_pid: int) -> set[int]:
    children = subprocess.run(["ps", "-o", "pid=", "--ppid", str(server_pid)], capture_output=True, text=True)
    return {int(pid) for pid in children.stdout.split()} - set(applier_pids(server_pid))
