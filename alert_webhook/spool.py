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

A notification that cannot be applied is **set aside**: its file moves, unchanged, into ``rejected/`` with
a reason file beside it, where it waits for an admin (the page of set-aside notifications, ``batiknet-cases
spool rejected``) to retry it (it moves back, keeping its name and so its place and instant) or discard it.
It never holds up the files behind it.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

SUFFIX = ".json"
HIDDEN_SUFFIX = ".tmp"
REJECTED = "rejected"  # the folder of the set-aside notifications, inside the spool
REASON_SUFFIX = ".reason"
SET_ASIDE_KINDS = ("unreadable", "refused", "failed")  # see SetAside
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAME = re.compile(r"[0-9]{17}-[0-9]{9}-[0-9a-f]{16}")  # what put() names a file


@dataclass(frozen=True)
class Spooled:
    name: str
    received_at: datetime | None  # None: not a name the spool gives (a file put there by hand)
    path: Path

    def body(self) -> str:
        return self.path.read_text(encoding="utf-8")


@dataclass(frozen=True)
class SetAside:
    """A notification set aside, and why: ``kind`` is ``unreadable`` (not UTF-8, not JSON, not a
    notification this version can read), ``refused`` (the database refused its values) or ``failed``
    (applying it failed on every attempt: a bug)."""

    name: str
    received_at: datetime | None
    kind: str
    error: str
    attempts: int
    set_aside_at: datetime | None
    size: int


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
        self._failures: dict[str, int] = {}  # failed attempts to apply, by name (the applier's process)
        self._directory_sync = GroupSync(lambda: self._sync(self.directory))
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
        names = sorted(name for name in self._entries() if NAME.fullmatch(name))
        if received_until is None:
            return names
        last = f"{_micros(received_until):017d}"
        return [name for name in names if name[:17] <= last]

    def oldest(self, limit: int) -> list[Spooled]:
        """The next notifications to apply, oldest first; files the spool did not name (put there by
        hand, or by another program) come first, to be set aside."""
        strangers = sorted(name for name in self._entries() if not NAME.fullmatch(name))
        return [self._spooled(name) for name in (strangers + self.names())[:limit]]

    def _entries(self) -> list[str]:
        return [
            entry.removesuffix(SUFFIX)
            for entry in os.listdir(self.directory)
            if entry.endswith(SUFFIX) and not entry.startswith(".")
        ]

    def remove(self, name: str) -> None:
        (self.directory / f"{name}{SUFFIX}").unlink(missing_ok=True)

    # --- set aside ----------------------------------------------------------------------------------------

    @property
    def rejected(self) -> Path:
        return self.directory / REJECTED

    def count_failure(self, name: str) -> int:
        """One more failed attempt to apply ``name``; returns how many so far."""
        self._failures[name] = self._failures.get(name, 0) + 1
        return self._failures[name]

    def set_aside(self, name: str, kind: str, error: str, attempts: int, at: datetime) -> None:
        """Move a notification out of the queue into ``rejected/``, its reason written first (a stop in
        between leaves a reason without its file, which :meth:`set_aside_entries` ignores)."""
        self.rejected.mkdir(exist_ok=True)
        reason = {"kind": kind, "error": error, "attempts": attempts, "set_aside_at": at.isoformat()}
        (self.rejected / f"{name}{REASON_SUFFIX}").write_text(json.dumps(reason), encoding="utf-8")
        os.replace(self.directory / f"{name}{SUFFIX}", self.rejected / f"{name}{SUFFIX}")
        self._sync(self.rejected, self.directory)
        self._failures.pop(name, None)

    def set_aside_entries(self) -> list[SetAside]:
        """Every notification set aside, oldest received first."""
        if not self.rejected.is_dir():
            return []
        names = sorted(
            entry.removesuffix(SUFFIX) for entry in os.listdir(self.rejected) if entry.endswith(SUFFIX)
        )
        return [entry for entry in map(self._set_aside_entry, names) if entry is not None]

    def set_aside_path(self, name: str) -> Path:
        return self.rejected / f"{name}{SUFFIX}"

    def excerpt(self, name: str, limit: int = 300) -> str:
        """The beginning of a set-aside body as text, undecodable bytes shown as U+FFFD."""
        if not _plain(name):
            return ""
        try:
            with self.set_aside_path(name).open("rb") as file:
                return file.read(limit).decode("utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def retry(self, name: str) -> bool:
        """Put a set-aside notification back in the queue, at its own place; False if there is none."""
        if not _plain(name):
            return False
        try:
            os.replace(self.set_aside_path(name), self.directory / f"{name}{SUFFIX}")
        except FileNotFoundError:
            return False
        (self.rejected / f"{name}{REASON_SUFFIX}").unlink(missing_ok=True)
        self._sync(self.directory, self.rejected)
        return True

    def discard(self, name: str) -> bool:
        """Delete a set-aside notification for good; False if there is none."""
        if not _plain(name):
            return False
        try:
            self.set_aside_path(name).unlink()
        except FileNotFoundError:
            return False
        (self.rejected / f"{name}{REASON_SUFFIX}").unlink(missing_ok=True)
        return True

    def _set_aside_entry(self, name: str) -> SetAside | None:
        try:
            size = self.set_aside_path(name).stat().st_size
        except FileNotFoundError:  # discarded meanwhile
            return None
        try:
            reason = json.loads((self.rejected / f"{name}{REASON_SUFFIX}").read_text(encoding="utf-8"))
            at = datetime.fromisoformat(reason["set_aside_at"])
            kind, error, attempts = str(reason["kind"]), str(reason["error"]), int(reason["attempts"])
        except (OSError, ValueError, KeyError, TypeError):  # the reason was lost: the file still counts
            kind, error, attempts, at = "failed", "the reason was not recorded", 0, None
        return SetAside(name, _received_at(name), kind, error, attempts, at, size)

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
        return Spooled(name, _received_at(name), self.directory / f"{name}{SUFFIX}")

    def _sync(self, *directories: Path) -> None:
        for directory in directories:
            self._sync_one(directory)

    def _sync_one(self, directory: Path) -> None:
        descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
        try:
            self._fsync(descriptor)
        finally:
            os.close(descriptor)


def _micros(instant: datetime) -> int:
    return (instant - EPOCH) // timedelta(microseconds=1)


def received_at_of(name: str) -> datetime:
    return EPOCH + timedelta(microseconds=int(name.split("-", 1)[0]))


def _plain(name: str) -> bool:
    """A name given from outside (the page, the command line) names a file of the folder, nothing else."""
    return bool(name) and "/" not in name and "\0" not in name and not name.startswith(".")


def _received_at(name: str) -> datetime | None:
    return received_at_of(name) if NAME.fullmatch(name) else None
