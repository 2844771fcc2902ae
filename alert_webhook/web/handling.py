"""The whole handling of a case as its resolution report tells it (SOP steps 2-10): the disposition, every
round of the four checks, every coordination with the ISP with its rechecks and its recovery estimate
against the actual recovery, the restoration and the completion reported to the OPD.

A printed ticket of a service desk (GLPI's, Zammad's) tells its reader the same things: every step with
who took it, when and what was found, in the order it happened, then the solution. :func:`handling`
assembles that story from a case's typed view and the names of the people, without wording it; the
functions below it word what the view keeps as data (a check's monitoring snapshot, a time span) in the
page's language.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Any

from ..core.workflow import Check, CheckResult, EventKind
from ..i18n import format_decimal, format_time, gettext, ngettext
from ..services.views import CaseDetail, CheckView, EventView, ISPContactView

__all__ = [
    "Act",
    "Assignment",
    "CheckLine",
    "CheckRound",
    "Completion",
    "Handling",
    "ISPCall",
    "People",
    "RecheckLine",
    "against_estimate",
    "evidence_lines",
    "handling",
    "time_span",
]


@dataclass(frozen=True)
class People:
    """The display names of the accounts, by id and by username (the timeline keeps usernames)."""

    by_id: Mapping[int, str]
    by_username: Mapping[str, str]

    def named(self, user_id: int | None, username: str | None) -> str:
        if user_id is not None and user_id in self.by_id:
            return self.by_id[user_id]
        return self.by_username.get(username or "", username or "—")


@dataclass(frozen=True)
class Act:
    """A step someone took: who, when, and the note they wrote."""

    by: str
    at: datetime
    note: str = ""


@dataclass(frozen=True)
class Assignment:
    """The disposition, or technicians added later: who assigned whom, when, with which instruction."""

    act: Act
    technicians: tuple[str, ...]


@dataclass(frozen=True)
class CheckLine:
    check: Check
    result: CheckResult | None  # None: not recorded in this round
    act: Act | None
    evidence: Mapping[str, Any]  # the monitoring snapshot kept with the check


@dataclass(frozen=True)
class RecheckLine:
    connected: bool
    act: Act


@dataclass(frozen=True)
class ISPCall:
    contact: ISPContactView
    by: str
    rechecks: tuple[RecheckLine, ...]
    # The actual recovery minus the ISP's estimate (positive: later than estimated); None when the ISP
    # gave no estimate or the network has not recovered.
    recovery_after_estimate: timedelta | None


@dataclass(frozen=True)
class CheckRound:
    """One round of the four checks and the coordination with the ISP that followed it (SOP steps 4-8)."""

    number: int
    checks: tuple[CheckLine, ...]
    isp_calls: tuple[ISPCall, ...]


@dataclass(frozen=True)
class Completion:
    act: Act
    reported_to: str


@dataclass(frozen=True)
class Handling:
    disposition: Assignment | None
    additions: tuple[Assignment, ...]
    rounds: tuple[CheckRound, ...]
    restoration: Act | None  # who declared the network restored, when
    restored_by_recheck: bool  # ... by a recheck after the ISP's work (else by the restore step)
    completion: Completion | None  # SOP step 10: completion reported to the OPD (the case is closed)


def handling(case: CaseDetail, people: People) -> Handling:
    """The story of ``case`` from its disposition to its completion."""

    def act(user_id: int | None, username: str | None, at: datetime, note: str = "") -> Act:
        return Act(people.named(user_id, username), at, note)

    def of_event(event: EventView) -> Act:
        return act(event.actor_id, event.actor, event.at, event.note)

    def assignment(event: EventView) -> Assignment:
        names = tuple(people.named(None, username) for username in event.data.get("technicians", ()))
        return Assignment(of_event(event), names)

    events = case.timeline
    disposals = [e for e in events if e.kind == EventKind.DISPOSE]
    additions = [e for e in events if e.kind == EventKind.ASSIGN and e.data.get("technicians")]
    restorations = [
        e
        for e in events
        if e.kind == EventKind.RESTORE or (e.kind == EventKind.RECORD_RECHECK and e.data.get("connected"))
    ]
    closings = [e for e in events if e.kind == EventKind.CLOSE]
    restoration = restorations[-1] if restorations and case.restored_at else None
    completion = None
    if closings and case.closed_at:
        completion = Completion(of_event(closings[-1]), str(closings[-1].data.get("reported_to", "")))

    def isp_call(contact: ISPContactView) -> ISPCall:
        rechecks = tuple(
            RecheckLine(r.connected, act(r.user_id, None, r.at, r.note))
            for r in case.rechecks
            if r.isp_contact_id == contact.id
        )
        late = None
        if contact.estimate_at and case.restored_at:
            late = case.restored_at - contact.estimate_at
        return ISPCall(contact, people.named(contact.user_id, None), rechecks, late)

    calls_by_round: dict[int, list[ISPCall]] = {}
    for contact in case.isp_contacts:
        calls_by_round.setdefault(_round_of(contact, case.checks), []).append(isp_call(contact))
    last_round = max([case.check_round, *calls_by_round])
    rounds = tuple(
        CheckRound(number, _round_checks(case.checks, number, act), tuple(calls_by_round.get(number, ())))
        for number in range(1, last_round + 1)
    )
    return Handling(
        disposition=assignment(disposals[0]) if disposals else None,
        additions=tuple(assignment(e) for e in additions),
        rounds=rounds,
        restoration=of_event(restoration) if restoration else None,
        restored_by_recheck=restoration is not None and restoration.kind == EventKind.RECORD_RECHECK,
        completion=completion,
    )


def _round_of(contact: ISPContactView, checks: list[CheckView]) -> int:
    """The round of checks a call to the ISP followed: the round of the last check entered before it
    (the ISP is called once the four checks of a round are recorded)."""
    return max((c.round for c in checks if c.at <= contact.logged_at), default=1)


def _round_checks(checks: list[CheckView], number: int, act: Callable[..., Act]) -> tuple[CheckLine, ...]:
    """The four checks of round ``number`` in the SOP's order, each as last recorded in that round."""
    lines = []
    for check in Check:
        recorded = next((c for c in reversed(checks) if c.round == number and c.check == check), None)
        if recorded is None:
            lines.append(CheckLine(check, None, None, {}))
        else:
            by = act(recorded.user_id, recorded.by, recorded.at, recorded.note)
            lines.append(CheckLine(check, recorded.result, by, recorded.evidence))
    return tuple(lines)


