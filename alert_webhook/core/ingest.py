"""What a webhook notification does to the cases: pure decisions, no database.

Alertmanager delivers at least once, from both members of an HA pair, again after ``repeat_interval``,
and not necessarily in order. :func:`plan_notification` turns that into exactly-once effects:

* An alert *episode* is identified by (fingerprint, startsAt). An episode already known never opens
  anything again; a firing that arrives after the resolved of the same episode changes nothing; a
  resolved that arrives first is remembered, so its late firing is ignored too.
* A case is found by a stable key built from the notification's group labels (never from Alertmanager's
  opaque groupKey, which changes with the route configuration).
* A new episode joins the case whose disruption is ongoing. If the network of the latest case of that
  key was restored less than the reopen window ago (working time), the case reopens and counts a flap;
  after the window a new case opens, linked to the old one. A closed case never reopens.
* While a case for a core device or ISP uplink is ongoing, a new episode of a target behind it joins that
  case as an affected target.
* A truncated notification marks the case incomplete. Resolution only ever comes from alerts listed as
  resolved, so alerts a truncated notification left out are never resolved by it; and such a
  notification restores the case's network only when its group status says every alert resolved.

The caller (``services.apply_pending``) loads a :class:`World` snapshot, applies the effects in one
transaction and writes the timeline.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .alertmanager import Alert, Notification

__all__ = [
    "AddEpisode",
    "CaseState",
    "Effect",
    "EpisodeKey",
    "EpisodeState",
    "JoinTarget",
    "MarkIncomplete",
    "NetworkRestored",
    "NewCase",
    "OpenCase",
    "Plan",
    "Reopen",
    "ResolveEpisode",
    "World",
    "case_key",
    "choose_letter_case",
    "content_digest",
    "plan_notification",
]

EpisodeKey = tuple[str, datetime]  # (fingerprint, startsAt)


@dataclass(frozen=True)
class NewCase:
    """A case this plan opens; ``index`` orders the new cases of one plan."""

    index: int


CaseRef = int | NewCase


@dataclass(frozen=True)
class EpisodeState:
    case_id: int | None
    status: str


@dataclass(frozen=True)
class CaseState:
    id: int
    group_key: str | None
    target: str
    closed: bool
    network_restored_at: datetime | None
    firing: frozenset[EpisodeKey] = frozenset()
    targets: frozenset[str] = frozenset()

    @property
    def ongoing(self) -> bool:
        return not self.closed and self.network_restored_at is None


@dataclass(frozen=True)
class World:
    """What the database knows that matters for one notification."""

    episodes: Mapping[EpisodeKey, EpisodeState] = field(default_factory=dict)
    cases: Mapping[int, CaseState] = field(default_factory=dict)
    latest_by_key: Mapping[str, int] = field(default_factory=dict)  # group key → newest case id
    ongoing_by_target: Mapping[str, int] = field(default_factory=dict)  # target → ongoing case id


@dataclass(frozen=True)
class OpenCase:
    case: NewCase
    group_key: str
    target: str
    title: str
    received_at: datetime
    previous_case_id: int | None


@dataclass(frozen=True)
class Reopen:
    case: int
    at: datetime


@dataclass(frozen=True)
class AddEpisode:
    case: CaseRef | None  # None: a resolved alert of no known case, kept so its late firing is ignored
    alert: Alert


@dataclass(frozen=True)
class ResolveEpisode:
    key: EpisodeKey
    case: CaseRef | None
    ends_at: datetime


@dataclass(frozen=True)
class JoinTarget:
    case: CaseRef
    target: str


@dataclass(frozen=True)
class NetworkRestored:
    case: CaseRef
    at: datetime


@dataclass(frozen=True)
class MarkIncomplete:
    case: CaseRef
    truncated_alerts: int


Effect = OpenCase | Reopen | AddEpisode | ResolveEpisode | JoinTarget | NetworkRestored | MarkIncomplete


@dataclass(frozen=True)
class Plan:
    group_key: str
    effects: tuple[Effect, ...]

    @property
    def duplicate(self) -> bool:
        return not self.effects


def content_digest(notification: Notification) -> str:
    """What a notification says about its alerts, without who sent it or when (HA peers agree on it).

    Applying a notification makes every episode it lists known with at least its status, so the same
    content arriving again can change nothing: :func:`plan_notification` would return no effect.
    """
    alerts = sorted(
        (a.fingerprint, a.starts_at.isoformat(), a.status, a.ends_at.isoformat() if a.ends_at else "")
        for a in notification.alerts
    )
    canonical = json.dumps(
        [case_key(notification), notification.status, notification.truncated_alerts, alerts]
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def case_key(notification: Notification) -> str:
    """The stable identity of a notification group: its group labels, sorted."""
    labels = notification.group_labels or {"receiver": notification.receiver}
    return ",".join(f"{name}={labels[name]}" for name in sorted(labels))


def case_target(notification: Notification, alert: Alert) -> str:
    """The target label, else the group's key (cut to the column's length where it is stored)."""
    return (
        notification.group_labels.get("target")
        or notification.common_labels.get("target")
        or alert.target
        or case_key(notification)
    )


def case_title(notification: Notification, alert: Alert) -> str:
    summary = notification.common_annotations.get("summary") or alert.annotations.get("summary")
    return summary or f"{alert.name} {case_target(notification, alert)}"


@dataclass
class _Draft:
    """A case as the plan evolves it: which episodes still fire, which targets it covers."""

    ref: CaseRef
    closed: bool
    network_restored_at: datetime | None
    firing: set[EpisodeKey]
    targets: set[str]
    touched: bool = False

    @property
    def ongoing(self) -> bool:
        return not self.closed and self.network_restored_at is None


def plan_notification(
    notification: Notification,
    world: World,
    ancestors: Callable[[str], tuple[str, ...]],
    working_seconds_between: Callable[[datetime, datetime], float],
    reopen_window_seconds: float,
) -> Plan:
    """Decide the effects of one notification on the cases described by ``world``.

    ``ancestors(target)`` gives the targets upstream of a target, nearest first (empty for unknown
    targets); ``working_seconds_between(a, b)`` is the working-time clock.
    """
    key = case_key(notification)
    effects: list[Effect] = []
    drafts: dict[CaseRef, _Draft] = {
        cid: _Draft(cid, c.closed, c.network_restored_at, set(c.firing), set(c.targets))
        for cid, c in world.cases.items()
    }
    latest: CaseRef | None = world.latest_by_key.get(key)
    ongoing_by_target: dict[str, CaseRef] = dict(world.ongoing_by_target)
    episodes: dict[EpisodeKey, EpisodeState | tuple[CaseRef | None, str]] = dict(world.episodes)
    new_cases = 0

    def case_for_new_episode(alert: Alert) -> CaseRef | None:
        nonlocal latest, new_cases
        target = alert.target
        if target is not None:
            for upstream in ancestors(target):
                ref = ongoing_by_target.get(upstream)
                if ref is not None and drafts[ref].ongoing:
                    return ref
        if latest is not None:
            draft = drafts[latest]
            if draft.ongoing:
                return latest
            if draft.network_restored_at is not None and not draft.closed:
                elapsed = working_seconds_between(draft.network_restored_at, alert.starts_at)
                if elapsed <= reopen_window_seconds:
                    effects.append(Reopen(case=latest, at=alert.starts_at))  # type: ignore[arg-type]
                    draft.network_restored_at = None
                    draft.touched = True
                    return latest
        if alert.status == "resolved" and latest is None:
            return None
        ref = NewCase(new_cases)
        new_cases += 1
        previous = latest if isinstance(latest, int) else None
        effects.append(
            OpenCase(
                ref,
                key,
                case_target(notification, alert),
                case_title(notification, alert),
                alert.starts_at,
                previous,
            )
        )
        drafts[ref] = _Draft(ref, False, None, set(), {case_target(notification, alert)})
        ongoing_by_target.setdefault(case_target(notification, alert), ref)
        latest = ref
        return ref

    for alert in notification.alerts:
        episode_key: EpisodeKey = (alert.fingerprint, alert.starts_at)
        known = episodes.get(episode_key)
        if known is not None:
            case_ref, status = (known.case_id, known.status) if isinstance(known, EpisodeState) else known
            if alert.status == "resolved" and status == "firing":
                effects.append(ResolveEpisode(episode_key, case_ref, alert.ends_at))  # type: ignore[arg-type]
                episodes[episode_key] = (case_ref, "resolved")
                if case_ref is not None and case_ref in drafts:
                    drafts[case_ref].firing.discard(episode_key)
                    drafts[case_ref].touched = True
            continue
        case_ref = case_for_new_episode(alert)
        effects.append(AddEpisode(case_ref, alert))
        episodes[episode_key] = (case_ref, alert.status)
        if case_ref is None:
            continue
        draft = drafts[case_ref]
        draft.touched = True
        if alert.status == "firing":
            draft.firing.add(episode_key)
        if alert.target is not None and alert.target not in draft.targets:
            draft.targets.add(alert.target)
            effects.append(JoinTarget(case_ref, alert.target))

    resolved_ends = {
        (a.fingerprint, a.starts_at): a.ends_at for a in notification.alerts if a.status == "resolved"
    }
    # A case is restored by the notification that lists its last firing episode as resolved, or by a
    # later one (a truncated notification may have had to wait for the group's resolved status).
    mentioned = {_episode_case(episodes, k) for k in resolved_ends}
    for draft in drafts.values():
        if not draft.touched and draft.ref not in mentioned:
            continue
        if draft.touched and notification.truncated_alerts > 0:
            effects.append(MarkIncomplete(draft.ref, notification.truncated_alerts))
        # A truncated notification may leave out alerts that still fire, unless the whole group resolved.
        complete = notification.truncated_alerts == 0 or notification.status == "resolved"
        if draft.ongoing and not draft.firing and complete:
            ends = [
                end for k, end in resolved_ends.items() if _episode_case(episodes, k) == draft.ref and end
            ]
            if ends:
                effects.append(NetworkRestored(draft.ref, max(ends)))
    return Plan(group_key=key, effects=tuple(effects))


def _episode_case(
    episodes: Mapping[EpisodeKey, EpisodeState | tuple[CaseRef | None, str]], key: EpisodeKey
) -> CaseRef | None:
    known = episodes.get(key)
    if known is None:
        return None
    return known.case_id if isinstance(known, EpisodeState) else known[0]


def choose_letter_case(
    opd: str, ancestors: tuple[str, ...], open_case_by_target: Mapping[str, int]
) -> int | None:
    """The open alert case a letter about ``opd`` joins: the OPD's own, else its nearest upstream's."""
    for target in (opd, *ancestors):
        if target in open_case_by_target:
            return open_case_by_target[target]
    return None
