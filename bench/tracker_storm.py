"""Benchmark: an alert storm delivered twice (an Alertmanager HA pair) to the real tracker server.

2,000 alerts in 200 notifications (10 alerts per group), each notification sent by both Alertmanagers,
400 POSTs in all, through ``batiknet-cases serve`` (gunicorn) on loopback with a fresh SQLite database.
Checks: exactly one case per group (no duplicate), every alert stored as one episode (none lost), half of
the deliveries counted as deduplicated. Reports notifications per second and latency percentiles of the
deliveries (answered once stored), and when the last notification had been applied to the cases.

    .venv/bin/python bench/tracker_storm.py [--concurrency 8] [--workers W --threads T] [--database-url URL]

Without ``--workers``/``--threads`` the server runs with ``batiknet-cases serve``'s defaults.

Each delivery is answered once its spool file is durable (file and directory fsynced), so the figures
depend on the disk under the instance folder (a temporary directory; its filesystem is reported). The
CPU time of the server's HTTP workers and of its applier over the storm, per notification, is reported
too: it varies less than the wall clock on a machine shared with other work.

Traffic goes to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
from sqlalchemy import Engine, create_engine, func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alert_webhook.store.models import AlertEpisode, Case, Notification
from bench.tracker_server import migrate, serving, tracker_environment

GROUPS = 200
ALERTS_PER_GROUP = 10
TOKEN = "storm-benchmark-token"


def notification(group: int, peer: int) -> dict:
    starts = datetime(2026, 11, 30, 2, 0, tzinfo=UTC) + timedelta(seconds=group)
    target = f"storm-{group:03d}"
    alerts = [
        {
            "status": "firing",
            "labels": {
                "alertname": "BatiknetOPDUnreachable",
                "target": target,
                "probe": str(i),
                "severity": "critical",
            },
            "annotations": {"summary": f"storm {target}/{i}"},
            "startsAt": starts.isoformat().replace("+00:00", "Z"),
            "endsAt": "0001-01-01T00:00:00Z",
            "generatorURL": "http://127.0.0.1:9090/graph",
            "fingerprint": f"{group:08x}{i:08x}",
        }
        for i in range(ALERTS_PER_GROUP)
    ]
    return {
        "version": "4",
        "status": "firing",
        "receiver": "case-tracker",
        "truncatedAlerts": 0,
        "groupKey": f'{{}}:{{alertname="BatiknetOPDUnreachable", target="{target}"}}',
        "groupLabels": {"alertname": "BatiknetOPDUnreachable", "target": target},
        "commonLabels": {"alertname": "BatiknetOPDUnreachable", "target": target},
        "commonAnnotations": {},
        "externalURL": f"http://127.0.0.1:{9093 + peer}",
        "alerts": alerts,
    }


async def deliver_all(
    base: str, bodies: list[str], concurrency: int
) -> tuple[list[tuple[float, int]], float]:
    """POST every body with at most ``concurrency`` in flight, like Alertmanager's parallel groups."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def deliver(body: str) -> tuple[float, int]:
            async with limit:
                started = time.perf_counter()
                async with session.post(f"{base}/api/v1/alerts", data=body, headers=headers) as answer:
                    await answer.read()
                    return time.perf_counter() - started, answer.status

        started = time.perf_counter()
        results = await asyncio.gather(*(deliver(body) for body in bodies))
        return list(results), time.perf_counter() - started


async def healthz_rate(base: str, count: int, concurrency: int) -> float:
    """Requests per second of ``GET /healthz`` (one trivial query) with the same client: the ceiling
    that the HTTP stack and this machine's load leave for any endpoint."""
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def get() -> None:
            async with session.get(f"{base}/healthz") as answer:
                await answer.read()

        started = time.perf_counter()
        await asyncio.gather(*(get() for _ in range(count)))
        return count / (time.perf_counter() - started)


def wait_until_applied(engine: Engine, deliveries: int, timeout: float = 60) -> float:
    """When the applier had stored every delivery with its effects (polled every 10 ms)."""
    deadline = time.perf_counter() + timeout
    stored = select(func.count(Notification.id))
    while time.perf_counter() < deadline:
        with engine.connect() as connection:
            if connection.scalar(stored) == deliveries:
                return time.perf_counter()
        time.sleep(0.01)
    raise SystemExit("the deliveries were not applied within a minute")


