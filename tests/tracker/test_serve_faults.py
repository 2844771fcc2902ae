"""Faults on the real server (gunicorn with its applier, on SQLite and PostgreSQL): stops, restarts, power.

A graceful stop (SIGTERM) applies what was accepted before it ends, says in the log what it leaves, and
what it leaves is applied by another server sharing the spool; a restart right after a stop binds the
port at once; two servers of one account do not share anything of gunicorn's; a delivery is on disk
(file and directory fsynced) before its 200 leaves the worker.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import itertools
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
import requests
from sqlalchemy import create_engine, text

from alert_webhook.store.db import INGEST_LOCK_ID
from tests.support import applier_pids, require_binary
from tests.tracker.conftest import API_TOKEN, metric_value
from tests.tracker.serving import SCRAPER, Server, free_port, healthy, tracker_env, worker_pids

pytestmark = pytest.mark.system  # real servers, their applier, haproxy, strace

HEADERS = {"Authorization": f"Bearer {API_TOKEN}", "Content-Type": "application/json"}
STORM_TRIALS = 4  # three with the database held: a stop that leaves its spool fails each of them
STORM_GROUPS = 200
ALERTS_PER_GROUP = 2
EVERYTHING_APPLIED = "stopped with every accepted notification applied"


def notification(label: str, group: int) -> str:
    """A firing notification of its own group, as Alertmanager sends it."""
    target = f"{label}-{group:03d}"
    starts = (datetime(2026, 11, 30, 2, 0, tzinfo=UTC) + timedelta(seconds=group)).isoformat()
    alerts = [
        {
            "status": "firing",
            "labels": {"alertname": "BatiknetOPDUnreachable", "target": target, "probe": str(probe)},
            "annotations": {"summary": f"{target} unreachable"},
            "startsAt": starts.replace("+00:00", "Z"),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
            "fingerprint": f"{abs(hash(target)) % (1 << 48):012x}{probe:04x}",
        }
        for probe in range(ALERTS_PER_GROUP)
    ]
    return json.dumps(
        {
            "version": "4",
            "status": "firing",
            "receiver": "case-tracker",
            "truncatedAlerts": 0,
            "groupKey": f'{{}}:{{target="{target}"}}',
            "groupLabels": {"alertname": "BatiknetOPDUnreachable", "target": target},
            "commonLabels": {"alertname": "BatiknetOPDUnreachable", "target": target},
            "commonAnnotations": {},
            "externalURL": "http://127.0.0.1:9093",
            "alerts": alerts,
        }
    )


def deliver(base: str, body: str, seconds: float = 60) -> None:
    """POST until answered 200, as Alertmanager retries a notification that failed."""
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(requests.RequestException):
            if requests.post(f"{base}/api/v1/alerts", data=body, headers=HEADERS, timeout=10).ok:
                return
        assert time.monotonic() < deadline, "a delivery was never answered 200"
        time.sleep(0.2)


def cases_of(database_url: str, label: str) -> dict[str, int]:
    """Cases per target among the targets of one storm."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT target, count(*) FROM cases WHERE target LIKE :prefix GROUP BY target"),
                {"prefix": f"{label}-%"},
            )
            return dict(rows.all())
    finally:
        engine.dispose()


def spooled(instance: Path) -> list[str]:
    return sorted(path.name for path in (instance / "spool").glob("*.json"))


@contextlib.contextmanager
def ingestion_held(postgres_url: str) -> Iterator[Callable[[], None]]:
    """Hold the appliers' lock (PostgreSQL), as a long transaction or a stalled database would: nothing
    is applied until the yielded function (or the end of the block) releases it."""
    dsn = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (INGEST_LOCK_ID,))
        yield lambda: connection.execute("SELECT pg_advisory_unlock(%s)", (INGEST_LOCK_ID,))


def listening_sockets(pid: int) -> set[str]:
    """The TCP sockets in LISTEN state among a process's open descriptors."""
    listening = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A":  # TCP_LISTEN
                listening.add(f"socket:[{fields[9]}]")
    descriptors = set()
    for entry in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            descriptors.add(os.readlink(entry))
    return descriptors & listening


