"""Webhook notifications, from the spool to the database. The applier's only entry point is
:func:`apply_pending`; a webhook delivery calls :func:`read_notification` and :func:`store_notification`.

Each notification is planned by the pure rules (:mod:`..core.ingest`) against a snapshot of the cases it
may touch, and its effects are written in the same transaction as the raw notification. One that cannot
be applied is set aside (:mod:`..spool`), never left at the head of the queue. Also here: refused
deliveries counted, and Alertmanager's Watchdog heartbeat.
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy import func as sql
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from ..core import ingest, jsontext
from ..core.alertmanager import Notification as ParsedNotification
from ..core.alertmanager import PayloadError, parse_notification
from ..core.workflow import CaseSource, CaseState, EventKind
from ..spool import Spooled
from ..store.db import serialize_writers
from ..store.limits import MAX_INTEGER, length
from ..store.models import (
    AlertEpisode,
    Case,
    CaseEvent,
    CaseTarget,
    Heartbeat,
    Notification,
    RejectionCount,
)
from . import outbox
from .cases import CASE_TARGETS, CASES, INSERT_CASE_TARGET, insert_case
from .casework import record_recovery
from .tracker import SYSTEM, Tracker

log = logging.getLogger(__name__)

__all__ = [
    "ATTEMPTS",
    "AppliedNotification",
    "apply_pending",
    "heartbeat_stale",
    "last_heartbeat",
    "read_notification",
    "record_heartbeat",
    "record_rejection",
    "store_notification",
]


@dataclass(frozen=True)
class AppliedNotification:
    spool_name: str
    notification_id: int | None  # None: set aside, not stored
    effects: int  # 0: it changed nothing (a repeat, the HA peer's copy, a late firing...)
    case_ids: tuple[int, ...]
    error: str | None = None  # why it was set aside instead


# A notification that fails for a reason neither the database's passing trouble nor its own data explain
# (a bug) is tried this many times, a round of the applier apart, before it is set aside.
ATTEMPTS = 3


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


def read_notification(text: str) -> ParsedNotification:
    """A notification the tracker can apply, from the JSON text of a delivery or a spool file; raises
    :class:`PayloadError` naming the field (``ValueError`` for text that is not JSON).

    Every value is checked against the columns it will be stored in (:mod:`..store.limits`): what the
    database would refuse is refused here, before the delivery is answered.
    """
    # The parser refuses a lone surrogate in each string it keeps, naming the field.
    notification = parse_notification(jsontext.decode(text, surrogates=True))
    _fits("receiver", notification.receiver, Notification.receiver)
    if notification.truncated_alerts > MAX_INTEGER:
        raise PayloadError("truncatedAlerts", f"must be at most {MAX_INTEGER}")
    _fits("groupLabels", ingest.case_key(notification), Case.group_key, Case.active_key)
    for where, labels in (
        ("groupLabels", notification.group_labels),
        ("commonLabels", notification.common_labels),
    ):
        _fits(f"{where}.target", labels.get("target"), Case.target, CaseTarget.target)
    for index, alert in enumerate(notification.alerts):
        where = f"alerts[{index}]"
        _fits(f"{where}.labels.alertname", alert.name, AlertEpisode.alertname)
        _fits(f"{where}.labels.target", alert.target, AlertEpisode.target, Case.target, CaseTarget.target)
        _fits(f"{where}.fingerprint", alert.fingerprint, AlertEpisode.fingerprint)
    return notification


def _fits(field: str, value: str | None, *columns: Any) -> None:
    limit = length(*columns)
    if value is not None and limit is not None and len(value) > limit:
        raise PayloadError(field, f"must be at most {limit} characters, not {len(value)}")


def store_notification(tracker: Tracker, body: str) -> str:
    """Keep a validated notification in the spool until it is applied; returns its spool name.

    This is all a webhook delivery waits for (:mod:`alert_webhook.spool`). Raises OSError when the
    notification cannot be kept.
    """
    return tracker.spool.put(body, tracker.now())


class _Unreadable(Exception):
    """A spool file that is not a notification this version can apply: not UTF-8, not JSON, a payload
    refused by :func:`read_notification` (written by another version, or changed by hand), or a file the
    spool did not name."""


class _ApplyFailed(Exception):
    def __init__(self, index: int, spooled: Spooled, error: Exception) -> None:
        super().__init__(spooled.name, error)
        self.index, self.spooled, self.error = index, spooled, error


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

    A notification that cannot be applied rolls its batch back; the ones before it are applied again at
    once, and it is dealt with by what the error says (:func:`_failure_kind`):

    * the database's passing trouble (unreachable, locked, read-only, a missing table): raised, everything
      stays queued in order, and the applier retries; the queue waits visibly
      (``batiknet_notifications_apply_lag_seconds``) rather than lose anything;
    * its own data (unreadable, or values the database refuses): set aside at once;
    * anything else (a bug): set aside after :data:`ATTEMPTS` tries, a round of the applier apart.

    A set-aside notification moves to the spool's ``rejected/`` folder with its reason (see
    :meth:`..spool.Spool.set_aside`), is counted in ``/metrics`` and listed for the admins.
    """
    batch = tracker.spool.oldest(limit)
    done: list[AppliedNotification] = []
    while batch:
        try:
            done += _apply_batch(tracker, batch, budget_seconds)
            break
        except _ApplyFailed as failure:
            kind = _failure_kind(failure.error)
            if kind is None:
                raise failure.error from None
            aside = _after_failure(tracker, failure, kind)
            # The ones before it again, in a transaction of their own; those after it too once it is
            # set aside, else they wait behind it for its next attempt.
            if aside is None:
                batch = batch[: failure.index]
            else:
                done.append(aside)
                batch = batch[: failure.index] + batch[failure.index + 1 :]
    for applied in done:
        if applied.error is None:
            tracker.spool.remove(applied.spool_name)
    return done


