"""The spool of webhook notifications: files in the order of receipt, complete or absent, durable before
they are answered, with names unique across machines."""

from __future__ import annotations

import json
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from alert_webhook.spool import Spool
from tests.tracker.conftest import API_TOKEN

T0 = datetime(2026, 11, 30, 2, 55, 0, 123456, tzinfo=UTC)
PAYLOADS = Path(__file__).with_name("payloads")


class FsyncRecorder:
    """Stands in for ``os.fdatasync`` and ``os.fsync`` at the spool's seam: records what each call made
    durable (a file's content, or a directory's entries at that moment), then really fsyncs."""

    def __init__(self, directory_delay: float = 0.0, fail_directory: bool = False) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.directory_delay = directory_delay
        self.fail_directory = fail_directory
        self._lock = threading.Lock()

    def __call__(self, descriptor: int) -> None:
        path = os.readlink(f"/proc/self/fd/{descriptor}")
        if os.path.isdir(path):
            if self.fail_directory:
                raise OSError(5, "Input/output error (injected)")
            call = ("directory", path, frozenset(os.listdir(path)))
            with self._lock:
                self.calls.append(call)
            time.sleep(self.directory_delay)
        else:
            with self._lock:
                self.calls.append(("file", path, Path(path).read_text()))
        os.fsync(descriptor)

    def directory_syncs(self) -> list[frozenset[str]]:
        return [entries for kind, _, entries in self.calls if kind == "directory"]


def test_notifications_come_back_oldest_first_with_their_receipt_instant(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    later = spool.put('{"n": 2}', T0 + timedelta(microseconds=1))
    first = spool.put('{"n": 1}', T0)
    same_instant = spool.put(
        '{"n": 3}', T0 + timedelta(microseconds=1)
    )  # after `later`: this process's count
    assert spool.names() == [first, later, same_instant]
    [oldest, *_] = spool.oldest(2)
    assert (oldest.name, oldest.received_at, oldest.body()) == (first, T0, '{"n": 1}')
    assert len(spool.oldest(2)) == 2
    assert spool.names(received_until=T0) == [first]


def test_a_file_being_written_is_not_listed_and_removal_is_idempotent(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    unfinished = spool.directory / ".00000000000000001-000000000-0123456789abcdef.tmp"
    unfinished.write_text("{")  # half-written
    name = spool.put("{}", T0)
    assert spool.names() == [name]
    spool.remove(name)
    spool.remove(name)  # a second applier may remove the same file
    assert spool.names() == []
    # A write that never ended (its delivery was never answered) is removed once old enough.
    assert spool.remove_unfinished(older_than=datetime.now(UTC) - timedelta(minutes=10)) == 0
    assert spool.remove_unfinished(older_than=datetime.now(UTC) + timedelta(seconds=1)) == 1
    assert not unfinished.exists()


def test_names_stay_unique_where_process_ids_repeat(tmp_path: Path) -> None:
    """Two containers sharing one spool volume: each server's process may have the same PID and the same
    count, and receive at the same microsecond; their files must not replace each other."""
    shared = tmp_path / "spool"
    first, second = Spool(shared), Spool(shared)
    names = {first.put('{"from": 1}', T0), second.put('{"from": 2}', T0)}
    assert len(names) == 2 and set(first.names()) == names
    assert all(len(name) <= 64 for name in names)  # notifications.spool_name is String(64)


def test_a_file_is_durable_before_put_returns(tmp_path: Path) -> None:
    """Written and flushed under a hidden name, then renamed, then the directory fsynced with the new name
    in it: a power cut after put() returns cannot lose it."""
    recorder = FsyncRecorder()
    spool = Spool(tmp_path / "spool", fdatasync=recorder, fsync=recorder)
    name = spool.put('{"n": 1}', T0)
    (file_call, directory_call) = recorder.calls
    assert file_call == ("file", str(spool.directory / f".{name}.tmp"), '{"n": 1}')
    assert directory_call[:2] == ("directory", str(spool.directory))
    assert f"{name}.json" in directory_call[2] and f".{name}.tmp" not in directory_call[2]


def test_deliveries_arriving_together_share_the_directory_fsync(tmp_path: Path) -> None:
    """Group commit: 16 concurrent deliveries need fewer directory fsyncs than deliveries, yet each returns
    only after a directory fsync that began once its own file had its name."""
    recorder = FsyncRecorder(directory_delay=0.05)
    spool = Spool(tmp_path / "spool", fdatasync=recorder, fsync=recorder)
    with ThreadPoolExecutor(16) as pool:
        names = list(pool.map(lambda n: spool.put(json.dumps({"n": n}), T0), range(16)))
    syncs = recorder.directory_syncs()
    assert len(syncs) < len(names)
    for name in names:
        assert any(f"{name}.json" in entries for entries in syncs), name


def test_a_delivery_is_durable_before_it_is_answered(app: Any, tmp_path: Path) -> None:
    """Through the webhook: the 200 comes after the file's and the directory's fsync, and a failing fsync
    turns the answer into a 503 (Alertmanager retries) instead of a 200."""
    headers = {"Authorization": f"Bearer {API_TOKEN}"}
    body = json.loads((PAYLOADS / "firing.json").read_text())
    tracker = app.extensions["batiknet"]
    recorder = FsyncRecorder()
    tracker.spool = Spool(tracker.spool.directory, fdatasync=recorder, fsync=recorder)
    answer = app.test_client().post("/api/v1/alerts", json=body, headers=headers)
    assert answer.status_code == 200
    name = answer.get_json()["id"]
    kinds = [(kind, Path(path).name) for kind, path, _ in recorder.calls]
    assert kinds == [("file", f".{name}.tmp"), ("directory", "spool")]
    assert f"{name}.json" in recorder.directory_syncs()[0]

    failing = FsyncRecorder(fail_directory=True)
    tracker.spool = Spool(tracker.spool.directory, fdatasync=failing, fsync=failing)
    refused = app.test_client().post("/api/v1/alerts", json=body, headers=headers)
    assert refused.status_code == 503 and refused.headers["Retry-After"]
