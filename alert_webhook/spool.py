"""The spool: webhook notifications kept as files from their delivery until they are applied.

A delivery only writes its body to a new file here (to a hidden name, then renamed, so a file is either
complete or absent) and is answered: no database lock, no transaction, so the webhook keeps up with a
storm whatever the cases' database is doing. The applier (:mod:`alert_webhook.applier`,
:func:`services.apply_pending`) stores each raw notification in the database together with its effects,
in one transaction, and removes the file afterwards; a file whose name the database already holds was
applied before a stop and is only removed. Files are not fsync'ed: they survive a restart or a crash
of the server, like the database's own commits (SQLite runs with ``synchronous=NORMAL``).

File names sort in the order of delivery: the receipt instant in microseconds, then the process and a
counter of that process for deliveries of the same microsecond.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SUFFIX = ".json"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Spooled:
    name: str
    received_at: datetime
    path: Path

    def body(self) -> str:
        return self.path.read_text(encoding="utf-8")


class Spool:
    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._counter = itertools.count()  # next() is atomic under the interpreter lock
        directory.mkdir(parents=True, exist_ok=True)

    def put(self, body: str, received_at: datetime) -> str:
        """Keep a notification's body; returns its name. Raises OSError when it cannot be kept."""
        micros = (received_at - EPOCH) // timedelta(microseconds=1)
        name = f"{micros:017d}-{os.getpid():07d}-{next(self._counter):09d}"
        hidden = self.directory / f".{name}.tmp"
        # Plain file descriptors: a text-mode open() cost more than the rest of the delivery.
        descriptor = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(descriptor, body.encode())
        finally:
            os.close(descriptor)
        os.replace(hidden, self.directory / f"{name}{SUFFIX}")
        return name

    def names(self) -> list[str]:
        """Every waiting notification, oldest first."""
        return sorted(
            entry.removesuffix(SUFFIX)
            for entry in os.listdir(self.directory)
            if entry.endswith(SUFFIX) and not entry.startswith(".")
        )

    def oldest(self, limit: int) -> list[Spooled]:
        return [self._spooled(name) for name in self.names()[:limit]]

    def remove(self, name: str) -> None:
        (self.directory / f"{name}{SUFFIX}").unlink(missing_ok=True)

    def _spooled(self, name: str) -> Spooled:
        return Spooled(name, received_at_of(name), self.directory / f"{name}{SUFFIX}")


def received_at_of(name: str) -> datetime:
    return EPOCH + timedelta(microseconds=int(name.split("-", 1)[0]))