def _failure_kind(error: Exception) -> str | None:
    """How a failure is handled: None for the database's passing trouble (keep and retry), ``unreadable``
    or ``refused`` for the notification's own data (set aside at once), ``failed`` otherwise (a bug: set
    aside after :data:`ATTEMPTS`)."""
    if isinstance(error, _Unreadable):
        return "unreadable"
    if isinstance(error, DataError):  # PostgreSQL's class 22: a value out of range, too long...
        return "refused"
    if isinstance(error, IntegrityError):
        return "constraint"
    if isinstance(error, DBAPIError):
        return None
    return "failed"


def _after_failure(tracker: Tracker, failure: _ApplyFailed, kind: str) -> AppliedNotification | None:
    """Count a failed attempt; set the notification aside when its kind says so at once or the attempts
    are used up. Returns it when set aside."""
    name = failure.spooled.name
    attempts = tracker.spool.count_failure(name)
    error = _describe(failure.error)
    at_once = kind in ("unreadable", "refused")
    if not at_once and attempts < ATTEMPTS:
        log.warning("notification %s failed (attempt %d of %d): %s", name, attempts, ATTEMPTS, error)
        return None
    kind = "refused" if kind == "constraint" else kind
    log.error("notification %s cannot be applied; set aside (%s)", name, kind, exc_info=failure.error)
    tracker.spool.set_aside(name, kind, error, attempts, tracker.now())
    return AppliedNotification(name, None, 0, (), error)


def _describe(error: Exception) -> str:
    """An error as the admins read it: its class and message (an unreadable file's says what it is)."""
    text = str(error) if isinstance(error, _Unreadable) else f"{error.__class__.__name__}: {error}"
    return text[:2000]


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
        for index, item in enumerate(spooled):
            if item.name in known:  # applied before the server stopped; only its file was left
                applied.append(AppliedNotification(item.name, 0, 0, ()))
                continue
            try:
                body, notification = _read(item)
                applied.append(_apply_notification(session, tracker, item, body, notification))
            except FileNotFoundError:  # another applier of a shared spool applied it meanwhile
                continue
            except Exception as error:
                raise _ApplyFailed(index, item, error) from error
            if time.monotonic() - started > budget_seconds:
                break
    return applied


def _read(spooled: Spooled) -> tuple[str, ParsedNotification]:
    """A spool file's text and notification; :class:`_Unreadable` when it is not one this version can
    apply."""
    if spooled.received_at is None:
        raise _Unreadable("not a file of the spool: its name is not one the tracker gives")
    try:
        body = spooled.body()
        return body, read_notification(body)
    except ValueError as error:  # not UTF-8, not JSON, a PayloadError: all ValueErrors
        raise _Unreadable(f"{error.__class__.__name__}: {error}") from error


def _apply_notification(
    session: Session, tracker: Tracker, spooled: Spooled, body: str, notification: ParsedNotification
) -> AppliedNotification:
    assert spooled.received_at is not None  # _read set a stranger aside
    connection = session.connection()
    digest = ingest.content_digest(notification)
    plan = None
    if connection.scalar(_NOTIFICATION_WITH_CONTENT, {"digest": digest}) is None:
        # Otherwise a repeat or the HA peer's copy: nothing left to apply.
        world = _world(connection, tracker, notification, ingest.case_key(notification))
        plan = ingest.plan_notification(
            notification, world, tracker.ancestors, tracker.working_seconds, tracker.reopen_window_seconds
        )
    effects = len(plan.effects) if plan else 0
    notification_id = _insert_notification(connection, spooled, effects, body, notification, digest)
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
    body: str,
    notification: ParsedNotification,
    digest: str,
) -> int:
    return connection.execute(
        _INSERT_NOTIFICATION,
        {
            "received_at": spooled.received_at,
            "body": body,
            "body_sha256": hashlib.sha256(body.encode()).hexdigest(),
            "content_sha256": digest,
            "receiver": notification.receiver,
            "status": notification.status,
            "group_key": notification.group_key,
            "truncated_alerts": notification.truncated_alerts,
            "effects": effects,
            "spool_name": spooled.name,
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
