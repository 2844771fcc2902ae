"""Fixtures of the case tracker's tests: an app over SQLite and over PostgreSQL, users, a settable clock.

Every test that asks for ``app`` (or ``client``) runs twice: once on a fresh SQLite file and once on a
fresh PostgreSQL database of a server this fixture starts from Debian's package (initdb + postgres as the
``postgres`` user, in a temporary directory, on a free loopback port, stopped by its PID at the end).
Both start from the Alembic migrations, never from ``create_all``, so the tests exercise the schema that
deployments get.
"""

from __future__ import annotations

import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest

from alert_webhook import create_app
from alert_webhook.extension import tracker_of
from alert_webhook.store.migrate import upgrade
from tests.support import require
from tests.tracker.openapi_conformance import ConformingClient

if TYPE_CHECKING:  # imported where used: messaging.py imports the API tests, which import this file
    from tests.tracker.messaging import FakeTelegram, MailSink

REPO = Path(__file__).resolve().parents[2]
LAB_INVENTORY = REPO / "lab" / "inventory.yml"
PG_BIN = Path("/usr/lib/postgresql/15/bin")
API_TOKEN = "test-shared-token-0123456789"
METRICS_TOKEN = "test-metrics-token-0123456789"  # Prometheus' own, for /metrics only
# A Monday, 10:00 in Pekalongan (WIB): inside the morning service window.
MONDAY_10_WIB = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


