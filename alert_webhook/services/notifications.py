"""Webhook notifications, from the spool to the database. The applier's only entry point is
:func:`apply_pending`; a webhook delivery only calls :func:`store_notification`.

Each notification is planned by the pure rules (:mod:`..core.ingest`) against a snapshot of the cases it
may touch, and its effects are written in the same transaction as the raw notification. Also here:
refused deliveries counted, and Alertmanager's Watchdog heartbeat.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy import func as sql
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from ..core import ingest
from ..core.alertmanager import Notification as ParsedNotification
from ..core.alertmanager import parse_notification
from ..core.workflow import CaseSource, CaseState, EventKind
from ..spool import Spooled
from ..store.db import serialize_writers
from ..store.models import AlertEpisode, Case, CaseEvent, Heartbeat, Notification, RejectionCount
from . import outbox
from .cases import CASE_TARGETS, CASES, INSERT_CASE_TARGET, insert_case
from .casework import record_recovery
from .tracker import SYSTEM, Tracker

log = logging.getLogger(__name__)

__all__ = [
    "AppliedNotification",
    "apply_pending",
    "heartbeat_stale",
    "last_heartbeat",
    "record_heartbeat",
    "record_rejection",
    "store_notification",
]


@dataclass(frozen=True)
class AppliedNotification:
    spool_name: str
    notification_id: int
    effects: int  # 0: it changed nothing (a repeat, the HA peer's copy, a late firing...)
    case_ids: tuple[int, ...]
    error: str | None = None  # it could not be applied and was skipped


# A batch of spooled notifications is applied in one transaction, which on SQLite holds the only writer
# lock (the pages' actions wait for it): the batch ends after a short time, whatever its size.
APPLY_BATCH = 100
APPLY_BUDGET_SECONDS = 0.05

# Ingestion runs table-level (Core) statements on the transaction's connection: the ORM's execution path
# (bulk-insert bookkeeping, entity loading) cost more than the statements themselves. The statements of
# every notification are built once, for the same reason.
_NOTIFICATIONS = Notification.__table__
_CASES = CASES
_CASE_TARGETS = CASE_TARGETS
_EPISODES = AlertEpisode.__table__
_EVENTS = CaseEvent.__table__
_NOTIFICATION_WITH_CONTENT = (
    select(_NOTIFICATIONS.c.id).where(_NOTIFICATIONS.c.content_sha256 == bindparam("digest")).limit(1)
)
_NOTIFICATIONS_OF_SPOOL_NAMES = select(_NOTIFICATIONS.c.spool_name).where(
    _NOTIFICATIONS.c.spool_name.in_(bindparam("names", expanding=True))
)
_INSERT_NOTIFICATION = _NOTIFICATIONS.insert().returning(_NOTIFICATIONS.c.id)
_EPISODES_BY_FINGERPRINT = select(
    _EPISODES.c.fingerprint, _EPISODES.c.starts_at, _EPISODES.c.case_id, _EPISODES.c.status
).where(_EPISODES.c.fingerprint.in_(bindparam("fingerprints", expanding=True)))
_LATEST_CASE_OF_KEY = select(sql.max(_CASES.c.id)).where(_CASES.c.group_key == bindparam("key"))
_ONGOING_CASES_OF_TARGETS = (
    select(_CASES.c.id, _CASES.c.target)
    .where(
        _CASES.c.target.in_(bindparam("targets", expanding=True)),
        _CASES.c.source == CaseSource.ALERT,
        _CASES.c.state != CaseState.CLOSED,
        _CASES.c.network_restored_at.is_(None),
    )
    .order_by(_CASES.c.id)
)
_FIRING_EPISODES_OF_CASES = select(_EPISODES.c.case_id, _EPISODES.c.fingerprint, _EPISODES.c.starts_at).where(
    _EPISODES.c.case_id.in_(bindparam("case_ids", expanding=True)), _EPISODES.c.status == "firing"
)
_TARGETS_OF_CASES = select(_CASE_TARGETS.c.case_id, _CASE_TARGETS.c.target).where(
    _CASE_TARGETS.c.case_id.in_(bindparam("case_ids", expanding=True))
)
_CASES_BY_ID = select(
    _CASES.c.id, _CASES.c.group_key, _CASES.c.target, _CASES.c.state, _CASES.c.network_restored_at
).where(_CASES.c.id.in_(bindparam("case_ids", expanding=True)))
_INSERT_EPISODES = _EPISODES.insert()
_INSERT_EVENTS = _EVENTS.insert()
_RESOLVE_EPISODE = (
    update(_EPISODES)
    .where(_EPISODES.c.fingerprint == bindparam("fp"), _EPISODES.c.starts_at == bindparam("starts"))
    .values(status="resolved", ends_at=bindparam("ends"), last_seen_at=bindparam("seen"))
)


def _world(
    connection: Connection, tracker: Tracker, notification: ParsedNotification, key: str
) -> ingest.World:
    keys = {(a.fingerprint, a.starts_at) for a in notification.alerts}
    episodes: dict[ingest.EpisodeKey, ingest.EpisodeState] = {}
    case_ids: set[int] = set()
    fingerprints = {fp for fp, _ in keys}
    if fingerprints:
        rows = connection.execute(_EPISODES_BY_FINGERPRINT, {"fingerprints": list(fingerprints)})
        for fp, starts_at, case_id, status in rows:
            if (fp, starts_at) in keys:
                episodes[(fp, starts_at)] = ingest.EpisodeState(case_id, status)
                if case_id is not None:
                    case_ids.add(case_id)
    latest_id = connection.scalar(_LATEST_CASE_OF_KEY, {"key": key})
    latest_by_key = {key: latest_id} if latest_id is not None else {}
    if latest_id is not None:
        case_ids.add(latest_id)
    upstreams = {u for a in notification.alerts if a.target for u in tracker.ancestors(a.target)}
    ongoing_by_target: dict[str, int] = {}
    if upstreams:
        for case_id, target in connection.execute(_ONGOING_CASES_OF_TARGETS, {"targets": list(upstreams)}):
            ongoing_by_target[target] = case_id
            case_ids.add(case_id)
    cases: dict[int, ingest.CaseState] = {}
    if case_ids:
        ids = {"case_ids": list(case_ids)}
        firing: dict[int, set[ingest.EpisodeKey]] = {cid: set() for cid in case_ids}
        for cid, fp, starts_at in connection.execute(_FIRING_EPISODES_OF_CASES, ids):
            firing[cid].add((fp, starts_at))
        targets: dict[int, set[str]] = {cid: set() for cid in case_ids}
        for cid, target in connection.execute(_TARGETS_OF_CASES, ids):
            targets[cid].add(target)
        for cid, group_key, target, state, network_restored_at in connection.execute(_CASES_BY_ID, ids):
            cases[cid] = ingest.CaseState(
                id=cid,
                group_key=group_key,
                target=target,
                closed=state == CaseState.CLOSED,
                network_restored_at=network_restored_at,
                firing=frozenset(firing[cid]),
                targets=frozenset(targets[cid]),
            )
    return ingest.World(
        episodes=episodes, cases=cases, latest_by_key=latest_by_key, ongoing_by_target=ongoing_by_target
    )


def store_notification(tracker: Tracker, body: str) -> str:
    """Keep a validated notification in the spool until it is applied; returns its spool name.

    This is all a webhook delivery waits for (:mod:`alert_webhook.spool`). Raises OSError when the
    notification cannot be kept.
    """
    return tracker.spool.put(body, tracker.now())


class _ApplyFailed(Exception):
    def __init__(self, spooled: Spooled, error: Exception) -> None:
        super().__init__(spooled.name, error)
        self.spooled = spooled
        self.error = error


def apply_pending(
    tracker: Tracker, limit: int = APPLY_BATCH, budget_seconds: float = APPLY_BUDGET_SECONDS
) -> list[AppliedNotification]:
    """Apply spooled notifications in the order they were received, exactly once; returns what was done.

    Each is stored raw in ``notifications``, under its spool name (unique), in the same transaction as
    its effects, and appliers are serialised (the ingestion lock); its file is removed only after the
    commit. So a notification is applied once whichever process applies it and whenever one stops: a
    file whose name the database holds was applied already and is only removed. Each takes effect as of
    the moment it was received. A notification whose content was stored before (a repeat, the HA peer's
    copy) is stored with no effect without planning.

    A notification that cannot be applied for any reason other than the database (a bug, data the rules
    did not foresee) is stored with its error and no effect, so that it never holds up the queue; the
    batch is rolled back and the notifications before it are applied by the next call. A database error
    (unreachable, read-only, or even a constraint) propagates and leaves everything in the spool: the
    queue then waits, visibly (``batiknet_notifications_apply_lag_seconds``), rather than lose anything.
    """
    spooled = tracker.spool.oldest(limit)
    if not spooled:
        return []
    try:
        applied = _apply_batch(tracker, spooled, budget_seconds)
    except _ApplyFailed as failure:
        log.error("notification %s cannot be applied; skipped", failure.spooled.name, exc_info=failure.error)
        error = f"{failure.error.__class__.__name__}: {failure.error}"[:2000]
        with tracker.db.write() as session:
            notification_id = _insert_notification(session.connection(), failure.spooled, 0, error)
        applied = [AppliedNotification(failure.spooled.name, notification_id, 0, (), error)]
    for done in applied:
        tracker.spool.remove(done.spool_name)
    return applied


def _apply_batch(
    tracker: Tracker, spooled: list[Spooled], budget_seconds: float
) -> list[AppliedNotification]:
    started = time.monotonic()
    applied: list[AppliedNotification] = []
    with tracker.db.write() as session:
        serialize_writers(session)
        connection = session.connection()
        names = [item.name for item in spooled]
        known = set(connection.scalars(_NOTIFICATIONS_OF_SPOOL_NAMES, {"names": names}))
        for item in spooled:
            if item.name in known:  # applied before the server stopped; only its file was left
                applied.append(AppliedNotification(item.name, 0, 0, ()))
                continue
            try:
                applied.append(_apply_notification(session, tracker, item))
            except DBAPIError:
                raise  # the database's own trouble: skipping would lose the notification
            except Exception as error:
                raise _ApplyFailed(item, error) from error
            if time.monotonic() - started > budget_seconds:
                break
    return applied


def _apply_notification(session: Session, tracker: Tracker, spooled: Spooled) -> AppliedNotification:
    connection = session.connection()
    body = spooled.body()
    notification = parse_notification(json.loads(body))
    digest = ingest.content_digest(notification)
    plan = None
    if connection.scalar(_NOTIFICATION_WITH_CONTENT, {"digest": digest}) is None:
        # Otherwise a repeat or the HA peer's copy: nothing left to apply.
        world = _world(connection, tracker, notification, ingest.case_key(notification))
        plan = ingest.plan_notification(
            notification, world, tracker.ancestors, tracker.working_seconds, tracker.reopen_window_seconds
        )
    effects = len(plan.effects) if plan else 0
    notification_id = _insert_notification(connection, spooled, effects, None, body, notification, digest)
    touched: set[int] = set()
    if plan is not None:
        touched = _apply_plan(session, tracker, plan, notification_id, spooled.received_at)
        # The next notification of the batch reads the cases with Core statements, which do not flush.
        session.flush()
    return AppliedNotification(spooled.name, notification_id, effects, tuple(sorted(touched)))


def _insert_notification(
    connection: Connection,
    spooled: Spooled,
    effects: int,
    error: str | None,
    body: str | None = None,
    notification: ParsedNotification | None = None,
    digest: str | None = None,
) -> int:
    body = spooled.body() if body is None else body
    return connection.execute(
        _INSERT_NOTIFICATION,
        {
            "received_at": spooled.received_at,
            "body": body,
            "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
            "content_sha256": digest or "",
            "receiver": notification.receiver if notification else "",
            "status": notification.status if notification else "",
            "group_key": notification.group_key if notification else "",
            "truncated_alerts": notification.truncated_alerts if notification else 0,
            "effects": effects,
            "spool_name": spooled.name,
            "apply_error": error,
        },
    ).scalar_one()


def _apply_plan(
    session: Session, tracker: Tracker, plan: ingest.Plan, notification_id: int, received_at: datetime
) -> set[int]:
    """Write a plan's effects, in bulk where rows are only added; one timeline event per case and kind.

    New cases, their targets, the episodes and the events are inserted with Core statements (the ORM
    would track a dozen objects per notification for nothing); only an existing case whose columns change
    (reopened, restored, incomplete) is loaded as an object, locked for the transaction.
    """
    connection = session.connection()
    new_ids: dict[ingest.NewCase, int] = {}
    events: list[dict[str, Any]] = []

    def event(
        case_id: int,
        kind: EventKind,
        data: dict[str, Any],
        from_state: str | None = None,
        to_state: str | None = None,
    ) -> None:
        events.append(
            {
                "case_id": case_id,
                "at": received_at,
                "actor_id": None,
                "actor_name": SYSTEM.username,
                "kind": kind,
                "from_state": from_state,
                "to_state": to_state,
                "note": "",
                "data": data,
            }
        )

    def id_of(ref: ingest.CaseRef) -> int:
        return new_ids[ref] if isinstance(ref, ingest.NewCase) else ref

    def loaded(ref: ingest.CaseRef) -> Case:
        case = session.get(Case, id_of(ref), with_for_update=True)
        assert case is not None
        return case

    touched: set[int] = set()
    new_episodes: list[dict[str, Any]] = []
    alert_events: dict[tuple[int, EventKind], list[dict[str, Any]]] = {}
    for effect in plan.effects:
        match effect:
            case ingest.OpenCase():
                case_id = insert_case(
                    session,
                    tracker,
                    source=CaseSource.ALERT,
                    target=effect.target,
                    title=effect.title,
                    received_at=received_at,
                    group_key=effect.group_key,
                    previous_case_id=effect.previous_case_id,
                )
                new_ids[effect.case] = case_id
                event(
                    case_id,
                    EventKind.OPENED,
                    {
                        "notification_id": notification_id,
                        "group_key": effect.group_key,
                        "alert_starts_at": effect.received_at.isoformat(),
                        "previous_case_id": effect.previous_case_id,
                    },
                    to_state=CaseState.RECEIVED,
                )
            case ingest.Reopen():
                case = loaded(effect.case)
                from_state = _reopen(case)
                event(
                    case.id,
                    EventKind.REOPENED,
                    {"flap_count": case.flap_count, "alert_starts_at": effect.at.isoformat()},
                    from_state=from_state,
                    to_state=case.state,
                )
            case ingest.AddEpisode():
                alert = effect.alert
                case_id = id_of(effect.case) if effect.case is not None else None
                new_episodes.append(
                    {
                        "case_id": case_id,
                        "fingerprint": alert.fingerprint,
                        "starts_at": alert.starts_at,
                        "ends_at": alert.ends_at if alert.status == "resolved" else None,
                        "status": alert.status,
                        "alertname": alert.name,
                        "target": alert.target,
                        "labels": dict(alert.labels),
                        "annotations": dict(alert.annotations),
                        "generator_url": alert.generator_url,
                        "first_notification_id": notification_id,
                        "last_seen_at": received_at,
                    }
                )
                if case_id is not None:
                    alert_events.setdefault((case_id, EventKind(f"alert_{alert.status}")), []).append(
                        _alert_ref(alert)
                    )
            case ingest.ResolveEpisode():
                fingerprint, starts_at = effect.key
                connection.execute(
                    _RESOLVE_EPISODE,
                    {"fp": fingerprint, "starts": starts_at, "ends": effect.ends_at, "seen": received_at},
                )
                if effect.case is not None:
                    alert_events.setdefault((id_of(effect.case), EventKind.ALERT_RESOLVED), []).append(
                        {
                            "fingerprint": fingerprint,
                            "starts_at": starts_at.isoformat(),
                            "ends_at": effect.ends_at.isoformat(),
                        }
                    )
            case ingest.JoinTarget():
                connection.execute(
                    INSERT_CASE_TARGET,
                    {"case_id": id_of(effect.case), "target": effect.target, "added_at": received_at},
                )
                event(id_of(effect.case), EventKind.TARGET_JOINED, {"target": effect.target})
        if getattr(effect, "case", None) is not None:
            touched.add(id_of(effect.case))
    if new_episodes:
        connection.execute(_INSERT_EPISODES, new_episodes)
    for (case_id, kind), alerts in alert_events.items():
        event(case_id, kind, {"alerts": alerts})
    for effect in plan.effects:
        match effect:
            case ingest.NetworkRestored():
                case = loaded(effect.case)
                case.network_restored_at = effect.at
                case.active_key = None
                if case.restored_at is None:
                    record_recovery(tracker, case, effect.at, received_at)
                event(case.id, EventKind.NETWORK_RESTORED, {"at": effect.at.isoformat()})
            case ingest.MarkIncomplete():
                case = loaded(effect.case)
                if not case.incomplete:
                    case.incomplete = True
                    event(
                        case.id,
                        EventKind.INCOMPLETE,
                        {"truncated_alerts": effect.truncated_alerts, "notification_id": notification_id},
                    )
    if events:
        connection.execute(_INSERT_EVENTS, events)
    for case_id in new_ids.values():  # after the opening's line, which the head's message follows
        outbox.queue_case_waiting(session, tracker, case_id)
    return touched


def _alert_ref(alert: Any) -> dict[str, Any]:
    return {
        "alertname": alert.name,
        "target": alert.target,
        "fingerprint": alert.fingerprint,
        "starts_at": alert.starts_at.isoformat(),
    }


def _reopen(case: Case) -> str:
    """A new episode within the reopen window after the network was restored: a flap, not a new case.

    Returns the state the case was in.
    """
    case.flap_count += 1
    case.network_restored_at = None
    case.restored_at = None
    case.restore_working_seconds = None
    case.active_key = case.group_key
    from_state = case.state
    if case.state in (CaseState.RESTORED, CaseState.REPORT_WRITTEN):
        case.state = CaseState.CHECKING  # the technicians have to look again
        case.check_round += 1
    return from_state


def record_rejection(tracker: Tracker, reason: str) -> None:
    """Count a refused webhook request (the request itself is not kept)."""
    try:
        with tracker.db.write() as session:
            row = session.get(RejectionCount, reason)
            if row is None:
                session.add(RejectionCount(reason=reason, count=1, last_at=tracker.now()))
            else:
                row.count += 1
                row.last_at = tracker.now()
    except Exception:  # the count is a nicety; a refused request must still be answered
        log.exception("cannot count a rejected notification")


def record_heartbeat(tracker: Tracker, source: str) -> datetime:
    """Alertmanager's Watchdog reached the tracker now."""
    now = tracker.now()
    with tracker.db.write() as session:
        row = session.get(Heartbeat, source)
        if row is None:
            session.add(Heartbeat(source=source, last_at=now))
        else:
            row.last_at = now
    return now


def last_heartbeat(tracker: Tracker) -> datetime | None:
    """The latest Watchdog delivery from any Alertmanager (None: never)."""
    with tracker.db.read() as session:
        return session.scalar(select(sql.max(Heartbeat.last_at)))


def heartbeat_stale(tracker: Tracker) -> bool:
    """True when Alertmanager has gone silent (no Watchdog within the configured time)."""
    last = last_heartbeat(tracker)
    return last is None or (tracker.now() - last).total_seconds() > tracker.settings.heartbeat_stale_seconds
