"""The process that applies queued webhook notifications, beside the server's HTTP workers.

The webhook answers as soon as a notification is stored (:func:`notifications.store_notification`); the
effects on the cases follow through :func:`notifications.apply_pending`, run here in a process of its own: a
thread inside an HTTP worker would share that worker's interpreter lock with the request threads and so
hold the database's writer lock (SQLite has one) several times as long while waiting for its turn, which
holds every delivery up. ``batiknet-cases serve`` forks it from the preloaded application before gunicorn
starts (so it keeps Python's default signal handlers) and terminates it when gunicorn exits: a
transaction cut short rolls back, and its notifications stay queued.

The HTTP workers wake it by writing a byte to a pipe when they store something new; it also looks every
``POLL_SECONDS`` (notifications stored by another server on the same database, or after a failure), and
its first round applies whatever a previous run left queued. The tests call ``apply_pending`` themselves.

If the process dies (killed from outside, out of memory), a watchdog thread of the server's master process
starts another, after a pause that grows while it keeps dying (as systemd's ``RestartSec`` would), so the
spool never silently stops draining while the server answers.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
import signal
import threading
import time

from flask import Flask

from .extension import tracker_of
from .services import notifications

log = logging.getLogger(__name__)

EXTENSION = "batiknet_applier"
POLL_SECONDS = 1.0
# Deliveries come in bursts (every group of an incident at once): gathering them for a moment applies
# many in one transaction instead of one transaction each.
GATHER_SECONDS = 0.01
NICENESS = 10
RESTART_DELAY_SECONDS = (1.0, 30.0)  # the first pause before a restart, and the longest
STABLE_SECONDS = 60.0  # a process that ran this long died of something new: the pause starts over


class ApplierProcess:
    """The applier, forked from the server's master process and kept running by a watchdog thread there.

    A plain ``os.fork`` rather than :mod:`multiprocessing`: gunicorn forks its workers from the same
    master, and a worker that inherited a multiprocessing child would terminate it on its way out (at
    every graceful worker restart). A pipe whose writing end only the applier holds tells the watchdog
    when it has ended, whoever reaps it (gunicorn's master reaps every child it sees exit).
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._parent = os.getpid()
        self._wake_reader, self._wake_writer = os.pipe()
        os.set_blocking(self._wake_reader, False)
        os.set_blocking(self._wake_writer, False)
        self._lock = threading.Lock()  # between the watchdog's restarts and stop()
        self._stopping = False
        self._pid = 0
        self._life_reader = -1

    def start(self) -> None:
        self._spawn()
        threading.Thread(target=self._watch, name="applier-watchdog", daemon=True).start()

    def stop(self, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping = True
            pid, life = self._pid, self._life_reader
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        if not select.select([life], [], [], timeout)[0]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap(pid)

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping:
                return
            life_reader, life_writer = os.pipe()
            pid = os.fork()
            if pid == 0:
                os.close(life_reader)
                try:
                    self._run()
                finally:
                    os._exit(0)  # not the master's exit handlers: they belong to the master
            os.close(life_writer)
            if self._life_reader >= 0:
                os.close(self._life_reader)
            self._pid, self._life_reader = pid, life_reader
        log.info("applier process %d started", pid)

    def _watch(self) -> None:
        delay = RESTART_DELAY_SECONDS[0]
        while True:
            started = time.monotonic()
            os.read(self._life_reader, 1)  # end of file: the applier has ended
            _reap(self._pid)
            if self._stopping:
                return
            if time.monotonic() - started >= STABLE_SECONDS:
                delay = RESTART_DELAY_SECONDS[0]
            log.error("applier process %d ended; starting another in %.0f s", self._pid, delay)
            time.sleep(delay)
            self._spawn()
            if self._stopping:
                return
            delay = min(delay * 2, RESTART_DELAY_SECONDS[1])

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # the pipe is full of wake-ups already
            os.write(self._wake_writer, b"\0")

    def _run(self) -> None:
        # Connections belong to one process: never use one the parent opened.
        tracker_of(self.app).db.engine.dispose(close=False)
        # Answering deliveries comes first; applying them may wait for a free moment of the CPU.
        os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
        while os.getppid() == self._parent:
            self._apply_queue()
            woken, _, _ = select.select([self._wake_reader], [], [], POLL_SECONDS)
            if woken:
                time.sleep(GATHER_SECONDS)
                self._drain_wake_ups()

    def _drain_wake_ups(self) -> None:
        # Before looking at the queue, so that a delivery stored meanwhile wakes the next round.
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_reader, 4096):
                pass

    def _apply_queue(self) -> None:
        tracker = tracker_of(self.app)
        try:
            # apply_pending looks at the spool before taking the write lock: an empty one costs none.
            while notifications.apply_pending(tracker):
                pass
        except Exception:  # the database is away: everything stays queued for the next round
            log.exception("cannot apply queued notifications now; retrying")
            time.sleep(POLL_SECONDS)


def start_applier(app: Flask) -> ApplierProcess:
    applier = ApplierProcess(app)
    app.extensions[EXTENSION] = applier
    applier.start()
    return applier


def stop_applier(app: Flask) -> None:
    applier = app.extensions.get(EXTENSION)
    if applier is not None:
        applier.stop()


def wake_applier(app: Flask) -> None:
    """A notification was queued: apply it now rather than at the next look (no-op without an applier)."""
    applier = app.extensions.get(EXTENSION)
    if applier is not None:
        applier.wake()


def _reap(pid: int) -> None:
    """Collect an ended (or ending) applier's exit status, unless gunicorn's master did."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