# --- PostgreSQL ------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    port: int
    process: subprocess.Popen[bytes]
    directory: Path
    _counter: itertools.count[int]

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self) -> psycopg.Connection[Any]:
        return psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        )

    def new_database(self, template: str | None = None) -> str:
        name = f"cases_{next(self._counter)}"
        with self.admin() as connection:
            # A copy of the template's few megabytes is quicker file by file than through the WAL.
            suffix = f" TEMPLATE {template} STRATEGY FILE_COPY" if template else ""
            connection.execute(f"CREATE DATABASE {name}{suffix}")
        return name

    def drop_database(self, name: str) -> None:
        with self.admin() as connection:
            connection.execute(f"DROP DATABASE {name} WITH (FORCE)")  # whoever still holds it


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    require((PG_BIN / "initdb").exists(), f"PostgreSQL 15 is not installed ({PG_BIN}/initdb; make install)")
    as_root = os.geteuid() == 0
    directory = Path(tempfile.mkdtemp(prefix="batiknet-pg-"))
    data = directory / "data"
    data.mkdir()
    user = "postgres" if as_root else None
    if as_root:
        shutil.chown(directory, "postgres")
        shutil.chown(data, "postgres")
    subprocess.run(
        [
            str(PG_BIN / "initdb"),
            "-D",
            str(data),
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--no-sync",
        ],
        check=True,
        capture_output=True,
        user=user,
    )
    port = _free_port()
    log = open(directory / "postgres.log", "wb")  # noqa: SIM115 (closed after the server stops)
    process = subprocess.Popen(
        [
            str(PG_BIN / "postgres"),
            "-D",
            str(data),
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-k",
            str(directory),
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        user=user,
    )
    server = PostgresServer(port, process, directory, itertools.count())
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.admin().close()
                break
            except psycopg.OperationalError:
                if process.poll() is not None or time.monotonic() > deadline:
                    log_text = (directory / "postgres.log").read_text()
                    raise RuntimeError(f"PostgreSQL did not start: {log_text}") from None
                time.sleep(0.1)
        yield server
    finally:
        process.send_signal(signal.SIGINT)  # fast shutdown
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_template(postgres_server: PostgresServer) -> str:
    """A database migrated once; each test copies it (CREATE DATABASE ... TEMPLATE is fast)."""
    name = postgres_server.new_database()
    upgrade(postgres_server.url(name))
    return name


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "cases.db"
    upgrade(f"sqlite:///{path}")
    return path


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    """A fresh, migrated, empty SQLite database."""
    path = tmp_path / "cases.db"
    shutil.copy(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def postgres_url(postgres_server: PostgresServer, postgres_template: str) -> Iterator[str]:
    """A fresh, migrated, empty PostgreSQL database, dropped after the test: a suite's worth of copies
    would fill gigabytes of the temporary directory and slow the server's stop."""
    name = postgres_server.new_database(template=postgres_template)
    yield postgres_server.url(name)
    postgres_server.drop_database(name)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    """A fresh, migrated, empty database of each kind."""
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "postgres_url")


# --- the application -------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def fast_password_hashing(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Passwords hashed with one round of PBKDF2 instead of scrypt: the suite signs in thousands of times
    and scrypt's deliberate cost (a quarter of a second each) was most of its time. Hashes name their
    method, so checking works unchanged; a test marked ``real_password_hashing`` keeps the real cost."""
    from werkzeug import security

    from alert_webhook.services import accounts

    if not request.node.get_closest_marker("real_password_hashing"):
        monkeypatch.setattr(
            accounts,
            "generate_password_hash",
            lambda password: security.generate_password_hash(password, method="pbkdf2:sha256:1"),
        )
    accounts._dummy_hash.cache_clear()  # the stand-in hash of unknown users follows the method in force
    yield
    accounts._dummy_hash.cache_clear()


class Clock:
    """The tracker's notion of now, set by the test."""

    def __init__(self, now: datetime = MONDAY_10_WIB) -> None:
        self.current = now

    def __call__(self) -> datetime:
        return self.current

    def set(self, now: datetime) -> None:
        self.current = now

    def advance(self, **delta: float) -> datetime:
        self.current += timedelta(**delta)
        return self.current


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app_config(database_url: str, clock: Clock, tmp_path: Path) -> dict[str, Any]:
    """The test configuration; a test may change it before asking for ``app``."""
    return {
        "TESTING": True,
        "BATIKNET_DATABASE_URL": database_url,
        "BATIKNET_API_TOKEN": API_TOKEN,
        "BATIKNET_METRICS_TOKEN": METRICS_TOKEN,
        "BATIKNET_INVENTORY": str(LAB_INVENTORY),
        "BATIKNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "BATIKNET_SECRET_KEY": "test-secret-key",
        "BATIKNET_CLOCK": clock,
        "BATIKNET_PROMETHEUS_URL": None,
        "BATIKNET_SMTP_HOST": None,
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Any]:
    application = create_app(app_config)
    # Every API answer a test receives is checked against the OpenAPI document.
    application.test_client_class = ConformingClient
    yield application
    tracker_of(application).db.dispose()


@pytest.fixture
def tracker(app: Any) -> Any:
    """The app's :class:`~alert_webhook.services.Tracker`, which every service takes first."""
    return tracker_of(app)


@pytest.fixture
def client(app: Any) -> Any:
    return app.test_client()


@pytest.fixture
def runner(app: Any) -> Any:
    return app.test_cli_runner()


@pytest.fixture
def shared_headers() -> dict[str, str]:
    """The shared token of Alertmanager and automation."""
    return {"Authorization": f"Bearer {API_TOKEN}"}


@dataclass(frozen=True)
class TestUser:
    id: int
    username: str
    password: str
    role: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        """Bearer headers with this user's personal API token."""
        return {"Authorization": f"Bearer {self.token}"}


@pytest.fixture
def make_user(app: Any) -> Callable[..., TestUser]:
    """``make_user("technician", username="budi", email="budi@example.org")`` → a user with a token."""
    from alert_webhook.services import accounts

    counter = itertools.count(1)

    def make(role: str, username: str | None = None, email: str | None = None) -> TestUser:
        username = username or f"{role}{next(counter)}"
        password = f"pw-{username}-secret"
        user = accounts.create_user(tracker_of(app), username, username.title(), role, password, email)
        token = accounts.issue_api_token(tracker_of(app), username)
        return TestUser(user.id, username, password, role, token)

    return make


CSRF_FIELD = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@pytest.fixture
def mail(tmp_path: Path) -> Iterator[MailSink]:
    """A mail server on loopback that keeps what it accepts (tests/tracker/messaging.py)."""
    from tests.tracker.messaging import MailSink

    sink = MailSink(tmp_path).start()
    yield sink
    sink.stop()


@pytest.fixture
def telegram(tmp_path: Path) -> Iterator[FakeTelegram]:
    """Telegram's Bot API faked on loopback (tests/tracker/messaging.py)."""
    from tests.tracker.messaging import FakeTelegram

    fake = FakeTelegram(tmp_path / "telegram").start()
    yield fake
    fake.stop()


@pytest.fixture
def login(client: Any) -> Callable[[TestUser], Any]:
    """Sign ``user`` in on ``client`` through the login form, CSRF token included; returns the answer."""

    def sign_in(user: TestUser) -> Any:
        page = client.get("/login")
        match = CSRF_FIELD.search(page.get_data(as_text=True))
        form = {"username": user.username, "password": user.password}
        if match:
            form["csrf_token"] = match.group(1) or match.group(2)
        return client.post("/login", data=form)

    return sign_in


def scrape(client: Any) -> str:
    """``GET /metrics`` as Prometheus asks for it (with the metrics token); the exposition."""
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert answer.status_code == 200, answer.status_code
    return answer.get_data(as_text=True)


def metric_value(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one sample in a Prometheus text exposition (None when absent)."""
    from prometheus_client.parser import text_string_to_metric_families

    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return None
