"""The process that applies queued webhook notifications, beside the server's HTTP workers.

The webhook answers as soon as a notification is stored (:func:`services.store_notification`); the
effects on the cases follow through :func:`services.apply_pending`, run here in a process of its own: a
thread inside an HTTP worker would share that worker's interpreter lock with the request threads and so
hold the database's writer lock (SQLite has one) several times as long while waiting for its turn, which
holds every delivery up. ``batiknet-cases serve`` forks it from the preloaded application before gunicorn
starts (so it keeps Python's default signal handlers) and terminates it when gunicorn exits: a
transaction cut short rolls back, and its notifications stay queued.

The HTTP workers wake it by writing a byte to a pipe when they store something new; it also looks every
``POLL_SECONDS`` (notifications stored by another server on the same database, or after a failure), and
its first round applies whatever a previous run left queued. The tests call ``apply_pending`` themselves.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import select
import time

from flask import Flask

from . import services

log = logging.getLogger(__name__)

EXTENSION = "batiknet_applier"
POLL_SECONDS = 1.0
# Deliveries come in bursts (every group of an incident at once): gathering them for a moment applies
# many in one transaction instead of one transaction each.
GATHER_SECONDS = 0.01
NICENESS = 10


class ApplierProcess:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self._parent = os.getpid()
        self._wake_reader, self._wake_writer = os.pipe()
        os.set_blocking(self._wake_reader, False)
        os.set_blocking(self._wake_writer, False)
        self._process = multiprocessing.get_context("fork").Process(
            target=self._run, name="batiknet-cases-applier", daemon=True
        )

    def start(self) -> None:
        self._process.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._process.terminate()
        self._process.join(timeout)

    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError):  # the pipe is full of wake-ups already
            os.write(self._wake_writer, b"\0")

    def _run(self) -> None:
        # Connections belong to one process: never use one the parent opened.
        self.app.extensions["batiknet"].db.engine.dispose(close=False)
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
        try:
            with self.app.app_context():
                # Looking costs no write lock; applying takes it.
                while services.notifications_queued():
                    services.apply_pending()
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
