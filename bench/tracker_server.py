"""The case tracker as the benchmarks run it: a migrated database and ``batiknet-cases serve`` on loopback."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
CLI = [sys.executable, "-m", "alert_webhook.cli"]


def tracker_environment(database_url: str, token: str, secret_key: str) -> dict[str, str]:
    """The server's environment; its instance folder (the spool) is a new temporary directory."""
    return {
        **os.environ,
        "BATIKNET_INSTANCE_PATH": tempfile.mkdtemp(prefix="batiknet-instance-"),
        "BATIKNET_DATABASE_URL": database_url,
        "BATIKNET_API_TOKEN": token,
        "BATIKNET_INVENTORY": str(REPO / "lab" / "inventory.yml"),
        "BATIKNET_SECRET_KEY": secret_key,
    }


def migrate(env: dict[str, str]) -> None:
    subprocess.run([*CLI, "db", "upgrade"], env=env, check=True, capture_output=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serving(env: dict[str, str], *serve_options: str) -> Iterator[str]:
    """Run the gunicorn server until the block ends; yields its base URL once /healthz answers."""
    port = free_port()
    server = subprocess.Popen(
        [*CLI, "serve", "--listen", f"127.0.0.1:{port}", *serve_options],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(f"{base}/healthz", timeout=1).ok:
                    break
            except requests.ConnectionError:
                time.sleep(0.1)
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("the tracker did not start")
        yield base
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
