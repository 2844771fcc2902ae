"""Benchmark: the case list and a case page with 100,000 cases in the database.

Seeds a fresh SQLite database (or ``--database-url``) with two years of cases (most closed, a few hundred
open, each with a timeline, an alert episode and a technician), starts ``batiknet-cases serve`` on
loopback, signs in through the login form and times, sequentially:

* the case list page (``/cases``, first page and a filtered one) and ``GET /api/v1/cases``;
* case pages (``/cases/<id>``) and ``GET /api/v1/cases/<id>`` of random cases.

    .venv/bin/python bench/tracker_pages.py [--cases 100000] [--requests 200]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from sqlalchemy import insert
from werkzeug.security import generate_password_hash

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alert_webhook.core.clock import WorkingCalendar, deadlines
from alert_webhook.store.db import make_engine
from alert_webhook.store.models import (
    AlertEpisode,
    Case,
    CaseAssignment,
    CaseEvent,
    CaseTarget,
    Notification,
    User,
)
from bench.tracker_server import migrate, serving, tracker_environment

TOKEN = "pages-benchmark-token"
OPDS = (
    "setda",
    "setwan",
    "bappeda",
    "dinkes",
    "bpkad",
    "inspektorat",
    "dindik",
    "dukcapil",
    "dpmptsp",
    "rsud-bendan",
    "kec-barat",
    "kec-timur",
    "kec-utara",
    "kec-selatan",
)
PASSWORD = "benchmark-password"
CHUNK = 5000


def seed(url: str, count: int) -> None:
    engine = make_engine(url)
    calendar = WorkingCalendar()
    rng = random.Random(2026)
    start = datetime(2024, 12, 1, tzinfo=UTC)
    step = timedelta(days=730) / count
    now = datetime.now(UTC)
    with engine.begin() as connection:
        connection.execute(
            insert(User),
            [
                {
                    "id": 1,
                    "username": "kabid",
                    "display_name": "Kepala Bidang",
                    "role": "head",
                    "password_hash": generate_password_hash(PASSWORD),
                    "active": True,
                    "created_at": now,
                },
                *[
                    {
                        "id": 2 + i,
                        "username": f"teknisi{i + 1}",
                        "display_name": f"Teknisi {i + 1}",
                        "role": "technician",
                        "password_hash": "!",
                        "active": True,
                        "created_at": now,
                    }
                    for i in range(4)
                ],
            ],
        )
        connection.execute(
            insert(Notification),
            [
                {
                    "id": 1,
                    "received_at": now,
                    "body": "{}",
                    "body_sha256": "0" * 64,
                    "content_sha256": "0" * 64,
                    "receiver": "seed",
                    "status": "firing",
                    "group_key": "{}",
                    "truncated_alerts": 0,
                    "effects": 1,
                }
            ],
        )
        deadline_cache: dict[object, tuple[datetime, datetime]] = {}
        for first in range(0, count, CHUNK):
            cases, targets, events, episodes, assignments = [], [], [], [], []
            for case_id in range(first + 1, min(first + CHUNK, count) + 1):
                received = start + step * case_id
                hour_key = received.replace(minute=0, second=0, microsecond=0)
                if hour_key not in deadline_cache:
                    result = deadlines(calendar, hour_key)
                    deadline_cache[hour_key] = (result.target, result.maximum)
                target_deadline, maximum_deadline = deadline_cache[hour_key]
                is_open = case_id > count - 300
                restored = received + timedelta(hours=rng.uniform(0.5, 30))
                target = OPDS[case_id % len(OPDS)]
                cases.append(
                    {
                        "id": case_id,
                        "source": "alert" if case_id % 5 else "letter",
                        "group_key": f"alertname=BatiknetOPDUnreachable,target={target}",
                        "active_key": None,
                        "target": target,
                        "title": f"OPD {target} tidak terjangkau",
                        "state": rng.choice(("received", "dispositioned", "checking"))
                        if is_open
                        else "closed",
                        "received_at": received,
                        "target_deadline": target_deadline,
                        "maximum_deadline": maximum_deadline,
                        "dispositioned_at": received + timedelta(minutes=20),
                        "network_restored_at": None if is_open else restored,
                        "restored_at": None if is_open else restored,
                        "report_written_at": None,
                        "closed_at": None if is_open else restored + timedelta(hours=2),
                        "disposition_working_seconds": 1200.0,
                        "restore_working_seconds": None if is_open else 7200.0,
                        "flap_count": 0,
                        "incomplete": False,
                        "check_round": 1,
                        "previous_case_id": None,
                        "isp": "isp-metro" if target.startswith("kec-") else "isp-telkom",
                    }
                )
                targets.append({"case_id": case_id, "target": target, "added_at": received})
                assignments.append(
                    {
                        "case_id": case_id,
                        "user_id": 2 + case_id % 4,
                        "assigned_by_id": 1,
                        "assigned_at": received + timedelta(minutes=20),
                    }
                )
                episodes.append(
                    {
                        "case_id": case_id,
                        "fingerprint": f"{case_id:016x}",
                        "starts_at": received,
                        "ends_at": None if is_open else restored,
                        "status": "firing" if is_open else "resolved",
                        "alertname": "BatiknetOPDUnreachable",
                        "target": target,
                        "labels": {"alertname": "BatiknetOPDUnreachable", "target": target},
                        "annotations": {},
                        "generator_url": "",
                        "first_notification_id": 1,
                        "last_seen_at": received,
                    }
                )
                for kind, offset, to_state in (
                    ("opened", 0, "received"),
                    ("dispose", 20, "dispositioned"),
                    ("close", 600, "closed"),
                ):
                    if kind == "close" and is_open:
                        continue
                    events.append(
                        {
                            "case_id": case_id,
                            "at": received + timedelta(minutes=offset),
                            "actor_id": None if kind == "opened" else 1,
                            "actor_name": "seed",
                            "kind": kind,
                            "from_state": None,
                            "to_state": to_state,
                            "note": "",
                            "data": {},
                        }
                    )
            connection.execute(insert(Case), cases)
            connection.execute(insert(CaseTarget), targets)
            connection.execute(insert(CaseAssignment), assignments)
            connection.execute(insert(AlertEpisode), episodes)
            connection.execute(insert(CaseEvent), events)
    engine.dispose()


def timed(
    session: requests.Session, url: str, count: int, headers: dict[str, str] | None = None
) -> list[float]:
    latencies = []
    for _ in range(count):
        started = time.perf_counter()
        answer = session.get(url() if callable(url) else url, headers=headers, timeout=30)
        latencies.append((time.perf_counter() - started) * 1000)
        if answer.status_code != 200:
            raise SystemExit(f"{answer.url}: {answer.status_code}")
    return latencies


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "p50": round(statistics.median(ordered), 1),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 1),
        "max": round(ordered[-1], 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200, help="requests per measured page (default 200)")
    parser.add_argument("--database-url")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="batiknet-pages-"))
    url = args.database_url or f"sqlite:///{workdir / 'cases.db'}"
    env = tracker_environment(url, TOKEN, "pages")
    migrate(env)
    seeding = time.perf_counter()
    seed(url, args.cases)
    seed_seconds = time.perf_counter() - seeding

    with serving(env, "--workers", "1") as base:
        browser = requests.Session()
        form = browser.get(f"{base}/login").text
        csrf = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', form)
        signed_in = browser.post(
            f"{base}/login",
            data={"username": "kabid", "password": PASSWORD, "csrf_token": csrf.group(1) if csrf else ""},
        )
        if "/login" in signed_in.url:
            raise SystemExit("could not sign in")
        rng = random.Random(7)
        api = {"Authorization": f"Bearer {TOKEN}"}
        n = args.requests
        results = {
            "case_list_page": summary(timed(browser, f"{base}/cases", n)),
            "case_list_page_filtered": summary(timed(browser, f"{base}/cases?opd=dinkes&overdue=1", n)),
            "case_list_api": summary(timed(browser, f"{base}/api/v1/cases", n, api)),
            "case_page": summary(timed(browser, lambda: f"{base}/cases/{rng.randint(1, args.cases)}", n)),
            "case_api": summary(
                timed(browser, lambda: f"{base}/api/v1/cases/{rng.randint(1, args.cases)}", n, api)
            ),
        }
    print(
        json.dumps(
            {
                "date": datetime.now(UTC).strftime("%Y-%m-%d"),
                "database": url.split(":", 1)[0],
                "cases": args.cases,
                "seed_seconds": round(seed_seconds, 1),
                "requests_each": n,
                "latency_ms": results,
                "cpus": os.cpu_count(),
            },
            indent=2,
        )
    )
    return 0 if all(r["p95"] < 150 for r in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
