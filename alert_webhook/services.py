"""The thin layer between the pure rules and the database: every action of the API and the pages.

Each function runs inside a Flask application context (the tracker of ``current_app``: database,
working calendar, inventory, Prometheus, mailer), applies a pure decision (:mod:`ingest`,
:mod:`workflow`, :mod:`clock`) in one transaction and writes the case's timeline. Reads return plain
dicts (the case JSON of the API); a refused action raises :class:`Refused` with its
:class:`~.refusals.Refusal` (a code and parameters, worded in English by ``str``).

The API and the pages call the same functions, so a rule holds whichever way a person acts.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import Connection, and_, bindparam, delete, func, or_, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, selectinload
from werkzeug.security import check_password_hash, generate_password_hash

from . import clock, ingest, workflow
from .alertmanager import Notification as ParsedNotification
from .alertmanager import parse_notification
from .config import SMTPSettings
from .db import Database, serialize_writers
from .models import (
    ROLES,
    AlertEpisode,
    Case,
    CaseAssignment,
    CaseEvent,
    CaseTarget,
    CheckResult,
    Complaint,
    Heartbeat,
    ISPContact,
    Letter,
    LoginFailure,
    Notification,
    Recheck,
    RejectionCount,
    Report,
    User,
)
from .refusals import Refusal
from .spool import Spool, Spooled
from .workflow import Actor

log = logging.getLogger(__name__)

__all__ = [
    "Actor",
    "AppliedNotification",
    "CaseList",
    "Forbidden",
    "Invalid",
    "LetterInput",
    "NotFound",
    "Refused",
    "ServiceError",
    "SignIn",
    "Tracker",
    "actor_of",
    "add_comment",
    "allowed_actions",
    "apply_pending",
    "assign",
    "authenticate",
    "case_chart",
    "case_json",
    "check_prefill",
    "close",
    "complaint_json",
    "create_user",
    "current_tracker",
    "dispose",
    "escalate_complaint",
    "escalate_isp",
    "file_complaint",
    "get_case",
    "heartbeat_stale",
    "issue_api_token",
    "last_heartbeat",
    "letter_file",
    "list_cases",
    "list_complaints",
    "list_users",
    "load_user",
    "open_letter_case",
    "record_check",
    "record_heartbeat",
    "record_recheck",
    "record_rejection",
    "resolve_complaint",
    "respond_complaint",
    "restore",
    "return_to_checking",
    "set_password",
    "sign_in",
    "start_checks",
    "store_notification",
    "timeline",
    "user_by_api_token",
    "write_report",
]

SYSTEM = Actor(user_id=None, username="alertmanager", role="system")
MIN_PASSWORD_LENGTH = 8


# --- errors ------------------------------------------------------------------------------------------


class ServiceError(Exception):
    """``reason`` is a :class:`Refusal` when a reader may meet it on a page (the pages translate its code),
    else an English sentence for the API and the command line."""

    status = 400

    def __init__(self, reason: str | Refusal, field: str | None = None) -> None:
        super().__init__(str(reason))
        self.refusal = reason if isinstance(reason, Refusal) else None
        self.message = str(reason)
        self.field = field


class Invalid(ServiceError):
    """The request's data is wrong (400); ``field`` names the culprit."""


class NotFound(ServiceError):
    status = 404


class Refused(ServiceError):
    """The workflow does not allow this action now, or not to this person (409; 403 for permissions)."""

    status = 409


class Forbidden(Refused):
    """The person asking may not take this action (403)."""

    status = 403


# --- the per-application context ---------------------------------------------------------------------


@dataclass
class Tracker:
    """Everything the services need, kept in ``app.extensions["batiknet"]``."""

    db: Database
    calendar: clock.WorkingCalendar
    inventory: Any | None  # batiknet.inventory.Inventory
    config: dict[str, Any]
    spool: Spool  # webhook notifications waiting to be applied
    now: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    prometheus: Any | None = None  # promquery.PrometheusClient
    smtp: SMTPSettings | None = None
    reopen_window_seconds: float = 7.25 * 3600

    # The inventory does not change while the application runs; its ancestor chains are asked for per alert.
    _ancestors: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def ancestors(self, target: str) -> tuple[str, ...]:
        if target not in self._ancestors:
            try:
                chain = self.inventory.ancestors(target) if self.inventory is not None else ()
            except KeyError:
                chain = ()
            self._ancestors[target] = chain
        return self._ancestors[target]

    def target_name(self, target: str) -> str:
        if self.inventory is None:
            return target
        try:
            return self.inventory.target(target).name
        except KeyError:
            return target

    def working_seconds(self, start: datetime, end: datetime) -> float:
        return clock.working_seconds_between(self.calendar, start, end)


def current_tracker() -> Tracker:
    return current_app.extensions["batiknet"]


def actor_of(user: User) -> Actor:
    return Actor(user_id=user.id, username=user.username, role=user.role)