def test_a_restart_right_after_a_stop_binds_at_once(sqlite_url: str, tmp_path: Path) -> None:
    """An applier started again by the watchdog (forked from gunicorn's master after it began listening)
    holds no listening socket and keeps no gunicorn signal handler: a new server started right after
    SIGTERM binds the port at once, while the old one may still be stopping."""
    env = tracker_env(sqlite_url, tmp_path / "instance")
    with Server(env, workers=1) as first:
        assert listening_sockets(first.pid)  # what the applier must not inherit
        killed = first.applier()
        os.kill(killed, signal.SIGKILL)
        (restarted,) = first.wait_for(
            lambda: [pid for pid in applier_pids(first.pid) if pid != killed], "no applier started again"
        )
        assert listening_sockets(restarted) == set()
        first.terminate()
        with Server(env, workers=1, port=first.port) as second:
            # Its own listening socket, while the first may still be stopping: the health check that let
            # the `with` in may have been answered by the first, whose workers hold the port to the end.
            second.wait_for(lambda: listening_sockets(second.pid), "the second server did not bind", 5)
            assert first.stop() == 0
            second.wait_for(lambda: healthy(second.base), "the second server does not answer", 30)
    assert "Connection in use" not in second.output
    assert not Path(f"/proc/{restarted}").exists()
    assert EVERYTHING_APPLIED in first.output


def test_two_servers_of_one_account_run_side_by_side(sqlite_template: Path, tmp_path: Path) -> None:
    """Two trackers of one user (say production and training) on one machine: gunicorn's control
    socket, one path per account, is not created, so neither takes the other's; each applies its own
    deliveries, and stopping one leaves the other serving."""
    home = tmp_path / "home"
    home.mkdir()
    servers = []
    for name in ("production", "training"):
        database = tmp_path / f"{name}.db"
        shutil.copy(sqlite_template, database)
        env = tracker_env(f"sqlite:///{database}", tmp_path / name, HOME=str(home))
        env.pop("XDG_RUNTIME_DIR", None)
        servers.append(Server(env, workers=1))
    with servers[0] as production, servers[1] as training:
        for server, label in ((production, "production"), (training, "training")):
            deliver(server.base, notification(label, 1))
        for server, label in ((production, "production"), (training, "training")):
            expected = [f"{label}-001"]
            server.wait_for(lambda s=server, e=expected: _case_targets(s) == e, f"{label}: not applied")
        assert production.stop() == 0
        deliver(training.base, notification("training", 2))
        training.wait_for(lambda: len(_case_targets(training)) == 2, "the second server stopped applying")
    assert not (home / ".gunicorn").exists()
    for server in servers:
        assert "control socket" not in server.output.lower()
        assert EVERYTHING_APPLIED in server.output


def _case_targets(server: Server) -> list[str]:
    listed = requests.get(f"{server.base}/api/v1/cases", headers=HEADERS, timeout=10).json()
    return sorted(case["target"] for case in listed["cases"])


@pytest.mark.postgres
def test_a_graceful_stop_applies_what_it_accepted(postgres_url: str, tmp_path: Path) -> None:
    """Deliveries answered 200 while nothing could be applied: SIGTERM does not abandon them; the server
    keeps applying after its workers have stopped, and ends once they are applied."""
    instance = tmp_path / "instance"
    server = Server(tracker_env(postgres_url, instance), workers=1)
    with server, ingestion_held(postgres_url) as release:
        for group in range(5):
            deliver(server.base, notification("drain", group))
        server.terminate()
        time.sleep(2)
        assert server.process.poll() is None, "the server ended without applying what it accepted"
        release()
        assert server.stop() == 0
    assert EVERYTHING_APPLIED in server.output
    assert spooled(instance) == []
    assert cases_of(postgres_url, "drain") == {f"drain-{group:03d}": 1 for group in range(5)}


@pytest.mark.postgres
def test_what_a_stop_leaves_is_told_and_applied_by_a_server_sharing_the_spool(
    postgres_url: str, tmp_path: Path
) -> None:
    """Nothing can be applied within the drain time (the database held): the stopping server says in its
    log how many it leaves; the spool they share shows them on the other server's /metrics, and the
    other server applies them, each once, as soon as it can."""
    shared = tmp_path / "instance"
    with Server(tracker_env(postgres_url, shared), workers=1) as peer:
        with ingestion_held(postgres_url) as release:
            leaving = Server(tracker_env(postgres_url, shared, BATIKNET_SPOOL_DRAIN_SECONDS="1"), workers=1)
            with leaving:
                for group in range(5):
                    deliver(leaving.base, notification("left", group))
                assert leaving.stop() == 0
            assert "stopped with 5 accepted notification(s) not applied" in leaving.output
            assert len(spooled(shared)) == 5
            exposition = requests.get(f"{peer.base}/metrics", headers=SCRAPER, timeout=10).text
            assert metric_value(exposition, "batiknet_notifications_queued") == 5
            assert cases_of(postgres_url, "left") == {}
            release()
        peer.wait_for(lambda: len(cases_of(postgres_url, "left")) == 5, "the peer did not apply them")
    assert cases_of(postgres_url, "left") == {f"left-{group:03d}": 1 for group in range(5)}
    assert spooled(shared) == []


