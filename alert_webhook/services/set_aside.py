"""Notifications set aside by the applier (:func:`.notifications.apply_pending`), for the admins: listed
with why, put back in the queue, or discarded. The page of set-aside notifications and ``batiknet-cases
spool rejected`` call these."""

from __future__ import annotations

import logging

from ..spool import SetAside
from .tracker import Tracker

log = logging.getLogger(__name__)

__all__ = ["discard", "entries", "excerpt", "retry"]


def entries(tracker: Tracker) -> list[SetAside]:
    """The notifications set aside, waiting for an admin, oldest received first."""
    return tracker.spool.set_aside_entries()


def excerpt(tracker: Tracker, name: str) -> str:
    return tracker.spool.excerpt(name)


def retry(tracker: Tracker, name: str, by: str) -> bool:
    """Put a set-aside notification back in the queue at its own place (after a fix, or once the
    database accepts it); False when there is no such notification."""
    retried = tracker.spool.retry(name)
    if retried:
        log.warning("set-aside notification %s put back in the queue by %s", name, by)
    return retried


def discard(tracker: Tracker, name: str, by: str) -> bool:
    """Delete a set-aside notification for good; False when there is no such notification."""
    discarded = tracker.spool.discard(name)
    if discarded:
        log.warning("set-aside notification %s discarded by %s", name, by)
    return discarded
