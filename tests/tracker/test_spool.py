"""The spool of webhook notifications: files in the order of receipt, complete or absent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from alert_webhook.spool import Spool

T0 = datetime(2026, 11, 30, 2, 55, 0, 123456, tzinfo=UTC)


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


def test_a_file_being_written_is_not_listed_and_removal_is_idempotent(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool")
    (spool.directory / ".00000000000000001-0000001-000000000.tmp").write_text("{")  # half-written
    name = spool.put("{}", T0)
    assert spool.names() == [name]
    spool.remove(name)
    spool.remove(name)  # a second applier may remove the same file
    assert spool.names() == []
