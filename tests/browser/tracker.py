"""The case tracker as a deployment runs it, for the browser tests: ``batiknet-cases serve`` (gunicorn and
the applier) on a free loopback port over a fresh SQLite database, its people made with
``batiknet-cases users``, an SMTP sink on loopback for its e-mail, and a small client of its JSON API to
set cases up. Nothing here imports the tracker's Python: the tests reach it only through HTTP and its
command line, as its people and its operators do, so they hold however it is built inside.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import requests
from aiosmtpd.controller import Controller

REPO = Path(__file__).resolve().parents[2]
LAB_INVENTORY = REPO / "lab" / "inventory.yml"
SHARED_TOKEN = "browser-suite-shared-token-0123456789"
T = TypeVar("T")


@dataclass(frozen=True)
class Person:
    """Someone who signs in: the head, a technician, the NOC screen's account, the administrator."""

    username: str
    role: str
    name: str
    email: str | None = None

    @property
    def password(self) -> str:
        return f"sandi-{self.username}-2026"


# The division as the SOP staffs it: one head, four technicians; plus the wall screen and an administrator.
PEOPLE = {
    "admin": Person("admin", "admin", "Admin Sistem"),
    "head": Person("kabid", "head", "Hendra Wijaya", "kabid@kominfo.example"),
    "andi": Person("andi", "technician", "Andi Saputra", "andi@kominfo.example"),
    "budi": Person("budi", "technician", "Budi Santoso", "budi@kominfo.example"),
    "citra": Person("citra", "technician", "Citra Lestari", "citra@kominfo.example"),
    "dewi": Person("dewi", "technician", "Dewi Anggraini", "dewi@kominfo.example"),
    "viewer": Person("layar", "viewer", "Layar NOC"),
}
TECHNICIANS = ("andi", "budi", "citra", "dewi")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _sqlite_copy(source: Path, copy: Path) -> Path:
    """A consistent copy of a SQLite database, whatever it still keeps in its write-ahead log."""
    with (
        contextlib.closing(sqlite3.connect(source)) as reading,
        contextlib.closing(sqlite3.connect(copy)) as writing,
    ):
        reading.backup(writing)
    return copy


def wait_until(condition: Callable[[], T], what: str, seconds: float = 15.0) -> T:
    """The first true value of ``condition()``, asked every 0.1 s; fails naming ``what`` after ``seconds``."""
    deadline = time.monotonic() + seconds
    while not (value := condition()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)
    return value


def _rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


class MailSink:
    """An SMTP server on loopback that keeps every message it is given, in order."""

    def __init__(self) -> None:
        self.port = free_port()
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        with self._lock:
            self.messages.append(message)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [m for m in self.messages if address in str(m["To"])]

    def start(self) -> None:
        self._controller.start()

    def stop(self) -> None:
        self._controller.stop()


