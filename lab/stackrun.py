"""Run the real stack on loopback: exporter, case tracker, Prometheus, Alertmanager and local sinks.

Used by the demo (``python -m lab.demo``, fixed ports) and by the tests (``tests/stack.py``,
free ports, short timers). Prometheus and Alertmanager get configurations rendered from the committed
files by :mod:`lab.stackconfig`; every service runs in the foreground as a child process with its own data
directory under ``run_dir`` and its log in ``run_dir/logs``, and is stopped by its PID.

Mail from Alertmanager goes to an SMTP sink (aiosmtpd) that keeps each message as ``run_dir/mail/*.eml``;
Telegram messages (Alertmanager's, and the case tracker's to the team's chat) go to an HTTP sink that
keeps each request body in ``run_dir/telegram``. Nothing
leaves the machine.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import requests
import yaml
from aiosmtpd.controller import Controller

from lab import stackconfig
from lab.stackconfig import DEFAULT_PORTS, Endpoints, Timing

__all__ = ["LAB_INVENTORY", "REPO", "Ports", "Stack", "StackError", "Timing"]

REPO = Path(__file__).resolve().parent.parent
LAB_INVENTORY = REPO / "lab" / "inventory.yml"
LOOPBACK = "127.0.0.1"
# Secret files the committed configuration names (by base name): the case tracker's API token (for
# Alertmanager) and metrics token (for Prometheus), and credentials the local sinks accept but never check.
API_TOKEN_SECRET = "batiknet_api_token"
METRICS_TOKEN_SECRET = "batiknet_metrics_token"
SINK_SECRETS = {
    "smtp_password": "not-checked-by-the-local-sink",
    "telegram_bot_token": "123456789:not-checked-by-the-local-sink",
}
# The team's chat the case tracker writes to (the committed Alertmanager configuration's chat id).
TELEGRAM_CHAT = "-1001000000000"
READY_TIMEOUT = 60.0
STOP_TIMEOUT = 15.0

T = TypeVar("T")


class StackError(RuntimeError):
    """A service of the stack did not start; the message carries the end of its log."""


@dataclass(frozen=True)
class Ports:
    """Loopback ports of the stack's services and sinks."""

    exporter: int
    cases: int
    prometheus: int
    alertmanager: int
    smtp: int
    telegram: int

    @classmethod
    def defaults(cls) -> Ports:
        """The documented ports, as used by ``make demo``."""
        return cls(**DEFAULT_PORTS, smtp=2525, telegram=8089)

    @classmethod
    def free(cls) -> Ports:
        """Ports no one listens on right now, one per service (for tests running beside other stacks)."""
        sockets = []
        try:
            for _ in fields(cls):
                sock = socket.socket()
                sock.bind((LOOPBACK, 0))
                sockets.append(sock)
            return cls(*(sock.getsockname()[1] for sock in sockets))
        finally:
            for sock in sockets:
                sock.close()

    def busy(self) -> list[int]:
        """The ports someone already listens on (the readiness checks would otherwise talk to them)."""
        taken = []
        for port in (getattr(self, field.name) for field in fields(self)):
            with socket.socket() as sock:
                # Like the services themselves: connections of an earlier run in TIME_WAIT do not count.
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    sock.bind((LOOPBACK, port))
                except OSError:
                    taken.append(port)
        return taken

    def endpoints(self) -> Endpoints:
        return Endpoints(**{field.name: f"{LOOPBACK}:{getattr(self, field.name)}" for field in fields(self)})


class _Service:
    """One child process, started in its own process group and stopped by its PID."""

    def __init__(self, name: str, argv: list[str], log: Path, env: Mapping[str, str]) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as output:
            self.process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=dict(env),
                start_new_session=True,
            )

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.running():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        # Children the service forked (gunicorn's workers) share its process group, whose id is its PID.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.pid, signal.SIGKILL)


