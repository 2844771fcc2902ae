"""The spool: webhook notifications kept as files from their delivery until they are applied.

A delivery only writes its body to a new file here and is answered: no database lock, no transaction, so
the webhook keeps up with a storm whatever the cases' database is doing. The applier
(:mod:`alert_webhook.applier`, :func:`notifications.apply_pending`) stores each raw notification in the
database together with its effects, in one transaction, and removes the file afterwards; a file whose
name the database already holds was applied before a stop and is only removed.

A file is durable before the delivery is answered, so that a 200 survives a power cut: the body is
written to a hidden name and flushed to disk (``fdatasync``: its data and what is needed to read them
back), renamed (so a file is either complete or absent), and then the directory is fsync'ed, which makes
the new name itself durable. One fsync of the directory covers every
rename made before it began, so deliveries arriving together share it (:class:`GroupSync`).

Several servers on one database may share one spool (one instance folder that they all mount): every
applier then applies every file, oldest first, and the database still applies each exactly once (its
spool name is unique there). File names are therefore unique across machines, not only processes (a
process id repeats between containers): the receipt instant in microseconds, so that names sort in the
order of delivery, then a counter of the process (deliveries of one process in one microsecond keep
their order) and 64 random bits.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SUFFIX = ".json"
HIDDEN_SUFFIX = ".tmp"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Spooled:
    name: str
    received_at: datetime
    path: Path

    def body(self) -> str:
        return self.path.read_text(encoding="utf-8")


class GroupSync:
    """Group commit: a caller returns once a ``sync`` that began after its call has finished.

    Callers that arrive while a sync runs wait for it to end and then share the next one, so a burst of
    deliveries costs a few fsyncs of the directory instead of one each. A failed sync raises in the
    caller that ran it; the others try again themselves.
    """

    def __init__(self, sync: Callable[[], None]) -> None:
        self._sync = sync
        self._changed = threading.Condition()
        self._requested = 0  # calls so far
        self._covered = 0  # calls covered by a finished sync
        self._running = False

    def wait(self) -> None:
        with self._changed:
            self._requested += 1
            ticket = self._requested
            while self._covered < ticket:
                if self._running:
                    self._changed.wait()
                    continue
                self._running = True
                covering = self._requested  # every call so far came after its own change
                self._changed.release()
                try:
                    self._sync()
                finally:
                    self._changed.acquire()
                    self._running = False
                    self._changed.notify_all()
                self._covered = covering


class Spool:
    """The spool directory. ``fdatasync`` (a file) and ``fsync`` (the directory) are the calls that make
    data durable; a test records them."""

    def __init__(
        self,
        directory: Path,
        fdatasync: Callable[[int], None] = os.fdatasync,
        fsync: Callable[[int], None] = os.fsync,
    ) -> None:
        self.directory = directory
        self._fdatasync = fdatasync
        self._fsync = fsync
        self._counter = itertools.count()  # next() is atomic under the interpreter lock
        self._directory_sync = GroupSync(self._sync_directory)
        directory.mkdir(parents=True, exist_ok=True)

    def put(self, body: str, received_at: datetime) -> str:
        """Keep a notification's body durably; returns its name. Raises OSError when it cannot be kept."""
        name = f"{_micros(received_at):017d}-{next(self._counter):09d}-{secrets.token_hex(8)}"
        hidden = self.directory / f".{name}{HIDDEN_SUFFIX}"
        # Plain file descriptors: a text-mode open() cost more than the rest of the delivery.
        descriptor = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            data = memoryview(body.encode())
            while data:
                data = data[os.write(descriptor, data) :]
            self._fdatasync(descriptor)
        except BaseException:
            hidden.unlink(missing_ok=True)
            raise
        finally:
            os.close(descriptor)
        os.replace(hidden, self.directory / f"{name}{SUFFIX}")
        self._directory_sync.wait()
        return name

    def names(self, received_until: datetime | None = None) -> list[str]:
        """Every waiting notification (received at or before ``received_until`` if given), oldest first."""
        names = sorted(
            entry.removesuffix(SUFFIX)
            for entry in os.listdir(self.directory)
            if entry.endswith(SUFFIX) and not entry.startswith(".")
        )
        if received_until is None:
            return names
        last = f"{_micros(received_until):017d}"
        return [name for name in names if name[:17] <= last]

    def oldest(self, limit: int) -> list[Spooled]:
        return [self._spooled(name) for name in self.names()[:limit]]

    def remove(self, name: str) -> None:
        (self.directory / f"{name}{SUFFIX}").unlink(missing_ok=True)

    def remove_unfinished(self, older_than: datetime) -> int:
        """Remove files whose writing never ended (the writer died before the rename; that delivery was
        never answered) and that are older than ``older_than``; returns how many."""
        removed = 0
        for entry in os.scandir(self.directory):
            if entry.name.startswith(".") and entry.name.endswith(HIDDEN_SUFFIX):
                with contextlib.suppress(FileNotFoundError):  # another server's write ended meanwhile
                    if datetime.fromtimestamp(entry.stat().st_mtime, UTC) < older_than:
                        os.unlink(entry.path)
                        removed += 1
        return removed

    def _spooled(self, name: str) -> Spooled:
        return Spooled(name, received_at_of(name), self.directory / f"{name}{SUFFIX}")

    def _sync_directory(self) -> None:
        descriptor = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self._fsync(descriptor)
        finally:
            os.close(descriptor)


def _micros(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(microseconds=1)


def received_at_of(name: str) -> datetime:
    return EPOCH + timedelta(microseconds=int(name.split("-", 1)[0]))