class Tracker:
    """One running tracker in ``directory``; ``start()`` returns when it answers, ``stop()`` ends it."""

    # The copy of the first tracker's database with the people in it, and the head's token.
    _people: ClassVar[tuple[Path, str] | None] = None

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.mail = MailSink()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "BATIKNET_DATABASE_URL": f"sqlite:///{directory / 'cases.db'}",
            "BATIKNET_INSTANCE_PATH": str(directory / "instance"),
            "BATIKNET_INVENTORY": str(LAB_INVENTORY),
            "BATIKNET_API_TOKEN": SHARED_TOKEN,
            "BATIKNET_SECRET_KEY": "browser-suite-secret",
            "BATIKNET_PUBLIC_URL": self.url,
            "BATIKNET_SMTP_HOST": "127.0.0.1",
            "BATIKNET_SMTP_PORT": str(self.mail.port),
            "BATIKNET_SMTP_FROM": "noc@kominfo.example",
            "BATIKNET_HEAD_NAME": "Hendra Wijaya",
        }
        for name in ("BATIKNET_PROMETHEUS_URL", "BATIKNET_GRAFANA_URL", "BATIKNET_TELEGRAM_BOT_TOKEN"):
            self.env.pop(name, None)
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = directory / "tracker.log"
        self.tokens: dict[str, str] = {}

    def command(self, *args: str) -> str:
        """``batiknet-cases ARGS`` against this tracker's database; its standard output."""
        done = subprocess.run(
            [sys.executable, "-m", "alert_webhook.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, f"batiknet-cases {' '.join(args)}: {done.stderr}"
        return done.stdout

    def start(self) -> Tracker:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._make_people()
        self.mail.start()
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "alert_webhook.cli", "serve", "--listen", f"127.0.0.1:{self.port}",
                 "--workers", "2"],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its workers and applier share its process group, stopped with it
            )  # fmt: skip
        try:
            wait_until(self._healthy, "the tracker to answer on /healthz", 30)
        except BaseException:
            self.stop()
            raise
        return self

    def _make_people(self) -> None:
        """A migrated database with :data:`PEOPLE` and the head's API token. The first tracker of a test run
        makes them with the command line, as an operator does (nine commands, about 15 s), and keeps a copy
        before any test touches it; every later tracker starts from that copy."""
        database = self.directory / "cases.db"
        if Tracker._people is None:
            self.command("db", "upgrade")
            for person in PEOPLE.values():
                password = self.directory / f"{person.username}.password"
                password.write_text(person.password)
                extra = ["--email", person.email] if person.email else []
                self.command("users", "add", person.username, "--role", person.role, "--name", person.name,
                             "--password-file", str(password), *extra)  # fmt: skip
            token = self.command("users", "token", PEOPLE["head"].username).strip()
            Tracker._people = (_sqlite_copy(database, self.directory / "people.db"), token)
        else:
            _sqlite_copy(Tracker._people[0], database)
        self.tokens["head"] = Tracker._people[1]

    def _healthy(self) -> bool:
        assert self.process is not None and self.process.poll() is None, self.log_path.read_text()
        try:
            return requests.get(f"{self.url}/healthz", timeout=1).ok
        except requests.ConnectionError:
            return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
            self.process = None
        self.mail.stop()

    # --- the JSON API, for setting cases up -------------------------------------------------------------

    def api(self, method: str, path: str, token: str | None = None, **body: Any) -> Any:
        """``METHOD /api/v1/PATH`` as the head (or with ``token``); the answer's JSON, which must be 2xx."""
        answer = requests.request(
            method,
            f"{self.url}/api/v1/{path}",
            json=body if method != "GET" else None,
            headers={"Authorization": f"Bearer {token or self.tokens['head']}"},
            timeout=30,
        )
        assert answer.ok, f"{method} {path}: {answer.status_code} {answer.text}"
        return answer.json()

    def letter(self, opd: str, number: str, reporter: str, description: str, **extra: Any) -> dict[str, Any]:
        """An OPD's letter entered by the head; the case it opened or joined."""
        today = datetime.now(UTC).astimezone().date().isoformat()
        return self.api("POST", "cases", opd=opd, letter_number=number, letter_date=today, reporter=reporter,
                        description=description, **extra)  # fmt: skip

    def act(self, case_id: int, action: str, **body: Any) -> dict[str, Any]:
        """A workflow step through the API as the head (who may act on any case)."""
        return self.api("POST", f"cases/{case_id}/{action}", **body)

    def case(self, case_id: int) -> dict[str, Any]:
        return self.api("GET", f"cases/{case_id}")

    def open_cases_of(self, target: str) -> list[dict[str, Any]]:
        return self.api("GET", f"cases?target={target}&open=true")["cases"]

    def alert(
        self, target: str, name: str, started: datetime | None = None, ended: datetime | None = None
    ) -> None:
        """Alertmanager's notification that ``target`` (an OPD of the lab inventory) is unreachable since
        ``started`` (default: three minutes ago), or was until ``ended``."""
        started = started or datetime.now(UTC) - timedelta(minutes=3)
        status = "resolved" if ended else "firing"
        labels = {"alertname": "BatiknetOPDUnreachable", "severity": "critical", "target": target}
        labels["opd"] = target
        alert = {
            "status": status,
            "labels": labels,
            "annotations": {"summary": f"OPD {name} tidak terjangkau"},
            "startsAt": _rfc3339(started),
            "endsAt": _rfc3339(ended) if ended else "0001-01-01T00:00:00Z",
            "generatorURL": "http://prometheus.example:9090/graph?g0.expr=batiknet_target_up+%3D%3D+0",
            "fingerprint": hashlib.sha256(target.encode()).hexdigest()[:16],
        }
        notification = {
            "receiver": "case-tracker",
            "status": status,
            "alerts": [alert],
            "groupLabels": {"alertname": labels["alertname"], "target": target},
            "commonLabels": labels,
            "commonAnnotations": alert["annotations"],
            "externalURL": "http://alertmanager.example:9093",
            "version": "4",
            "groupKey": f'{{}}:{{alertname="BatiknetOPDUnreachable",target="{target}"}}',
            "truncatedAlerts": 0,
        }
        answer = requests.post(
            f"{self.url}/api/v1/alerts",
            json=notification,
            headers={"Authorization": f"Bearer {SHARED_TOKEN}"},
            timeout=30,
        )
        assert answer.ok, answer.text

    def heartbeat(self) -> None:
        """Alertmanager's Watchdog: the pages then carry no warning that monitoring is silent."""
        answer = requests.post(
            f"{self.url}/api/v1/heartbeat",
            json={"receiver": "watchdog"},
            headers={"Authorization": f"Bearer {SHARED_TOKEN}"},
            timeout=30,
        )
        assert answer.ok, answer.text