def storm(base: str, label: str, victim: Server, stop_after: int) -> None:
    """Every group delivered through the proxy, 8 at a time; SIGTERM to ``victim`` once ``stop_after``
    of them were answered 200."""
    answered = itertools.count(1)

    def deliver_one(body: str) -> None:
        deliver(base, body)
        if next(answered) == stop_after:
            victim.terminate()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(deliver_one, [notification(label, group) for group in range(STORM_GROUPS)]))


def released_after_workers(server: Server, release: Callable[[], None]) -> None:
    """Let the database go once the stopping server's HTTP workers have ended (and a moment more): what
    it accepted is then applied during its stop or not at all."""
    deadline = time.monotonic() + 60
    while worker_pids(server.pid) and server.process.poll() is None:
        assert time.monotonic() < deadline, "the stopping server's workers did not end"
        time.sleep(0.1)
    time.sleep(0.5)
    release()


def all_cases(database_url: str, label: str, groups: int) -> dict[str, int]:
    """Cases per target of one storm once every group has at least one (else nothing)."""
    found = cases_of(database_url, label)
    return found if len(found) == groups else {}


class Proxy:
    """haproxy on loopback, alternating requests between the trackers (round robin), as a load balancer
    in front of replicas would; its statistics say which backend is up and how many 2xx each answered."""

    def __init__(self, binary: str, directory: Path, backends: list[int]) -> None:
        self.port, self.stats_port = free_port(), free_port()
        servers = "\n".join(
            f"    server s{index} 127.0.0.1:{port} check" for index, port in enumerate(backends)
        )
        config = directory / "haproxy.cfg"
        config.write_text(
            f"""global
    maxconn 256
defaults
    mode http
    timeout connect 1s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
frontend webhook
    bind 127.0.0.1:{self.port}
    default_backend trackers
backend trackers
    balance roundrobin
    option httpchk GET /healthz
    default-server inter 200ms fall 1 rise 1
{servers}
listen stats
    bind 127.0.0.1:{self.stats_port}
    stats enable
    stats uri /stats
"""
        )
        self.process = subprocess.Popen(
            [binary, "-db", "-f", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.base = f"http://127.0.0.1:{self.port}"

    def backends(self) -> dict[str, dict[str, str]]:
        answer = requests.get(f"http://127.0.0.1:{self.stats_port}/stats;csv", timeout=5)
        rows = csv.DictReader(answer.text.removeprefix("# ").splitlines())
        return {
            row["svname"]: row for row in rows if row["pxname"] == "trackers" and row["svname"] != "BACKEND"
        }

    def wait_until_up(self, seconds: float = 30) -> None:
        deadline = time.monotonic() + seconds
        while True:
            with contextlib.suppress(requests.RequestException):
                if {row["status"] for row in self.backends().values()} == {"UP"}:
                    return
            assert self.process.poll() is None and time.monotonic() < deadline, "haproxy: a backend is down"
            time.sleep(0.1)

    def answered(self, backend: str) -> int:
        return int(self.backends()[backend]["hrsp_2xx"])

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)


@pytest.mark.postgres
def test_sigterm_mid_storm_behind_a_proxy_leaves_no_answered_group_without_its_case(
    postgres_url: str, tmp_path: Path
) -> None:
    """Two servers on one PostgreSQL database behind haproxy; a storm of 200 groups, each delivered until
    answered 200 (as Alertmanager does); one server gets SIGTERM in the middle of it (at a different
    moment each trial). Its successor on that port has a spool of its own, so nobody would apply what
    the stopped one left. Each group has exactly one case all the same, the stopped server's spool is
    empty and its log says so. The other server is stopped in the next trial.

    On this machine the appliers mostly keep up with a plain storm, and a server that stopped without
    applying its spool often had nothing left. So in three trials of four the database is held (a long
    transaction elsewhere) from the storm's start until the stopping server's workers have ended: all it
    accepted is still to be applied then, and is lost unless its stop applies it."""
    proxy_binary = require_binary("haproxy")
    ports = [free_port(), free_port()]
    generations = itertools.count()

    def start(index: int) -> tuple[Server, Path]:
        """A server on the port of backend ``index``, with an instance folder of its own: nothing it
        leaves is applied by its successor (a replica scaled down does not come back)."""
        instance = tmp_path / f"instance-{next(generations)}"
        return Server(tracker_env(postgres_url, instance), workers=2, port=ports[index]), instance

    servers = [start(0), start(1)]
    proxy = Proxy(proxy_binary, tmp_path, ports)
    try:
        for trial in range(STORM_TRIALS):
            index = trial % 2
            (victim, instance), (survivor, _) = servers[index], servers[1 - index]
            for server in (victim, survivor):
                server.__enter__()  # up (the successor started during the previous trial's checks)
            proxy.wait_until_up()
            answered_before = proxy.answered(f"s{index}")
            label = f"storm{trial}"
            with contextlib.ExitStack() as database:
                held = trial % 4 != 0
                release = database.enter_context(ingestion_held(postgres_url)) if held else None
                storm(proxy.base, label, victim, stop_after=20 + (trial * 37) % 140)
                if release:
                    released_after_workers(victim, release)
            assert victim.stop() == 0, victim.output
            servers[index] = start(index)  # its successor starts on the same port while this one is checked
            found = survivor.wait_for(
                functools.partial(all_cases, postgres_url, label, STORM_GROUPS),
                f"trial {trial}: some groups answered 200 have no case",
                seconds=30,
            )
            assert found == {f"{label}-{group:03d}": 1 for group in range(STORM_GROUPS)}, f"trial {trial}"
            assert spooled(instance) == []
            assert EVERYTHING_APPLIED in victim.output, victim.output
            assert proxy.answered(f"s{index}") > answered_before, "the stopped server answered nothing"
    finally:
        proxy.stop()
        for server, _ in servers:
            server.stop()


def test_the_worker_fsyncs_a_delivery_before_it_answers(sqlite_url: str, tmp_path: Path) -> None:
    """strace on the real worker: the body is flushed (fdatasync) under its hidden name, renamed, and the
    spool directory fsynced (making the new name durable) before the first byte of the 200 is sent."""
    strace = require_binary("strace")
    trace = tmp_path / "strace.out"
    with Server(tracker_env(sqlite_url, tmp_path / "instance"), workers=1) as server:
        (worker,) = server.wait_for(lambda: worker_pids(server.pid), "no worker")
        tracer = subprocess.Popen(
            [strace, "-f", "-qq", "-y", "-s", "100", "-o", str(trace), "-p", str(worker),
             "-e", "trace=fsync,fdatasync,rename,renameat,renameat2,sendto,sendmsg,write,writev"],
        )  # fmt: skip
        try:
            server.wait_for(lambda: _traced_by(worker, tracer.pid), "strace did not attach")
            answer = requests.post(
                f"{server.base}/api/v1/alerts", data=notification("traced", 1), headers=HEADERS, timeout=10
            )
        finally:
            tracer.send_signal(signal.SIGINT)  # detaches
            tracer.wait(timeout=30)
    assert answer.status_code == 200
    name = answer.json()["id"]
    calls = _completed_calls(trace.read_text())

    def first(predicate: Callable[[str, str], bool], after: int = -1) -> int:
        return next(i for i, (call, text) in enumerate(calls) if i > after and predicate(call, text))

    file_synced = first(lambda call, text: call == "fdatasync" and f"/.{name}.tmp>" in text)
    renamed = first(lambda call, text: call.startswith("rename") and f"/{name}.json" in text, file_synced)
    directory_synced = first(lambda call, text: call == "fsync" and "/spool>" in text, renamed)
    answered = first(lambda call, text: call in ("sendto", "sendmsg", "write") and "HTTP/1.1 200" in text)
    assert file_synced < renamed < directory_synced < answered, calls


def _traced_by(pid: int, tracer: int) -> bool:
    """Whether every thread of ``pid`` is traced by ``tracer``."""
    tasks = list(Path(f"/proc/{pid}/task").iterdir())
    return all(f"TracerPid:\t{tracer}\n" in (task / "status").read_text() for task in tasks)


def _completed_calls(trace: str) -> list[tuple[str, str]]:
    """strace -f output as (system call, its text) in the order the calls returned; a call that another
    thread's interrupted (``<unfinished ...>`` ... ``<... resumed>``) is joined up."""
    pending: dict[str, str] = {}
    calls = []
    for line in trace.splitlines():
        thread, text = line.split(maxsplit=1)  # strace pads the thread id
        if text.startswith("<... "):
            call = text.removeprefix("<... ").split(" ", 1)[0]
            calls.append((call, pending.pop(thread) + text))
        elif text.endswith("<unfinished ...>"):
            pending[thread] = text.removesuffix("<unfinished ...>")
        else:
            calls.append((text.split("(", 1)[0], text))
    return calls