# --- wording what the data keeps --------------------------------------------------------------------


def evidence_lines(
    evidence: Mapping[str, Any], target_name: Callable[[str], str], language: str, zone: tzinfo
) -> list[str]:
    """A check's monitoring snapshot in a few lines: what the monitoring showed, and when."""
    if not evidence:
        return []
    if "error" in evidence:
        return [gettext("report.evidence.unavailable")]
    lines = []
    if "queried_at" in evidence:
        seen = datetime.fromisoformat(evidence["queried_at"])
        lines.append(gettext("report.evidence.at", time=format_time(seen, language, zone)))
    if "firing_alerts" in evidence:
        alerts = evidence["firing_alerts"]
        if alerts:
            lines.append(gettext("report.evidence.alerts", alerts=", ".join(alerts)))
        else:
            lines.append(gettext("report.evidence.no_alerts"))
    if "lookups" in evidence:
        lookups = evidence["lookups"]
        answered = sum(1 for value in lookups.values() if value == 1)
        lines.append(gettext("report.evidence.dns", ok=answered, total=len(lookups)))
        failed = [name for name, value in lookups.items() if value != 1]
        if failed:
            lines.append(gettext("report.evidence.dns_failed", names=", ".join(failed)))
    if "up" in evidence:
        up, rtt = evidence["up"], evidence.get("rtt_seconds", {})

        def reachable(target: str) -> str:
            name = target_name(target)
            if target not in rtt:
                return name
            return f"{name} ({format_decimal(rtt[target] * 1000, language, digits=0)} ms)"

        reached = [reachable(t) for t, value in up.items() if value == 1]
        unreached = [target_name(t) for t, value in up.items() if value != 1]
        if reached:
            lines.append(gettext("report.evidence.reachable", targets=", ".join(reached)))
        if unreached:
            lines.append(gettext("report.evidence.unreachable", targets=", ".join(unreached)))
    return lines


def time_span(span: timedelta) -> str:
    """``2 jam 30 menit`` / ``2 hours 30 minutes``: a length of clock time, to the minute ("" under one)."""
    minutes = round(abs(span).total_seconds() / 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(ngettext("report.span.days", days))
    if hours:
        parts.append(ngettext("report.span.hours", hours))
    if minutes:
        parts.append(ngettext("report.span.minutes", minutes))
    return " ".join(parts)


def against_estimate(recovery_after_estimate: timedelta) -> str:
    """How the actual recovery compares with the ISP's estimate: later or earlier, by how much."""
    span = time_span(recovery_after_estimate)
    if not span:
        return gettext("report.isp.as_estimated")
    if recovery_after_estimate > timedelta(0):
        return gettext("report.isp.later", span=span)
    return gettext("report.isp.earlier", span=span)
