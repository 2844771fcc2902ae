"""The process that applies queued webhook notifications, beside the server's HTTP workers.

The webhook answers as soon as a notification is stored (:func:`notifications.store_notification`); the
effects on the cases follow through :func:`notifications.apply_pending`, run here in a process of its own: a
thread inside an HTTP worker would share that worker's interpreter lock with the request threads and so
hold the database's writer lock (SQLite has one) several times as long while waiting for its turn, which
holds every delivery up. ``batiknet-cases serve`` forks it from the preloaded application before gunicorn
starts.

The HTTP workers wake it by writing a byte to a pipe when they store something new; it also looks every
``POLL_SECONDS`` (notifications stored by another server sharing the spool, or after a failure), and its
first round applies whatever a previous run left queued. The tests call ``apply_pending`` themselves.
A thread of the same process sends the outbox's messages to people (:mod:`alert_webhook.dispatcher`).

If the process dies (killed from outside, out of memory), a watchdog thread of the server's master process
starts another, after a pause that grows while it keeps dying (as systemd's ``RestartSec`` would), so the
spool never silently stops draining while the server answers. A process forked from the master after
gunicorn started inherits its listening sockets and signal handlers: it closes the former (or it would
hold the port after the server ended) and resets the latter.

Stopping is the master's to decide: the applier ignores SIGTERM, SIGINT and SIGHUP. When the server stops
(after its HTTP workers have ended, so nothing more is accepted), the master tells the applier through a
pipe; it applies what was received until then, for at most ``BATIKNET_SPOOL_DRAIN_SECONDS``, and ends.
What it could not apply (the database away, the time up) stays in the spool and the master says so in
the log; the next applier of that spool applies it (docs/tracker.md, "Stopping, restarting, several
servers"). An applier whose master has died drains the same way.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import select
import signal
import socket
import stat
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from flask import Flask

from .dispatcher import Dispatcher
from .extension import tracker_of
from .services import notifications
from .spool import Spool, received_at_of

log = logging.getLogger(__name__)

EXTENSION = "batiknet_applier"
POLL_SECONDS = 1.0
# Deliveries come in bursts (every group of an incident at once): gathering them for a moment applies
# many in one transaction instead of one transaction each.
GATHER_SECONDS = 0.01
NICENESS = 10
RESTART_DELAY_SECONDS = (1.0, 30.0)  # the first pause before a restart, and the longest
STABLE_SECONDS = 60.0  # a process that ran this long died of something new: the pause starts over
# Beyond the drain time, for the transaction under way to end before the master kills the applier.
KILL_MARGIN_SECONDS = 2.0
# A hidden spool file this old is a write that never ended (its delivery was never answered).
UNFINISHED_WRITE = timedelta(minutes=10)


class ApplierProcess:
    """The applier, forked from the server's master process and kept running by a watchdog thread there.

    A plain ``os.fork`` rather than :mod:`multiprocessing`: gunicorn forks its workers from the same
    master, and a worker that inherited a multiprocessing child would terminate it on its way out (at
    every graceful worker restart). A pipe whose writing end only the applier holds tells the watchdog
    when it has ended, whoever reaps it (gunicorn's master reaps every child it sees exit).
    """

    def __init__(self, app: Flask, drain_seconds: float) -> None:
        self.app = app
        self.drain_seconds = drain_seconds
        self._parent = os.getpid()
        self._wake_reader, self._wake_writer = os.pipe()
        os.set_blocking(self._wake_reader, False)
        os.set_blocking(self._wake_writer, False)
        # The master writes one byte here when the server stops; it is never read, so it stays "stop".
        self._stop_reader, self._stop_writer = os.pipe()
        self._lock = threading.Lock()  # between the watchdog's restarts and stop()
        self._stopping = False
        self._pid = 0
        self._life_reader = -1

    @property
    def spool(self) -> Spool:
        return tracker_of(self.app).spool

    def start(self) -> None:
        self._report_waiting()
        self._spawn()
        threading.Thread(target=self._watch, name="applier-watchdog", daemon=True).start()

    def stop(self) -> None:
        """The server stops and accepts nothing more: let the applier apply what was received until now
        (within the drain time), end it, and say what is left."""
        tracker = tracker_of(self.app)
        with self._lock:
            self._stopping = True
            pid, life = self._pid, self._life_reader
        until = tracker.now()
        os.write(self._stop_writer, b"\0")
        if not select.select([life], [], [], self.drain_seconds + KILL_MARGIN_SECONDS)[0]:
            log.error("applier process %d still busy after %.0f s; killed", pid, self.drain_seconds)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        _reap(pid)
        left = self.spool.names(received_until=until)
        if left:
            log.warning(
                "stopped with %d accepted notification(s) not applied, the oldest received at %s; they stay "
                "in %s for the next applier of this spool",
                len(left),
                received_at_of(left[0]).isoformat(),
                self.spool.directory,
            )
        else:
            log.info("stopped with every accepted notification applied")

    def _report_waiting(self) -> None:
        # The files' own times are the machine's clock, whatever the tracker's.
        unfinished = self.spool.remove_unfinished(older_than=datetime.now(UTC) - UNFINISHED_WRITE)
        if unfinished:
            log.warning("removed %d spool file(s) whose writing never ended (never answered)", unfinished)
        waiting = self.spool.names()
        if waiting:
            log.warning(
                "%d notification(s) wait in %s, the oldest received at %s; applying them first",
                len(waiting),
                self.spool.directory,
                received_at_of(waiting[0]).isoformat(),
            )

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
        _leave_the_masters_state()
        # Connections belong to one process: never use one the parent opened.
        tracker_of(self.app).db.engine.dispose(close=False)
        # Answering deliveries comes first; applying them may wait for a free moment of the CPU.
        os.setpriority(os.PRIO_PROCESS, 0, NICENESS)
        # Beside the spool, the outbox: messages to people are sent from here, never from a request.
        dispatcher = Dispatcher(tracker_of(self.app))
        dispatcher.start()
        while not self._stop_requested():
            self._apply_while(lambda: not self._stop_requested())
            woken, _, _ = select.select([self._wake_reader, self._stop_reader], [], [], POLL_SECONDS)
            if self._wake_reader in woken:
                time.sleep(GATHER_SECONDS)
                self._drain_wake_ups()
        self._drain()
        dispatcher.stop()

    def _stop_requested(self) -> bool:
        return os.getppid() != self._parent or bool(select.select([self._stop_reader], [], [], 0)[0])

    def _drain(self) -> None:
        """Apply what was received until now, oldest first, until none is left or the drain time is up."""
        until = tracker_of(self.app).now()
        deadline = time.monotonic() + self.drain_seconds

        def unfinished() -> bool:
            return time.monotonic() < deadline and bool(self.spool.names(received_until=until))

        while unfinished():
            self._apply_while(unfinished, deadline)

    def _drain_wake_ups(self) -> None:
        # Before looking at the queue, so that a delivery stored meanwhile wakes the next round.
        with contextlib.suppress(BlockingIOError):
            while os.read(self._wake_reader, 4096):
                pass

    def _apply_while(self, keep_going: Callable[[], bool], deadline: float = math.inf) -> None:
        """Apply batches while there are some and ``keep_going()``; after an error, wait a round (at most
        until ``deadline``)."""
        tracker = tracker_of(self.app)
        try:
            # apply_pending looks at the spool before taking the write lock: an empty one costs none.
            while keep_going() and notifications.apply_pending(tracker):
                pass
        except Exception:  # the database is away: everything stays queued for the next round
            log.exception("cannot apply queued notifications now; retrying")
            time.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))


def _leave_the_masters_state() -> None:
    """Forget what a process forked from gunicorn's master inherits and must not keep: its listening
    sockets (the port would stay bound after the server ends, and a restart fail with "Connection in
    use") and its signal handlers (which only queue a signal for the master's loop, that is not running
    here). The server's signals are the master's: it stops the applier itself."""
    for number in signal.valid_signals():
        if callable(signal.getsignal(number)):
            signal.signal(number, signal.SIG_DFL)
    for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    for entry in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
            descriptor = int(entry)
            if stat.S_ISSOCK(os.fstat(descriptor).st_mode):
                inherited = socket.socket(fileno=descriptor)
                listening = False
                try:
                    listening = bool(inherited.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN))
                finally:
                    if listening:
                        inherited.close()
                    else:
                        inherited.detach()


def start_applier(app: Flask) -> ApplierProcess:
    applier = ApplierProcess(app, tracker_of(app).settings.spool_drain_seconds)
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