# --- ingestion ---------------------------------------------------------------------------------------


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
_CASES = Case.__table__
_CASE_TARGETS = CaseTarget.__table__
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
_LATEST_CASE_OF_KEY = select(func.max(_CASES.c.id)).where(_CASES.c.group_key == bindparam("key"))
_ONGOING_CASES_OF_TARGETS = (
    select(_CASES.c.id, _CASES.c.target)
    .where(
        _CASES.c.target.in_(bindparam("targets", expanding=True)),
        _CASES.c.source == "alert",
        _CASES.c.state != "closed",
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
_INSERT_CASE = _CASES.insert().returning(_CASES.c.id)
_INSERT_CASE_TARGET = _CASE_TARGETS.insert()
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
                closed=state == "closed",
                network_restored_at=network_restored_at,
                firing=frozenset(firing[cid]),
                targets=frozenset(targets[cid]),
            )
    return ingest.World(
        episodes=episodes, cases=cases, latest_by_key=latest_by_key, ongoing_by_target=ongoing_by_target
    )


def store_notification(body: str) -> str:
    """Keep a validated notification in the spool until it is applied; returns its spool name.

    This is all a webhook delivery waits for (:mod:`alert_webhook.spool`). Raises OSError when the
    notification cannot be kept.
    """
    tracker = current_tracker()
    return tracker.spool.put(body, tracker.now())


class _ApplyFailed(Exception):
    def __init__(self, spooled: Spooled, error: Exception) -> None:
        super().__init__(spooled.name, error)
        self.spooled = spooled
        self.error = error


def apply_pending(
    limit: int = APPLY_BATCH, budget_seconds: float = APPLY_BUDGET_SECONDS
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
    tracker = current_tracker()
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
        kind: str,
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
    alert_events: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for effect in plan.effects:
        match effect:
            case ingest.OpenCase():
                case_id = _insert_case(
                    session,
                    tracker,
                    source="alert",
                    target=effect.target,
                    title=effect.title,
                    received_at=received_at,
                    group_key=effect.group_key,
                    previous_case_id=effect.previous_case_id,
                )
                new_ids[effect.case] = case_id
                event(
                    case_id,
                    "opened",
                    {
                        "notification_id": notification_id,
                        "group_key": effect.group_key,
                        "alert_starts_at": effect.received_at.isoformat(),
                        "previous_case_id": effect.previous_case_id,
                    },
                    to_state="received",
                )
            case ingest.Reopen():
                case = loaded(effect.case)
                from_state = _reopen(case)
                event(
                    case.id,
                    "reopened",
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
                    alert_events.setdefault((case_id, "alert_" + alert.status), []).append(_alert_ref(alert))
            case ingest.ResolveEpisode():
                fingerprint, starts_at = effect.key
                connection.execute(
                    _RESOLVE_EPISODE,
                    {"fp": fingerprint, "starts": starts_at, "ends": effect.ends_at, "seen": received_at},
                )
                if effect.case is not None:
                    alert_events.setdefault((id_of(effect.case), "alert_resolved"), []).append(
                        {
                            "fingerprint": fingerprint,
                            "starts_at": starts_at.isoformat(),
                            "ends_at": effect.ends_at.isoformat(),
                        }
                    )
            case ingest.JoinTarget():
                connection.execute(
                    _INSERT_CASE_TARGET,
                    {"case_id": id_of(effect.case), "target": effect.target, "added_at": received_at},
                )
                event(id_of(effect.case), "target_joined", {"target": effect.target})
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
                    _record_recovery(case, effect.at, received_at)
                event(case.id, "network_restored", {"at": effect.at.isoformat()})
            case ingest.MarkIncomplete():
                case = loaded(effect.case)
                if not case.incomplete:
                    case.incomplete = True
                    event(
                        case.id,
                        "incomplete",
                        {"truncated_alerts": effect.truncated_alerts, "notification_id": notification_id},
                    )
    if events:
        connection.execute(_INSERT_EVENTS, events)
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
    if case.state in ("restored", "report_written"):
        case.state = "checking"  # the technicians have to look again
        case.check_round += 1
    return from_state


def record_rejection(reason: str) -> None:
    """Count a refused webhook request (the request itself is not kept)."""
    tracker = current_tracker()
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


def record_heartbeat(source: str) -> datetime:
    tracker = current_tracker()
    now = tracker.now()
    with tracker.db.write() as session:
        row = session.get(Heartbeat, source)
        if row is None:
            session.add(Heartbeat(source=source, last_at=now))
        else:
            row.last_at = now
    return now


def last_heartbeat() -> datetime | None:
    """The latest Watchdog delivery from any Alertmanager (None: never)."""
    with current_tracker().db.read() as session:
        return session.scalar(select(func.max(Heartbeat.last_at)))


def heartbeat_stale() -> bool:
    """True when Alertmanager has gone silent (no Watchdog within the configured time)."""
    tracker = current_tracker()
    last = last_heartbeat()
    limit = float(tracker.config.get("BATIKNET_HEARTBEAT_STALE_SECONDS") or 600)
    return last is None or (tracker.now() - last).total_seconds() > limit


# --- cases: creation and reading ----------------------------------------------------------------------


def _insert_case(
    session: Session,
    tracker: Tracker,
    *,
    source: str,
    target: str,
    title: str,
    received_at: datetime,
    group_key: str | None,
    previous_case_id: int | None = None,
) -> int:
    """A new case in state received, with its deadlines and its own target; returns its id."""
    deadlines = clock.deadlines(tracker.calendar, received_at)
    connection = session.connection()
    case_id = connection.execute(
        _INSERT_CASE,
        {
            "source": source,
            "group_key": group_key,
            "active_key": group_key,
            "target": target,
            "title": title,
            "state": "received",
            "received_at": received_at,
            "target_deadline": deadlines.target,
            "maximum_deadline": deadlines.maximum,
            "flap_count": 0,
            "incomplete": False,
            "check_round": 1,
            "isp": _isp_of(tracker, target),
            "previous_case_id": previous_case_id,
        },
    ).scalar_one()
    connection.execute(_INSERT_CASE_TARGET, {"case_id": case_id, "target": target, "added_at": received_at})
    return case_id


def _isp_of(tracker: Tracker, target: str) -> str | None:
    if tracker.inventory is None:
        return None
    try:
        entry = tracker.inventory.target(target)
    except KeyError:
        return None
    if entry.kind == "isp":
        return entry.id
    isp = getattr(entry, "isp", None)
    if isp:
        return isp
    return next((a for a in tracker.ancestors(target) if tracker.inventory.target(a).kind == "isp"), None)


def _event(
    session: Session,
    case: Case,
    actor: Actor,
    kind: str,
    at: datetime,
    *,
    from_state: str | None = None,
    to_state: str | None = None,
    note: str = "",
    data: dict[str, Any] | None = None,
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            at=at,
            actor_id=actor.user_id,
            actor_name=actor.username,
            kind=kind,
            from_state=from_state,
            to_state=to_state,
            note=note or "",
            data=data or {},
        )
    )


@dataclass(frozen=True)
class LetterInput:
    opd: str
    number: str
    letter_date: date
    reporter: str
    description: str
    received_at: datetime | None = None
    file_name: str | None = None
    file_mime: str | None = None
    file_data: bytes | None = None


def open_letter_case(actor: Actor, letter: LetterInput) -> dict[str, Any]:
    """Enter an OPD's letter: it joins the open case of the OPD or its upstream, or opens a case."""
    tracker = current_tracker()
    _require_staff(actor, "add_letter")
    if tracker.inventory is not None:
        try:
            tracker.inventory.target(letter.opd)
        except KeyError:
            raise Invalid(f"{letter.opd!r} is not a target of the inventory", "opd") from None
    now = tracker.now()
    received_at = letter.received_at or now
    with tracker.db.write() as session:
        serialize_writers(session)
        candidates = (letter.opd, *tracker.ancestors(letter.opd))
        open_by_target: dict[str, int] = {}
        for case_id, target in session.execute(
            select(Case.id, Case.target)
            .where(Case.target.in_(candidates), Case.state != "closed")
            .order_by(Case.id.desc())
        ):
            open_by_target.setdefault(target, case_id)
        joined = ingest.choose_letter_case(letter.opd, tracker.ancestors(letter.opd), open_by_target)
        if joined is None:
            case_id = _insert_case(
                session,
                tracker,
                source="letter",
                target=letter.opd,
                title=f"Surat {letter.number}: {tracker.target_name(letter.opd)}"[:300],
                received_at=received_at,
                group_key=None,
            )
        else:
            case_id = joined
            known = session.scalars(select(CaseTarget.target).where(CaseTarget.case_id == case_id)).all()
            if letter.opd not in known:
                session.add(CaseTarget(case_id=case_id, target=letter.opd, added_at=now))
        case = _load(session, case_id, for_update=True)
        if joined is None:
            _event(
                session,
                case,
                actor,
                "opened",
                now,
                to_state="received",
                data={"letter_number": letter.number},
            )
        row = Letter(
            case_id=case_id,
            number=letter.number,
            letter_date=letter.letter_date,
            opd=letter.opd,
            reporter=letter.reporter,
            description=letter.description,
            received_at=received_at,
            entered_by_id=actor.user_id,
            file_name=letter.file_name,
            file_mime=letter.file_mime,
            file_sha256=hashlib.sha256(letter.file_data).hexdigest() if letter.file_data else None,
            file_data=letter.file_data,
        )
        session.add(row)
        session.flush()
        _event(
            session,
            case,
            actor,
            "letter_added",
            now,
            data={
                "letter_id": row.id,
                "number": letter.number,
                "opd": letter.opd,
                "joined": joined is not None,
            },
        )
    return get_case(case_id)


def letter_file(letter_id: int) -> tuple[str, str, bytes]:
    with current_tracker().db.read() as session:
        letter = session.get(Letter, letter_id)
        if letter is None or letter.file_data is None:
            raise NotFound(f"letter {letter_id} has no scanned file")
        return (
            letter.file_name or f"surat-{letter_id}",
            letter.file_mime or "application/octet-stream",
            letter.file_data,
        )


@dataclass(frozen=True)
class CaseList:
    items: list[dict[str, Any]]
    has_next: bool  # more cases match after this page
    total: int | None  # how many match in all; None unless asked for (counting costs a scan)
    limit: int
    offset: int


def list_cases(
    *,
    state: str | None = None,
    target: str | None = None,
    technician: str | None = None,
    overdue: bool | None = None,
    source: str | None = None,
    open_only: bool = False,
    limit: int = 50,
    offset: int = 0,
    count_total: bool = False,
) -> CaseList:
    """Cases newest first, filtered in SQL (target matches affected targets too; technician by username).

    Whether a next page exists comes from asking for one case more than the page holds; the total is
    counted only when ``count_total`` asks for it (the API reports it, the pages do not need it).
    """
    tracker = current_tracker()
    now = tracker.now()
    conditions = []
    if state:
        conditions.append(Case.state == state)
    if open_only:
        conditions.append(Case.state != "closed")
    if source:
        conditions.append(Case.source == source)
    if target:
        conditions.append(Case.id.in_(select(CaseTarget.case_id).where(CaseTarget.target == target)))
    if technician:
        conditions.append(
            Case.id.in_(
                select(CaseAssignment.case_id)
                .join(User, User.id == CaseAssignment.user_id)
                .where(User.username == technician)
            )
        )
    if overdue is not None:
        late = or_(
            and_(Case.closed_at.is_(None), Case.target_deadline < now), Case.closed_at > Case.target_deadline
        )
        conditions.append(late if overdue else ~late)
    with tracker.db.read() as session:
        total = None
        if count_total:
            total = session.scalar(select(func.count()).select_from(Case).where(*conditions)) or 0
        cases = session.scalars(
            select(Case)
            .where(*conditions)
            .order_by(Case.id.desc())
            .limit(limit + 1)
            .offset(offset)
            .options(
                selectinload(Case.targets),
                selectinload(Case.episodes),
                selectinload(Case.assignments).selectinload(CaseAssignment.user),
                selectinload(Case.isp_contacts),
            )
        ).all()
        items = [case_json(c, now, detail=False) for c in cases[:limit]]
    return CaseList(items=items, has_next=len(cases) > limit, total=total, limit=limit, offset=offset)


def get_case(case_id: int) -> dict[str, Any]:
    """The full case JSON: everything in the list item plus checks, ISP log, letters, report, timeline."""
    tracker = current_tracker()
    with tracker.db.read() as session:
        case = _load(session, case_id)
        return case_json(case, tracker.now(), detail=True)


def timeline(case_id: int) -> list[dict[str, Any]]:
    with current_tracker().db.read() as session:
        case = _load(session, case_id)
        return [_event_json(e) for e in case.events]


def _load(session: Session, case_id: int, for_update: bool = False) -> Case:
    query = select(Case).where(Case.id == case_id)
    if for_update:
        query = query.with_for_update()
    case = session.scalar(query)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    return case


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _isp_wait_seconds(tracker: Tracker, case: Case, now: datetime) -> float:
    return sum(tracker.working_seconds(c.created_at, c.ended_at or now) for c in case.isp_contacts)


def case_json(case: Case, now: datetime, detail: bool = True) -> dict[str, Any]:
    tracker = current_tracker()
    end = case.closed_at or now
    targets = [t.target for t in case.targets]
    data: dict[str, Any] = {
        "id": case.id,
        "state": case.state,
        "source": case.source,
        "title": case.title,
        "target": case.target,
        "target_name": tracker.target_name(case.target),
        "affected_targets": [t for t in targets if t != case.target],
        "isp": case.isp,
        "received_at": _iso(case.received_at),
        "dispositioned_at": _iso(case.dispositioned_at),
        "network_restored_at": _iso(case.network_restored_at),
        "restored_at": _iso(case.restored_at),
        "report_written_at": _iso(case.report_written_at),
        "closed_at": _iso(case.closed_at),
        "target_deadline": _iso(case.target_deadline),
        "maximum_deadline": _iso(case.maximum_deadline),
        "working_seconds_elapsed": tracker.working_seconds(case.received_at, end),
        "overdue": end > case.target_deadline,
        "past_maximum": end > case.maximum_deadline,
        "isp_wait_seconds": _isp_wait_seconds(tracker, case, now),
        "flap_count": case.flap_count,
        "incomplete": case.incomplete,
        "previous_case_id": case.previous_case_id,
        "assignees": [
            {"id": a.user.id, "username": a.user.username, "display_name": a.user.display_name}
            for a in case.assignments
        ],
        "episodes": [_episode_json(e) for e in case.episodes],
        "links": {
            "self": f"/api/v1/cases/{case.id}",
            "timeline": f"/api/v1/cases/{case.id}/timeline",
            "page": f"/cases/{case.id}",
        },
    }
    if detail:
        data.update(
            {
                "check_round": case.check_round,
                "checks": [_check_json(c) for c in case.checks],
                "isp_contacts": [_isp_contact_json(c) for c in case.isp_contacts],
                "rechecks": [
                    {
                        "id": r.id,
                        "connected": r.connected,
                        "note": r.note,
                        "user_id": r.user_id,
                        "at": _iso(r.at),
                    }
                    for r in case.rechecks
                ],
                "letters": [_letter_json(letter) for letter in case.letters],
                "report": _report_json(case.reports[-1]) if case.reports else None,
                "timeline": [_event_json(e) for e in case.events],
            }
        )
    return data


def _episode_json(e: AlertEpisode) -> dict[str, Any]:
    return {
        "fingerprint": e.fingerprint,
        "alertname": e.alertname,
        "target": e.target,
        "status": e.status,
        "starts_at": _iso(e.starts_at),
        "ends_at": _iso(e.ends_at),
        "labels": e.labels,
        "annotations": e.annotations,
        "generator_url": e.generator_url,
    }


def _check_json(c: CheckResult) -> dict[str, Any]:
    return {
        "id": c.id,
        "round": c.round,
        "check": c.check,
        "result": c.result,
        "note": c.note,
        "evidence": c.evidence,
        "user_id": c.user_id,
        "by": c.user.username if c.user else None,
        "at": _iso(c.at),
    }


def _isp_contact_json(c: ISPContact) -> dict[str, Any]:
    return {
        "id": c.id,
        "isp": c.isp,
        "isp_name": c.isp_name,
        "contact": c.contact,
        "ticket_number": c.ticket_number,
        "called_at": _iso(c.called_at),
        "estimate_at": _iso(c.estimate_at),
        "note": c.note,
        "user_id": c.user_id,
        "ended_at": _iso(c.ended_at),
    }


def _letter_json(letter: Letter) -> dict[str, Any]:
    return {
        "id": letter.id,
        "number": letter.number,
        "letter_date": letter.letter_date.isoformat(),
        "opd": letter.opd,
        "reporter": letter.reporter,
        "description": letter.description,
        "received_at": _iso(letter.received_at),
        "file_name": letter.file_name,
        "file_mime": letter.file_mime,
        "file_url": f"/api/v1/letters/{letter.id}/file" if letter.file_data else None,
    }


def _report_json(r: Report) -> dict[str, Any]:
    return {
        "id": r.id,
        "cause": r.cause,
        "actions": r.actions,
        "parts_replaced": r.parts_replaced,
        "isp_part": r.isp_part,
        "duration_working_seconds": r.duration_working_seconds,
        "isp_wait_working_seconds": r.isp_wait_working_seconds,
        "written_by_id": r.written_by_id,
        "written_at": _iso(r.written_at),
    }


def _event_json(e: CaseEvent) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": _iso(e.at),
        "actor": e.actor_name,
        "actor_id": e.actor_id,
        "kind": e.kind,
        "from_state": e.from_state,
        "to_state": e.to_state,
        "note": e.note,
        "data": e.data,
    }


# --- the workflow ------------------------------------------------------------------------------------


def _snapshot(case: Case) -> workflow.CaseSnapshot:
    round_checks = {c.check: c.result for c in case.checks if c.round == case.check_round}
    return workflow.CaseSnapshot(
        state=case.state,
        assignee_ids=frozenset(a.user_id for a in case.assignments),
        round_checks=round_checks,
    )


def allowed_actions(case_id: int, actor: Actor) -> list[str]:
    """The workflow actions ``actor`` may take on the case now (the pages show these forms)."""
    with current_tracker().db.read() as session:
        return workflow.allowed_actions(_snapshot(_load(session, case_id)), actor)


def _require_staff(actor: Actor, action: str) -> None:
    if actor.role not in workflow.STAFF:
        raise Forbidden(Refusal("viewer", {"role": actor.role, "action": action}))


def _act(
    actor: Actor,
    case_id: int,
    action: str,
    data: dict[str, Any],
    apply: Callable[[Session, Case, datetime], dict[str, Any] | None],
    note: str = "",
) -> dict[str, Any]:
    """Decide ``action`` with the pure rules, apply it and write one timeline event, in one transaction."""
    tracker = current_tracker()
    now = tracker.now()
    with tracker.db.write() as session:
        case = _load(session, case_id, for_update=True)
        decision = workflow.decide(_snapshot(case), action, actor, data)
        if not decision.allowed:
            raise Forbidden(decision.refusal) if decision.forbidden else Refused(decision.refusal)
        from_state = case.state
        event_data = apply(session, case, now) or {}
        if decision.to_state is not None:
            case.state = decision.to_state
        _event(
            session,
            case,
            actor,
            action,
            now,
            from_state=from_state,
            to_state=case.state if case.state != from_state else None,
            note=note,
            data=event_data,
        )
    return get_case(case_id)


def _technicians(session: Session, ids: Sequence[int]) -> list[User]:
    users = session.scalars(select(User).where(User.id.in_(ids))).all()
    found = {u.id for u in users}
    missing = [i for i in ids if i not in found]
    if missing:
        raise Invalid(f"user {missing[0]} does not exist", "technician_ids")
    for user in users:
        if user.role != "technician" or not user.active:
            raise Invalid(f"{user.username} is not an active technician", "technician_ids")
    return list(users)


def _assign(
    session: Session, case: Case, actor: Actor, technician_ids: Sequence[int], now: datetime
) -> list[User]:
    current = {a.user_id for a in case.assignments}
    added = []
    for user in _technicians(session, technician_ids):
        if user.id not in current:
            session.add(
                CaseAssignment(case=case, user_id=user.id, assigned_by_id=actor.user_id, assigned_at=now)
            )
            added.append(user)
    return added


def dispose(actor: Actor, case_id: int, technician_ids: Sequence[int], note: str = "") -> dict[str, Any]:
    """SOP step 2: the head's disposition, assigning one or more technicians (they get an e-mail)."""
    added: list[User] = []

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        added.extend(_assign(session, case, actor, technician_ids, now))
        case.dispositioned_at = now
        case.disposition_working_seconds = current_tracker().working_seconds(case.received_at, now)
        return {"technicians": [u.username for u in added]}

    result = _act(actor, case_id, "dispose", {"technician_ids": list(technician_ids)}, apply, note)
    _notify_assigned(case_id, added)
    return result


def assign(actor: Actor, case_id: int, technician_ids: Sequence[int], note: str = "") -> dict[str, Any]:
    """Add technicians to a case already disposed (they get an e-mail)."""
    added: list[User] = []

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        added.extend(_assign(session, case, actor, technician_ids, now))
        return {"technicians": [u.username for u in added]}

    result = _act(actor, case_id, "assign", {"technician_ids": list(technician_ids)}, apply, note)
    _notify_assigned(case_id, added)
    return result


def _notify_assigned(case_id: int, users: Sequence[User]) -> None:
    tracker = current_tracker()
    if tracker.smtp is None or not users:
        return
    from .notify import send_assignment

    case = get_case(case_id)
    try:
        sent = send_assignment(tracker.smtp, case, users, tracker.config.get("BATIKNET_PUBLIC_URL") or "")
        kind, data = "email_sent", {"to": sent}
    except OSError as error:  # smtplib errors are OSErrors too; the disposition itself stands
        log.warning("cannot e-mail the technicians of case %s: %s", case_id, error)
        kind, data = "email_failed", {"error": str(error)}
    with tracker.db.write() as session:
        _event(session, _load(session, case_id), SYSTEM, kind, tracker.now(), data=data)


def check_prefill(case_id: int) -> dict[str, dict[str, Any]]:
    """Evidence for the monitoring, DNS and connectivity checks, from Prometheus right now."""
    tracker = current_tracker()
    with tracker.db.read() as session:
        case = _load(session, case_id)
        targets = [t.target for t in case.targets]
    if tracker.prometheus is None:
        return {
            c: {"error": "no Prometheus configured (BATIKNET_PROMETHEUS_URL)"}
            for c in ("monitoring", "dns", "connectivity")
        }
    from .promquery import check_evidence

    dns_ids = [d.id for d in tracker.inventory.dns_servers] if tracker.inventory is not None else []
    return check_evidence(tracker.prometheus, targets, dns_ids, tracker.now())


def case_chart(case_id: int) -> dict[str, Any]:
    """Reachability and RTT of the case's target from an hour before receipt to an hour after recovery."""
    tracker = current_tracker()
    now = tracker.now()
    with tracker.db.read() as session:
        case = _load(session, case_id)
        target, received = case.target, case.received_at
        recovered = case.restored_at or case.network_restored_at or now
    start, end = received - timedelta(hours=1), min(recovered + timedelta(hours=1), now)
    chart: dict[str, Any] = {
        "target": target,
        "start": start.isoformat(),
        "end": end.isoformat(),
        "up": [],
        "rtt": [],
        "error": None,
    }
    if tracker.prometheus is None:
        chart["error"] = "no Prometheus configured (BATIKNET_PROMETHEUS_URL)"
        return chart
    from .promquery import PrometheusError, target_series

    try:
        chart.update(target_series(tracker.prometheus, target, start, end))
    except PrometheusError as error:
        chart["error"] = str(error)
    return chart


def start_checks(actor: Actor, case_id: int, note: str = "") -> dict[str, Any]:
    """SOP step 3: the technicians begin; the Prometheus evidence of that moment is kept on the timeline."""
    evidence = check_prefill(case_id)
    return _act(actor, case_id, "start_checks", {}, lambda s, c, n: {"evidence": evidence}, note)


def record_check(
    actor: Actor,
    case_id: int,
    check: str,
    result: str,
    note: str = "",
    evidence: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One of the four checks (physical, monitoring, dns, connectivity): ok, fault or not_applicable."""
    if evidence is None and check in ("monitoring", "dns", "connectivity"):
        evidence = check_prefill(case_id).get(check, {})

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        session.add(
            CheckResult(
                case=case,
                round=case.check_round,
                check=check,
                result=result,
                note=note,
                evidence=evidence or {},
                user_id=actor.user_id,
                at=now,
            )
        )
        return {"check": check, "result": result, "round": case.check_round}

    return _act(actor, case_id, "record_check", {"check": check, "result": result}, apply, note)


def _record_recovery(case: Case, restored_at: datetime, now: datetime) -> None:
    tracker = current_tracker()
    case.restored_at = restored_at
    case.restore_working_seconds = tracker.working_seconds(case.received_at, restored_at)
    for contact in case.isp_contacts:
        if contact.ended_at is None:
            contact.ended_at = now


def escalate_isp(
    actor: Actor,
    case_id: int,
    ticket_number: str,
    *,
    called_at: datetime | None = None,
    estimate_at: datetime | None = None,
    isp: str | None = None,
    contact: str | None = None,
    note: str = "",
) -> dict[str, Any]:
    """SOP step 8: the ISP is called (ISP and contact default to the inventory's)."""
    tracker = current_tracker()

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        isp_id = isp or case.isp
        if not isp_id:
            raise Invalid("no ISP is known for this case's target: name one", "isp")
        name, support = isp_id, contact or ""
        if tracker.inventory is not None:
            try:
                entry = tracker.inventory.target(isp_id)
            except KeyError:
                raise Invalid(f"{isp_id!r} is not an ISP uplink of the inventory", "isp") from None
            if entry.kind != "isp":
                raise Invalid(f"{isp_id!r} is not an ISP uplink", "isp")
            name = f"{entry.provider} ({entry.name})"
            support = contact or " / ".join(x for x in (entry.support_phone, entry.support_email) if x)
        row = ISPContact(
            case=case,
            isp=isp_id,
            isp_name=name,
            contact=support,
            ticket_number=ticket_number,
            called_at=called_at or now,
            estimate_at=estimate_at,
            note=note,
            user_id=actor.user_id,
            created_at=now,
        )
        session.add(row)
        case.isp = isp_id
        return {
            "isp": isp_id,
            "ticket_number": ticket_number,
            "called_at": _iso(called_at or now),
            "estimate_at": _iso(estimate_at),
        }

    return _act(actor, case_id, "escalate_isp", {"ticket_number": ticket_number}, apply, note)


def record_recheck(actor: Actor, case_id: int, connected: bool, note: str = "") -> dict[str, Any]:
    """A recheck while waiting on the ISP; connected moves the case to restored."""

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        contact_id = case.isp_contacts[-1].id if case.isp_contacts else None
        session.add(
            Recheck(
                case=case,
                isp_contact_id=contact_id,
                connected=connected,
                note=note,
                user_id=actor.user_id,
                at=now,
            )
        )
        if connected:
            _record_recovery(case, case.network_restored_at or now, now)
        return {"connected": connected}

    return _act(actor, case_id, "record_recheck", {"connected": connected}, apply, note)


def return_to_checking(actor: Actor, case_id: int, note: str = "") -> dict[str, Any]:
    """Back from waiting on the ISP to a new round of the four checks."""

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        case.check_round += 1
        for contact in case.isp_contacts:
            if contact.ended_at is None:
                contact.ended_at = now
        return {"round": case.check_round}

    return _act(actor, case_id, "return_to_checking", {}, apply, note)


def restore(
    actor: Actor, case_id: int, restored_at: datetime | None = None, note: str = ""
) -> dict[str, Any]:
    """The network is connected again: recovery time as entered, else from the resolved alert, else now."""
    if restored_at is not None and restored_at.tzinfo is None:
        raise Invalid("restored_at needs a time zone offset", "restored_at")

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        at = restored_at or case.network_restored_at or now
        if at < case.received_at - timedelta(days=1) or at > now + timedelta(minutes=5):
            raise Invalid(Refusal("restored_at_range"), "restored_at")
        _record_recovery(case, at, now)
        return {"restored_at": at.isoformat()}

    return _act(actor, case_id, "restore", {}, apply, note)


def write_report(
    actor: Actor,
    case_id: int,
    cause: str,
    actions: str,
    parts_replaced: str = "",
    isp_part: str = "",
    note: str = "",
) -> dict[str, Any]:
    """SOP step 9: the resolution report; its duration is the working time from receipt to restore."""
    tracker = current_tracker()

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        restored = case.restored_at or now
        report = Report(
            case=case,
            cause=cause,
            actions=actions,
            parts_replaced=parts_replaced,
            isp_part=isp_part,
            duration_working_seconds=tracker.working_seconds(case.received_at, restored),
            isp_wait_working_seconds=_isp_wait_seconds(tracker, case, now),
            written_by_id=actor.user_id,
            written_at=now,
        )
        session.add(report)
        case.report_written_at = now
        return {"duration_working_seconds": report.duration_working_seconds}

    return _act(actor, case_id, "write_report", {"cause": cause, "actions": actions}, apply, note)


def close(actor: Actor, case_id: int, reported_to: str, note: str = "") -> dict[str, Any]:
    """SOP step 10: completion reported to the OPD; the case is closed."""

    def apply(session: Session, case: Case, now: datetime) -> dict[str, Any]:
        case.closed_at = now
        case.active_key = None
        return {"reported_to": reported_to}

    return _act(actor, case_id, "close", {"reported_to": reported_to}, apply, note)


def add_comment(actor: Actor, case_id: int, note: str) -> dict[str, Any]:
    """A free note on the timeline, by any staff member, in any state."""
    _require_staff(actor, "comment")
    if not note.strip():
        raise Invalid("a comment needs text", "note")
    tracker = current_tracker()
    with tracker.db.write() as session:
        _event(session, _load(session, case_id), actor, "comment", tracker.now(), note=note)
    return get_case(case_id)


# --- users -------------------------------------------------------------------------------------------


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(username: str, display_name: str, role: str, password: str, email: str | None = None) -> User:
    if role not in ROLES:
        raise Invalid(f"role must be one of {', '.join(ROLES)}", "role")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(Refusal("password_short", {"length": MIN_PASSWORD_LENGTH}), "password")
    tracker = current_tracker()
    try:
        with tracker.db.write() as session:
            user = User(
                username=username,
                display_name=display_name or username,
                email=email,
                role=role,
                password_hash=generate_password_hash(password),
                active=True,
                created_at=tracker.now(),
            )
            session.add(user)
    except IntegrityError:
        raise Invalid(Refusal("user_exists", {"user": username}), "username") from None
    return user


def set_password(username: str, password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(Refusal("password_short", {"length": MIN_PASSWORD_LENGTH}), "password")
    with current_tracker().db.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        user.password_hash = generate_password_hash(password)


def set_active(username: str, active: bool) -> None:
    with current_tracker().db.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        user.active = active


def issue_api_token(username: str) -> str:
    """A new personal API token for ``username`` (replacing the old one); only its hash is kept."""
    token = secrets.token_urlsafe(32)
    with current_tracker().db.write() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFound(f"no user {username!r}")
        user.api_token_hash = _hash_token(token)
    return token


# Brute-force protection of the login page. The failures are rows in the database, so the limit holds
# across the server's worker processes and restarts. While an account or an address is over its limit,
# attempts are refused without checking the password (and are not counted, so they do not extend it).
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_ADDRESS = 20  # a whole office may share one address behind NAT


@dataclass(frozen=True)
class SignIn:
    user: User | None
    retry_at: datetime | None = None  # set: refused unchecked, too many failures; try again then


def sign_in(username: str, password: str, address: str) -> SignIn:
    """The login page's check: :func:`authenticate`, limited per account and per client address."""
    tracker = current_tracker()
    now = tracker.now()
    username, address = username[:64], address[:64]
    with tracker.db.read() as session:
        waits = [
            blocked_until(_recent_login_failures(session, condition, now, limit), limit, LOGIN_WINDOW)
            for condition, limit in (
                (LoginFailure.username == username, LOGIN_FAILURES_PER_ACCOUNT),
                (LoginFailure.address == address, LOGIN_FAILURES_PER_ADDRESS),
            )
        ]
    retry_at = max((wait for wait in waits if wait is not None), default=None)
    if retry_at is not None and retry_at > now:
        return SignIn(None, retry_at)
    user = authenticate(username, password)
    with tracker.db.write() as session:
        if user is None:
            session.execute(delete(LoginFailure).where(LoginFailure.at <= now - LOGIN_WINDOW))
            session.add(LoginFailure(at=now, username=username, address=address))
        else:
            session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return SignIn(user)


def _recent_login_failures(session: Session, condition: Any, now: datetime, limit: int) -> list[datetime]:
    return list(
        session.scalars(
            select(LoginFailure.at)
            .where(condition, LoginFailure.at > now - LOGIN_WINDOW)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
        )
    )


def blocked_until(failures: Sequence[datetime], limit: int, window: timedelta) -> datetime | None:
    """Until when ``limit`` failures (newest first, within the window) refuse sign-in; None if fewer."""
    if len(failures) < limit:
        return None
    return failures[limit - 1] + window


def authenticate(username: str, password: str) -> User | None:
    """The active user with this username and password, else None (same work either way)."""
    with current_tracker().db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
    if user is None:
        # Spend the same hashing time as a real check, so usernames cannot be probed by timing.
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash("not a real password")


def load_user(user_id: str | int) -> User | None:
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    with current_tracker().db.read() as session:
        user = session.get(User, key)
    return user if user is not None and user.active else None


def user_by_api_token(token: str) -> User | None:
    with current_tracker().db.read() as session:
        user = session.scalar(select(User).where(User.api_token_hash == _hash_token(token)))
    return user if user is not None and user.active else None


def list_users(role: str | None = None) -> list[User]:
    with current_tracker().db.read() as session:
        query = select(User).order_by(User.username)
        if role:
            query = query.where(User.role == role)
        return list(session.scalars(query))


# --- complaints (SOP section 6) ---------------------------------------------------------------------


def complaint_json(c: Complaint) -> dict[str, Any]:
    tracker = current_tracker()
    return {
        "id": c.id,
        "case_id": c.case_id,
        "state": c.state,
        "channel": c.channel,
        "complainant": c.complainant,
        "contact": c.contact,
        "description": c.description,
        "received_at": _iso(c.received_at),
        "officer_id": c.officer_id,
        "officer_response": c.officer_response,
        "responded_at": _iso(c.responded_at),
        "escalated_at": _iso(c.escalated_at),
        "official_name": c.official_name,
        "resolution": c.resolution,
        "resolved_at": _iso(c.resolved_at),
        "resolved_by": c.resolved_by,
        "response_working_seconds": tracker.working_seconds(c.received_at, c.responded_at)
        if c.responded_at
        else None,
        "resolution_working_seconds": tracker.working_seconds(c.received_at, c.resolved_at)
        if c.resolved_at
        else None,
    }


def file_complaint(
    actor: Actor,
    complainant: str,
    description: str,
    channel: str = "direct",
    contact: str = "",
    case_id: int | None = None,
) -> dict[str, Any]:
    _require_staff(actor, "record_complaint")
    tracker = current_tracker()
    with tracker.db.write() as session:
        if case_id is not None:
            _load(session, case_id)
        row = Complaint(
            case_id=case_id,
            received_at=tracker.now(),
            channel=channel,
            complainant=complainant,
            contact=contact,
            description=description,
            state="received",
        )
        session.add(row)
        session.flush()
        return complaint_json(row)


def _complaint_step(
    actor: Actor, complaint_id: int, from_states: Iterable[str], apply: Callable[[Complaint, datetime], None]
) -> dict[str, Any]:
    _require_staff(actor, "handle_complaint")
    tracker = current_tracker()
    with tracker.db.write() as session:
        row = session.get(Complaint, complaint_id)
        if row is None:
            raise NotFound(f"complaint {complaint_id} does not exist")
        if row.state not in from_states:
            params = {"complaint": complaint_id, "complaint_state": row.state}
            raise Refused(Refusal("complaint_state", params))
        apply(row, tracker.now())
        return complaint_json(row)


def respond_complaint(actor: Actor, complaint_id: int, response: str, solved: bool) -> dict[str, Any]:
    """The officer responds; ``solved`` ends it there, otherwise it waits for escalation."""

    def apply(row: Complaint, now: datetime) -> None:
        row.officer_id, row.officer_response, row.responded_at = actor.user_id, response, now
        row.state = "resolved" if solved else "responded"
        if solved:
            row.resolved_at, row.resolved_by, row.resolution = now, "officer", response

    return _complaint_step(actor, complaint_id, ("received",), apply)


def escalate_complaint(actor: Actor, complaint_id: int, official_name: str) -> dict[str, Any]:
    def apply(row: Complaint, now: datetime) -> None:
        row.escalated_at, row.official_name, row.state = now, official_name, "escalated"

    return _complaint_step(actor, complaint_id, ("responded",), apply)


def resolve_complaint(actor: Actor, complaint_id: int, resolution: str) -> dict[str, Any]:
    def apply(row: Complaint, now: datetime) -> None:
        row.resolution, row.resolved_at, row.resolved_by, row.state = resolution, now, "official", "resolved"

    return _complaint_step(actor, complaint_id, ("escalated",), apply)


def list_complaints(case_id: int | None = None) -> list[dict[str, Any]]:
    with current_tracker().db.read() as session:
        query = select(Complaint).order_by(Complaint.id.desc())
        if case_id is not None:
            query = query.where(Complaint.case_id == case_id)
        return [complaint_json(c) for c in session.scalars(query)]