def server_cpu_seconds(port: int) -> dict[str, float]:
    """CPU time (user + system) so far of the server listening on ``port``: its HTTP workers and its
    applier (the child at the applier's nice value). Its processes are the ones whose command line
    names that address (forked, they keep the master's)."""
    from alert_webhook.applier import NICENESS

    address = f"127.0.0.1:{port}".encode()
    processes = {}
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and address in (entry / "cmdline").read_bytes().split(b"\0"):
                processes[int(entry.name)] = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = {"workers": 0.0, "applier": 0.0}
    for fields in processes.values():
        if int(fields[1]) not in processes:
            continue  # the master: it only watches
        role = "applier" if int(fields[16]) == NICENESS else "workers"
        cpu[role] += (int(fields[11]) + int(fields[12])) / ticks
    return cpu


def filesystem_of(path: str) -> str:
    """The type of the filesystem holding ``path`` (the mount point that is its longest prefix)."""
    best, kind = "", "?"
    for line in Path("/proc/mounts").read_text().splitlines():
        _, mount_point, mount_kind = line.split()[:3]
        if (path == mount_point or path.startswith(mount_point.rstrip("/") + "/")) and len(mount_point) > len(
            best
        ):
            best, kind = mount_point, mount_kind
    return kind


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, default=8, help="deliveries in flight (default 8)")
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: serve's)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: serve's)")
    parser.add_argument("--database-url", help="default: a fresh SQLite file in a temporary directory")
    args = parser.parse_args()

    load = Path("/proc/loadavg").read_text().split()[:3]  # other work on the machine, before this run
    workdir = Path(tempfile.mkdtemp(prefix="batiknet-storm-"))
    url = args.database_url or f"sqlite:///{workdir / 'cases.db'}"
    env = tracker_environment(url, TOKEN, "storm")
    migrate(env)
    options = [f"--{name}={value}" for name in ("workers", "threads") if (value := getattr(args, name))]
    engine = create_engine(url)
    with serving(env, *options) as base:
        port = int(base.rsplit(":", 1)[1])
        # Both peers send every group; the second copy follows the first closely, as in an HA pair.
        bodies = [json.dumps(notification(g, peer)) for g in range(GROUPS) for peer in (0, 1)]
        baseline = asyncio.run(healthz_rate(base, len(bodies), args.concurrency))
        cpu_before = server_cpu_seconds(port)
        started = time.perf_counter()
        results, elapsed = asyncio.run(deliver_all(base, bodies, args.concurrency))
        applied = wait_until_applied(engine, len(bodies)) - started
        cpu = {role: seconds - cpu_before[role] for role, seconds in server_cpu_seconds(port).items()}

    with engine.connect() as connection:
        cases = connection.scalar(select(func.count(Case.id)))
        distinct_keys = connection.scalar(select(func.count(func.distinct(Case.group_key))))
        episodes = connection.scalar(select(func.count(AlertEpisode.id)))
        stored = connection.scalar(select(func.count(Notification.id)))
        duplicates = connection.scalar(select(func.count(Notification.id)).where(Notification.effects == 0))
    engine.dispose()

    latencies = [r[0] * 1000 for r in results]
    statuses = sorted({r[1] for r in results})
    report = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d"),
        "database": url.split(":", 1)[0],
        "deliveries": len(bodies),
        "alerts": GROUPS * ALERTS_PER_GROUP,
        "concurrency": args.concurrency,
        "gunicorn": " ".join(options) or "serve's defaults",
        "statuses": statuses,
        "seconds": round(elapsed, 3),
        "notifications_per_second": round(len(bodies) / elapsed, 1),
        "all_applied_after_seconds": round(applied, 3),
        "applied_per_second": round(len(bodies) / applied, 1),
        "baseline_healthz_per_second": round(baseline, 1),
        "server_cpu_ms_per_notification": {
            role: round(seconds * 1000 / len(bodies), 2) for role, seconds in cpu.items()
        },
        "spool_filesystem": filesystem_of(env["BATIKNET_INSTANCE_PATH"]),
        "loadavg_before": load,
        "latency_ms": {
            "p50": round(statistics.median(latencies), 1),
            "p95": round(percentile(latencies, 0.95), 1),
            "p99": round(percentile(latencies, 0.99), 1),
            "max": round(max(latencies), 1),
        },
        "cases": cases,
        "duplicate_cases": cases - distinct_keys,
        "episodes": episodes,
        "lost_alerts": GROUPS * ALERTS_PER_GROUP - episodes,
        "notifications_stored": stored,
        "deduplicated": duplicates,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(report, indent=2))
    ok = (
        statuses == [200]
        and cases == GROUPS
        and report["duplicate_cases"] == 0
        and report["lost_alerts"] == 0
        and duplicates == GROUPS
    )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
