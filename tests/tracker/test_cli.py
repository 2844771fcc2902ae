"""``batiknet-cases``: migrations, users (no default password) and the real gunicorn server on loopback."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import requests

from tests.support import applier_pids
from tests.tracker.conftest import API_TOKEN, metric_value
from tests.tracker.serving import SCRAPER, Server, run, tracker_env, worker_pids

pytestmark = pytest.mark.system

PAYLOADS = Path(__file__).with_name("payloads")


@pytest.fixture
def env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return tracker_env(database_url, tmp_path / "instance")


def test_db_upgrade_is_idempotent(env: dict[str, str]) -> None:
    first = run(env, "db", "upgrade")
    assert first.returncode == 0, first.stderr
    assert "revision head" in first.stdout
    assert run(env, "db", "upgrade").returncode == 0


def test_users_from_password_files_never_a_default(env: dict[str, str], tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("rahasia-kepala-bidang\n")
    added = run(
        env,
        "users",
        "add",
        "kabid",
        "--role",
        "head",
        "--name",
        "Kepala Bidang",
        "--password-file",
        str(password),
    )
    assert added.returncode == 0, added.stderr
    no_terminal = run(env, "users", "add", "budi", "--role", "technician", stdin="")
    assert no_terminal.returncode != 0
    assert "--password-file" in no_terminal.stderr
    short = tmp_path / "short"
    short.write_text("abc")
    refused = run(env, "users", "add", "sari", "--role", "technician", "--password-file", str(short))
    assert refused.returncode == 1 and "at least 8" in refused.stderr
    duplicate = run(env, "users", "add", "kabid", "--role", "head", "--password-file", str(password))
    assert duplicate.returncode == 1 and "already exists" in duplicate.stderr
    listed = run(env, "users", "list").stdout.splitlines()
    assert listed == ["kabid\thead\tactive\tKepala Bidang\t"]
    password.write_text("kata-sandi-baru-2026")
    assert run(env, "users", "reset-password", "kabid", "--password-file", str(password)).returncode == 0
    assert run(env, "users", "reset-password", "nobody", "--password-file", str(password)).returncode == 1
    token = run(env, "users", "token", "kabid").stdout.strip()
    assert len(token) >= 40


def test_serve_runs_gunicorn_on_loopback_and_applies_what_was_queued(env: dict[str, str]) -> None:
    from alert_webhook import create_app

    assert run(env, "db", "upgrade").returncode == 0
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    # Stored and answered by an earlier run that stopped before applying it (no applier in process).
    before = create_app(
        {
            "TESTING": True,
            **{
                name: env[name]
                for name in (
                    "BATIKNET_DATABASE_URL",
                    "BATIKNET_API_TOKEN",
                    "BATIKNET_INVENTORY",
                    "BATIKNET_INSTANCE_PATH",
                )
            },
        }
    )
    queued = json.loads((PAYLOADS / "isp_path_opd.json").read_text())
    assert before.test_client().post("/api/v1/alerts", json=queued, headers=headers).status_code == 200
    before.extensions["batiknet"].db.dispose()
    # A write that never ended (power cut before the rename): that delivery was never answered.
    unfinished = Path(env["BATIKNET_INSTANCE_PATH"]) / "spool" / ".01796000000000000-000000000-00.tmp"
    unfinished.write_text('{"recei')
    os.utime(unfinished, (time.time() - 3600, time.time() - 3600))

    with Server(env, workers=2) as server:

        def targets() -> list[str]:
            listed = requests.get(f"{server.base}/api/v1/cases", headers=headers, timeout=10).json()
            return sorted(case["target"] for case in listed["cases"])

        body = json.loads((PAYLOADS / "firing.json").read_text())
        answers = [
            requests.post(f"{server.base}/api/v1/alerts", json=body, headers=headers, timeout=10)
            for _ in range(4)
        ]
        assert [a.status_code for a in answers] == [200] * 4
        server.wait_for(lambda: targets() == ["kec-barat", "setda"], "not applied", 10)

        def exposition() -> str:
            return requests.get(f"{server.base}/metrics", headers=SCRAPER, timeout=10).text

        # The copies after the first may still wait (or their file be removed just after the commit).
        server.wait_for(lambda: metric_value(exposition(), "batiknet_notifications_queued") == 0, "queued")
        assert metric_value(exposition(), "batiknet_notifications_deduplicated_total") == 3
    assert "gunicorn" in server.output.lower() or "Booting worker" in server.output
    assert "1 notification(s) wait in" in server.output  # the one queued before it started
    assert "removed 1 spool file(s) whose writing never ended" in server.output
    assert not unfinished.exists()


def test_a_killed_applier_is_started_again_and_the_spool_drains(env: dict[str, str]) -> None:
    """The applier is the server's child with the applier's nice value. It outlives a reload of the
    workers; killed from outside, the master starts another, which applies what arrived meanwhile;
    stopping the server stops it too."""
    assert run(env, "db", "upgrade").returncode == 0
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    with Server(env, workers=1) as server:
        (first,) = server.wait_for(lambda: applier_pids(server.pid), "no applier process")
        # A graceful reload replaces the workers: the applier is not theirs to stop on their way out.
        workers = worker_pids(server.pid)
        os.kill(server.pid, signal.SIGHUP)
        server.wait_for(lambda: workers.isdisjoint(worker_pids(server.pid)), "the workers were not replaced")
        time.sleep(0.5)
        assert applier_pids(server.pid) == [first]
        os.kill(first, signal.SIGKILL)
        body = json.loads((PAYLOADS / "firing.json").read_text())
        delivered = requests.post(f"{server.base}/api/v1/alerts", json=body, headers=headers, timeout=10)
        assert delivered.status_code == 200
        (second,) = server.wait_for(
            lambda: [pid for pid in applier_pids(server.pid) if pid != first], "the applier was not restarted"
        )
        server.wait_for(
            lambda: requests.get(f"{server.base}/api/v1/cases", headers=headers, timeout=10).json()["cases"],
            "the restarted applier did not apply the spool",
        )
    assert f"applier process {first} ended" in server.output
    assert not Path(f"/proc/{second}").exists()
