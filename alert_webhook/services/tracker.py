"""The Tracker: everything the services need, built once from the settings and passed to every call.

Nothing below the views fetches state from a global: a service function takes the tracker as its first
argument, so the applier process, the command line and the tests call the same functions without a Flask
application context.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..core import clock, time_rules
from ..core.outbox import Channel, RetryPolicy, Send
from ..core.workflow import Actor, Role
from ..notify import senders_from_settings
from ..promquery import PrometheusClient
from ..settings import Settings, working_calendar
from ..spool import Spool
from ..store.db import Database
from ..store.models import User

__all__ = ["SYSTEM", "Tracker", "actor_of"]

SYSTEM = Actor(user_id=None, username="alertmanager", role=Role.SYSTEM)


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Tracker:
    settings: Settings
    database_url: str  # as configured, else the SQLite file in the instance folder
    db: Database
    calendar: clock.WorkingCalendar
    inventory: Any | None  # batiknet.inventory.Inventory
    spool: Spool  # webhook notifications waiting to be applied
    now: Callable[[], datetime] = _utc_now  # the clock: tests set it
    prometheus: PrometheusClient | None = None
    # The channels messages to people go through (core/outbox.py); none configured: nobody is told.
    senders: Mapping[Channel, Send] = field(default_factory=dict)
    retry_policy: RetryPolicy = field(default_factory=RetryPolicy)

    # The inventory does not change while the tracker runs; its ancestor chains are asked for per alert.
    _ancestors: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    @classmethod
    def from_settings(
        cls, settings: Settings, instance_path: Path, now: Callable[[], datetime] | None = None
    ) -> Tracker:
        """Connect the database, load the inventory and the calendar; ``instance_path`` holds the state."""
        database_url = settings.database_url or f"sqlite:///{instance_path / 'cases.db'}"
        inventory = None
        if settings.inventory is not None:
            from batiknet.inventory import load_inventory

            inventory = load_inventory(settings.inventory)
        return cls(
            settings=settings,
            database_url=database_url,
            db=Database.connect(database_url),
            calendar=working_calendar(settings),
            inventory=inventory,
            spool=Spool(instance_path / "spool"),
            now=now or _utc_now,
            prometheus=PrometheusClient(settings.prometheus_url) if settings.prometheus_url else None,
            senders=senders_from_settings(settings),
            retry_policy=RetryPolicy(
                first_delay=timedelta(seconds=settings.notify_retry_seconds),
                max_attempts=settings.notify_max_attempts,
            ),
        )

    @property
    def reopen_window_seconds(self) -> float:
        return self.settings.reopen_window_hours * 3600

    def ancestors(self, target: str) -> tuple[str, ...]:
        if target not in self._ancestors:
            try:
                chain = self.inventory.ancestors(target) if self.inventory is not None else ()
            except KeyError:
                chain = ()
            self._ancestors[target] = chain
        return self._ancestors[target]

    def inventory_entry(self, target: str) -> Any | None:
        """The inventory's entry for a target id (None: no inventory, or not in it)."""
        if self.inventory is None:
            return None
        try:
            return self.inventory.target(target)
        except KeyError:
            return None

    def target_name(self, target: str) -> str:
        entry = self.inventory_entry(target)
        return entry.name if entry is not None else target

    def working_seconds(self, start: datetime, end: datetime) -> float:
        return clock.working_seconds_between(self.calendar, start, end)

    def entry_clock(self, now: datetime) -> time_rules.Now:
        """``now`` with the skew allowed for the times people enter (:mod:`..core.time_rules`)."""
        return time_rules.Now(now, timedelta(seconds=self.settings.clock_skew_seconds))


def actor_of(user: User) -> Actor:
    return Actor(user_id=user.id, username=user.username, role=Role(user.role))