class _SmtpSink:
    """Keeps every message Alertmanager sends as a ``.eml`` file."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._lock = threading.Lock()
        self._count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            self._count += 1
            path = self.directory / f"{self._count:04d}.eml"
        path.write_bytes(envelope.original_content or envelope.content)
        return "250 Message accepted for delivery"


class TelegramSink(BaseHTTPRequestHandler):
    """Answers like the Telegram Bot API's sendMessage and keeps each request body as JSON; while
    ``refusals`` holds HTTP statuses, answers the next requests with them instead (keeping nothing)."""

    directory: Path
    refusals: list[int]  # each server's own list (see Stack.refuse_telegram)

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.refusals:
            status = self.refusals.pop(0)
            description = "Forbidden: bot was kicked from the group chat" if status == 403 else "Bad Gateway"
            self._answer(status, {"ok": False, "error_code": status, "description": description})
            return
        path = self.directory / f"{time.time_ns()}.json"
        path.write_bytes(body)
        try:
            request = json.loads(body)
        except ValueError:
            request = {}
        # Alertmanager 0.25 reads result.chat from the answer and crashes without it.
        message = {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": request.get("chat_id", 0), "type": "supergroup"},
            "text": request.get("text", ""),
        }
        self._answer(200, {"ok": True, "result": message})

    def _answer(self, status: int, document: dict[str, Any]) -> None:
        answer = json.dumps(document).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:
        return


class Stack:
    """The exporter, the case tracker, Prometheus and Alertmanager on loopback, configured from the repo.

    >>> with Stack(tmp_path, api_token="t", ports=Ports.free(), timing=Timing()) as stack:
    ...     stack.wait_until(lambda: stack.cases(), timeout=120, what="a case")

    ``timing=None`` keeps the committed intervals and rule durations; a :class:`Timing` shortens them (see
    :mod:`lab.stackconfig`). ``start()`` returns once every service answers its readiness check, or stops
    what it started and raises :class:`StackError` with the failing service's log.
    """

    def __init__(
        self,
        run_dir: Path,
        *,
        api_token: str,
        inventory: Path = LAB_INVENTORY,
        ports: Ports | None = None,
        timing: Timing | None = None,
    ) -> None:
        self.run_dir = Path(run_dir)
        self.api_token = api_token
        self.inventory = Path(inventory)
        self.ports = ports or Ports.free()
        self.timing = timing
        self.endpoints = self.ports.endpoints()
        self.mail_dir = self.run_dir / "mail"
        self.telegram_dir = self.run_dir / "telegram"
        self.secrets_dir = self.run_dir / "secrets"
        self.database_url = f"sqlite:///{self.run_dir / 'cases.sqlite3'}"
        self.secret_key = secrets.token_urlsafe(32)
        self.metrics_token = secrets.token_urlsafe(24)
        self._services: list[_Service] = []
        self._smtp: Controller | None = None
        self._telegram: ThreadingHTTPServer | None = None

    # --- URLs -------------------------------------------------------------------------------------------

    def url(self, service: str) -> str:
        return f"http://{self.endpoints.for_service(service)}"

    @property
    def cases_env(self) -> dict[str, str]:
        """Environment for ``batiknet-cases`` commands run against this stack's database."""
        return {
            **os.environ,
            "BATIKNET_API_TOKEN": self.api_token,
            "BATIKNET_METRICS_TOKEN": self.metrics_token,
            "BATIKNET_INSTANCE_PATH": str(self.run_dir / "cases-instance"),
            "BATIKNET_SECRET_KEY": self.secret_key,
            "BATIKNET_DATABASE_URL": self.database_url,
            "BATIKNET_INVENTORY": str(self.inventory),
            "BATIKNET_PROMETHEUS_URL": self.url("prometheus"),
            "BATIKNET_PUBLIC_URL": self.url("cases"),
            "BATIKNET_SMTP_HOST": LOOPBACK,
            "BATIKNET_SMTP_PORT": str(self.ports.smtp),
            "BATIKNET_TELEGRAM_CHAT_IDS": TELEGRAM_CHAT,
            "BATIKNET_TELEGRAM_BOT_TOKEN_FILE": str(self.secrets_dir / "telegram_bot_token"),
            "BATIKNET_TELEGRAM_API_URL": f"http://{self.endpoints.telegram}",
        }

    def pids(self) -> dict[str, int]:
        return {service.name: service.pid for service in self._services}

    # --- lifecycle --------------------------------------------------------------------------------------

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> Stack:
        busy = self.ports.busy()
        if busy:
            raise StackError(
                f"loopback ports {busy} are already in use (the distribution's Prometheus or Alertmanager "
                "service? systemctl disable --now prometheus prometheus-alertmanager)"
            )
        for directory in (self.run_dir, self.mail_dir, self.telegram_dir, self.secrets_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)
        try:
            prometheus_config, alertmanager_config = self.write_configs()
            self._write_secrets({"telegram_bot_token"})  # the case tracker's
            self._start_sinks()
            self.cases_command("db", "upgrade")
            self._start(
                "cases",
                [self._script("batiknet-cases"), "serve", "--listen", self.endpoints.cases],
                ready_path="/healthz",
                env=self.cases_env,
            )
            self._start(
                "exporter",
                [
                    self._script("batiknet-exporter"),
                    "--config.file",
                    str(self.inventory),
                    "--web.listen-address",
                    self.endpoints.exporter,
                ],
                ready_path="/metrics",
            )
            self._start(
                "alertmanager",
                [
                    "prometheus-alertmanager",
                    f"--config.file={alertmanager_config}",
                    f"--storage.path={self.run_dir / 'alertmanager-data'}",
                    f"--web.listen-address={self.endpoints.alertmanager}",
                    f"--web.external-url={self.url('alertmanager')}",
                    "--cluster.listen-address=",
                ],
                ready_path="/-/ready",
            )
            self._start(
                "prometheus",
                [
                    "prometheus",
                    f"--config.file={prometheus_config}",
                    f"--storage.tsdb.path={self.run_dir / 'prometheus-data'}",
                    f"--web.listen-address={self.endpoints.prometheus}",
                    f"--web.external-url={self.url('prometheus')}",
                ],
                ready_path="/-/ready",
            )
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process and sink this stack started, newest first. Safe to call twice."""
        while self._services:
            self._services.pop().stop()
        if self._smtp is not None:
            self._smtp.stop()
            self._smtp = None
        if self._telegram is not None:
            self._telegram.shutdown()
            self._telegram.server_close()
            self._telegram = None

    @property
    def logs_dir(self) -> Path:
        return self.run_dir / "logs"

    def write_configs(self) -> tuple[Path, Path]:
        """Render the committed configuration into ``run_dir``; returns the two configuration files."""
        rules_dir = self.run_dir / "rules"
        rules_dir.mkdir(parents=True, exist_ok=True)
        rule_files = []
        for committed_rules in sorted((REPO / "prometheus" / "rules").glob("*.yml")):
            rendered = stackconfig.render_rules(_load_yaml(committed_rules), self.timing)
            rule_files.append(_write_yaml(rules_dir / committed_rules.name, rendered))
        prometheus = stackconfig.render_prometheus_config(
            _load_yaml(REPO / "prometheus" / "prometheus.yml"),
            endpoints=self.endpoints,
            rule_files=[str(path) for path in rule_files],
            secrets_dir=str(self.secrets_dir),
            timing=self.timing,
        )
        alertmanager = stackconfig.render_alertmanager_config(
            _load_yaml(REPO / "alertmanager" / "alertmanager.yml"),
            endpoints=self.endpoints,
            secrets_dir=str(self.secrets_dir),
            timing=self.timing,
        )
        for name, rendered in (("prometheus.yml", prometheus), ("alertmanager.yml", alertmanager)):
            outside = stackconfig.non_loopback_addresses(rendered)
            if outside:
                raise StackError(f"rendered {name} would reach beyond loopback: {outside}")
        self._write_secrets(
            stackconfig.secret_file_names(prometheus) | stackconfig.secret_file_names(alertmanager)
        )
        return (
            _write_yaml(self.run_dir / "prometheus.yml", prometheus),
            _write_yaml(self.run_dir / "alertmanager.yml", alertmanager),
        )

    def cases_command(self, *args: str) -> str:
        """Run ``batiknet-cases ARGS`` against this stack's database; returns its standard output."""
        result = subprocess.run(
            [self._script("batiknet-cases"), *args],
            env=self.cases_env,
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise StackError(f"batiknet-cases {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    # --- observing the stack ----------------------------------------------------------------------------

    def get_json(self, service: str, path: str, **params: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.api_token}"} if service == "cases" else {}
        response = requests.get(self.url(service) + path, params=params, headers=headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def cases(self) -> list[dict[str, Any]]:
        """``GET /api/v1/cases`` of the case tracker."""
        answer = self.get_json("cases", "/api/v1/cases")
        return answer["cases"] if isinstance(answer, dict) else answer

    def query(self, expression: str) -> list[dict[str, Any]]:
        """Prometheus instant query; the result vector (or matrix, scalar, string) as returned."""
        return self.get_json("prometheus", "/api/v1/query", query=expression)["data"]["result"]

    def prometheus_alerts(self) -> list[dict[str, Any]]:
        """Alerts Prometheus has pending or firing (``GET /api/v1/alerts``)."""
        return self.get_json("prometheus", "/api/v1/alerts")["data"]["alerts"]

    def alertmanager_alerts(self, **filters: str) -> list[dict[str, Any]]:
        """Alerts Alertmanager holds (``GET /api/v2/alerts``), e.g. ``inhibited="false"``."""
        return self.get_json("alertmanager", "/api/v2/alerts", **filters)

    def mails(self) -> list[EmailMessage]:
        """Every message the SMTP sink received, oldest first."""
        return [
            message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for path in sorted(self.mail_dir.glob("*.eml"))
        ]

    def telegram_messages(self) -> list[dict[str, Any]]:
        return [json.loads(path.read_bytes()) for path in sorted(self.telegram_dir.glob("*.json"))]

    def refuse_telegram(self, *statuses: int) -> None:
        """Answer the next Telegram requests (Alertmanager's and the tracker's) with these HTTP statuses;
        none: accept again."""
        assert self._telegram is not None, "the stack is not running"
        self._telegram.RequestHandlerClass.refusals[:] = statuses  # type: ignore[attr-defined]

    @staticmethod
    def wait_until(condition: Callable[[], T], *, timeout: float, what: str, interval: float = 0.5) -> T:
        """Poll ``condition`` until it returns something truthy, and return that; TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            result = condition()
            if result:
                return result
            if time.monotonic() > deadline:
                raise TimeoutError(f"no {what} within {timeout:.0f} s")
            time.sleep(interval)

    # --- internals --------------------------------------------------------------------------------------

    def _start(
        self, name: str, argv: list[str], *, ready_path: str, env: Mapping[str, str] | None = None
    ) -> None:
        service = _Service(name, argv, self.logs_dir / f"{name}.log", env or os.environ)
        self._services.append(service)
        headers = {"Authorization": f"Bearer {self.api_token}"}
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            if not service.running():
                raise StackError(f"{name} exited with {service.process.returncode}:\n{service.log_tail()}")
            try:
                if requests.get(self.url(name) + ready_path, headers=headers, timeout=2).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise StackError(f"{name} not ready within {READY_TIMEOUT:.0f} s:\n{service.log_tail()}")

    def _start_sinks(self) -> None:
        self._smtp = Controller(_SmtpSink(self.mail_dir), hostname=LOOPBACK, port=self.ports.smtp)
        self._smtp.start()
        handler = type("TelegramSink", (TelegramSink,), {"directory": self.telegram_dir, "refusals": []})
        self._telegram = ThreadingHTTPServer((LOOPBACK, self.ports.telegram), handler)
        threading.Thread(target=self._telegram.serve_forever, name="telegram-sink", daemon=True).start()

    def _write_secrets(self, names: set[str]) -> None:
        for name in names:
            path = self.secrets_dir / name
            path.write_text(self._secret_value(name) + "\n", encoding="utf-8")
            path.chmod(0o600)

    def _secret_value(self, name: str) -> str:
        if name == API_TOKEN_SECRET:
            return self.api_token
        if name == METRICS_TOKEN_SECRET:
            return self.metrics_token
        if name in SINK_SECRETS:
            return SINK_SECRETS[name]
        raise StackError(
            f"the committed configuration needs a secret file {name!r} the local stack does not know"
        )

    @staticmethod
    def _script(name: str) -> str:
        """A console script of the project, from the interpreter's own environment."""
        return str(Path(sys.executable).parent / name)


def _load_yaml(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        return yaml.safe_load(stream)


def _write_yaml(path: Path, document: Any) -> Path:
    path.write_text(yaml.safe_dump(document, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return path
