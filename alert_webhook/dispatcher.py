"""The outbox's dispatcher: a thread of the applier process that sends the messages to people when due.

It runs beside the spool's apply loop (:mod:`alert_webhook.applier`), in the one process ``serve`` keeps
alive beside gunicorn, so that no HTTP request ever waits for a mail server or Telegram. Each round is
:func:`services.outbox.dispatch_due`; between rounds it waits :data:`POLL_SECONDS` (a message is queued
by an HTTP worker or the applier, in another transaction: a look every second finds it soon enough and
costs one indexed query). A round that fails (the database away) is logged and tried again; a message
that fails is the outbox's to retry.

On a graceful stop the applier first applies its spool (which may queue messages), then stops this
thread: a round under way may finish within :data:`STOP_SECONDS`; a message still being sent after
that stays claimed and is sent again once its claim has run out (``services.outbox``, at least once).
"""

from __future__ import annotations

import logging
import threading

from .services import Tracker, outbox

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
STOP_SECONDS = 2.0


class Dispatcher:
    def __init__(self, tracker: Tracker) -> None:
        self.tracker = tracker
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="outbox-dispatcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(STOP_SECONDS)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                # A full batch means more may be due: go on without waiting.
                while (
                    len(outbox.dispatch_due(self.tracker)) == outbox.DISPATCH_BATCH
                    and not self._stop.is_set()
                ):
                    pass
            except Exception:
                log.exception("cannot dispatch the outbox now; retrying")
            self._stop.wait(POLL_SECONDS)
