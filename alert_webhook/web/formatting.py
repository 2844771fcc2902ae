"""How the pages show things: times in the service's zone as Indonesians read them (``30 November 2026
pukul 11.00 WIB``, the short form in tables), numbers and durations in the page's language, a case's
checklist and timeline, a check's evidence, a refusal's reason; registered as Jinja filters.

Presentation only: the values come from the services' typed views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from flask import Flask, flash
from flask_login import current_user

from ..core.documents import roman
from ..core.outbox import Channel, Notice
from ..core.service_level import Duration
from ..core.workflow import Check, CheckResult, EventKind
from ..extension import current_tracker
from ..i18n import (
    current_language,
    format_date,
    format_decimal,
    format_instant,
    format_instant_short,
    format_percent,
    gettext,
    has_message,
    ngettext,
)
from ..services import ServiceError, notifications
from ..services.evidence import NOT_CONFIGURED
from ..services.views import CaseDetail, CheckView, DurationView, EpisodeView, EventView

__all__ = [
    "EVENT_KINDS",
    "EVIDENCE_KEYS",
    "ChecklistItem",
    "checklist",
    "duration",
    "event_detail",
    "event_label",
    "evidence_text",
    "flash_refused",
    "grafana_url",
    "hours",
    "local_time",
    "local_time_short",
    "long_date",
    "number",
    "outside_link",
    "percent",
    "refusal_text",
    "register",
    "target_contact",
    "target_label",
]

EVIDENCE_KEYS = ("queried_at", "firing_alerts", "suggested", "lookups", "up", "rtt_seconds", "down", "error")
EVENT_KINDS = {f"event.{kind}" for kind in EventKind}
# The Grafana dashboard (grafana/dashboards/) showing one target, and its variable, by inventory kind.
GRAFANA_DASHBOARDS = {"opd": ("batiknet-opd", "opd"), "router": ("batiknet-core", "device"),
                      "switch": ("batiknet-core", "device")}  # fmt: skip
GRAFANA_OVERVIEW = "batiknet-noc"


# --- times and numbers -------------------------------------------------------------------------------


def _instant(value: datetime | str) -> datetime:
    # Evidence snapshots keep their instants as ISO 8601 text.
    return datetime.fromisoformat(value) if isinstance(value, str) else value


def local_time(value: datetime | str | None) -> str:
    """``30 November 2026 pukul 11.00 WIB`` / ``30 November 2026, 11:00 WIB``, in the service's zone."""
    if value is None:
        return "—"
    return format_instant(_instant(value), current_language(), current_tracker().calendar.timezone)


def local_time_short(value: datetime | str | None) -> str:
    """``30 Nov 2026 11.00 WIB``: tables and narrow screens."""
    if value is None:
        return "—"
    return format_instant_short(_instant(value), current_language(), current_tracker().calendar.timezone)


def long_date(value: date | datetime | None) -> str:
    """``30 November 2026``, the month named in the page's language (Desember / December)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(current_tracker().calendar.timezone).date()
    return format_date(value, current_language())


def number(value: float) -> str:
    """``1.234,5`` / ``1,234.5``: one decimal."""
    return format_decimal(value, current_language())


def hours(seconds: float | None) -> str:
    """Seconds as hours, with a decimal only where there is one: ``0``, ``3,5``, ``26``."""
    if seconds is None:
        return "—"
    value = round(seconds / 3600, 1)
    return format_decimal(value, current_language(), digits=0 if value == int(value) else 1)


def percent(share: float) -> str:
    return format_percent(share, current_language())


def clock_time(seconds: float) -> str:
    """A stretch of clock time in days, hours and minutes: ``1 hari 2 jam 15 menit``."""
    minutes = round(seconds / 60)
    if seconds > 0 and minutes == 0:
        return gettext("duration.under_a_minute")
    days, rest = divmod(minutes, 24 * 60)
    whole_hours, minutes = divmod(rest, 60)
    parts = [
        ngettext(key, count)
        for key, count in (
            ("duration.days", days),
            ("duration.hours", whole_hours),
            ("duration.minutes", minutes),
        )
        if count
    ]
    return " ".join(parts) or ngettext("duration.minutes", 0)


def duration(value: Duration | DurationView | None) -> str:
    """Clock time with its service hours beside it: ``2 jam 15 menit (0,8 jam kerja)``; when none of it
    was service time, it says so: ``2 jam 15 menit (di luar jam layanan; 0 jam kerja)``."""
    if value is None:
        return "—"
    clock, working = clock_time(value.clock_seconds), hours(value.working_seconds)
    if Duration(value.clock_seconds, value.working_seconds).outside_service_hours:
        return gettext("duration.outside_service_hours", clock=clock, hours=working)
    return gettext("duration.with_working_hours", clock=clock, hours=working)


# --- a case ------------------------------------------------------------------------------------------


def target_label(target_id: str) -> str:
    return current_tracker().target_name(target_id)


def target_contact(target_id: str) -> dict[str, str]:
    """Where the target is and whom to call there, from the inventory (OPDs only)."""
    target = current_tracker().inventory_entry(target_id)
    contact = getattr(target, "contact", None)
    return {
        "address": getattr(target, "street_address", "") or "",
        "contact": f"{contact.name}, {contact.phone}" if contact else "",
    }


def outside_link(url: str | None) -> str | None:
    """An address from outside (an alert's ``generatorURL``, a Grafana link) as a link's target: only an
    absolute http(s) address; anything else (``javascript:``, ``data:``, a relative path) is no link. The
    address is written as it was parsed (browsers drop the tabs and newlines that ``urlsplit`` drops)."""
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit(parts) if parts.scheme in ("http", "https") and parts.hostname else None


def grafana_url(episode: EpisodeView) -> str | None:
    """The dashboard of the episode's target around the episode (the NOC overview for ISPs and DNS)."""
    tracker = current_tracker()
    base = tracker.settings.grafana_url
    if not base or not episode.target:
        return None
    entry = tracker.inventory_entry(episode.target)
    kind = "opd" if tracker.inventory is None else (entry.kind if entry is not None else None)
    window = f"from={int(episode.starts_at.timestamp() * 1000) - 3_600_000}"
    ends = episode.ends_at
    window += "&to=now" if ends is None else f"&to={int(ends.timestamp() * 1000) + 1_800_000}"
    if kind in GRAFANA_DASHBOARDS:
        uid, variable = GRAFANA_DASHBOARDS[kind]
        return f"{base.rstrip('/')}/d/{uid}?var-{variable}={quote(episode.target, safe='')}&{window}"
    return f"{base.rstrip('/')}/d/{GRAFANA_OVERVIEW}?{window}"


@dataclass(frozen=True)
class ChecklistItem:
    check: Check
    recorded: CheckView | None  # the latest result of the current round
    actor: str
    prefill: dict[str, Any] | None
    form: Any | None  # the check's form, when the reader may record it


def checklist(
    case: CaseDetail,
    prefill: dict[Check, dict[str, Any]] | None = None,
    forms: dict[Check, Any] | None = None,
) -> list[ChecklistItem]:
    """The four checks of the current round; with the evidence and forms the case page adds."""
    prefill, forms = prefill or {}, forms or {}
    this_round = [c for c in case.checks if c.round == case.check_round]
    items = []
    for check in Check:
        recorded = next((c for c in reversed(this_round) if c.check == check), None)
        actor = (recorded.by_name if recorded else None) or ""
        items.append(ChecklistItem(check, recorded, actor, prefill.get(check), forms.get(check)))
    return items


def evidence_text(evidence: dict[str, Any]) -> str:
    """A check's Prometheus snapshot as ``label: value`` lines in the page's language."""

    def label(key: str) -> str:
        return gettext(f"evidence.{key}") if key in EVIDENCE_KEYS else key

    lines = []
    for key, value in evidence.items():
        if key == "queried_at":
            value = local_time(value)
        elif key == "suggested":
            value = gettext(f"check.{value}") if value in tuple(CheckResult) else "—"
        elif key == "error" and value == NOT_CONFIGURED:
            value = gettext("monitoring.not_configured")
        if isinstance(value, dict):
            lines.extend(f"{label(key)} {k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            lines.append(f"{label(key)}: " + (", ".join(str(v) for v in value) or "—"))
        else:
            lines.append(f"{label(key)}: {value}")
    return "\n".join(lines)


def event_label(event: EventView) -> str:
    key = f"event.{event.kind}"
    return gettext(key) if key in EVENT_KINDS else event.kind


def event_detail(event: EventView, people: Mapping[str, str] | None = None) -> str:
    """The gist of an event's data, for the timeline: which check and its result, who was assigned (named
    by ``people``, username → display name, when it knows them)..."""
    data, kind, people = event.data, event.kind, people or {}
    recorded = data.get("check") in tuple(Check) and data.get("result") in tuple(CheckResult)
    if kind == EventKind.RECORD_CHECK and recorded:
        return f"{gettext('check.' + data['check'])}: {gettext('check.' + data['result'])}"
    if kind in (EventKind.DISPOSE, EventKind.ASSIGN) and data.get("technicians"):
        return ", ".join(people.get(username, username) for username in data["technicians"])
    if kind == EventKind.ESCALATE_ISP and data.get("ticket_number"):
        return f"{gettext('case.isp.ticket')} {data['ticket_number']}"
    if kind == EventKind.RECORD_RECHECK and isinstance(data.get("connected"), bool):
        return gettext("case.isp.connected") if data["connected"] else gettext("case.isp.not_connected")
    if kind == EventKind.TARGET_JOINED and data.get("target"):
        return target_label(data["target"])
    if kind == EventKind.LETTER_ADDED and data.get("number"):
        return data["number"]
    if kind == EventKind.RECEIPT_MOVED and data.get("from") and data.get("to"):
        return f"{local_time(data['from'])} → {local_time(data['to'])}"
    if kind == EventKind.CLOSE and data.get("reported_to"):
        return data["reported_to"]
    if kind in NOTICE_EVENTS and data.get("notice") in tuple(Notice):
        return notice_detail(kind, data)
    return ""


NOTICE_EVENTS = (
    EventKind.NOTICE_QUEUED,
    EventKind.NOTICE_SENT,
    EventKind.NOTICE_FAILED,
    EventKind.NOTICE_GIVEN_UP,
)


def notice_detail(kind: str, data: dict[str, Any]) -> str:
    """A message to people on the timeline: which, how and to whom; when a reminder is due; why an attempt
    failed and when the next one comes, or after how many it was given up."""
    notice = gettext(f"notice.kind.{data['notice']}")
    if kind == EventKind.NOTICE_QUEUED:
        recipients = ", ".join(
            _recipient(r.get("channel"), r.get("to", ""), r.get("name", ""))
            for r in data.get("recipients", [])
        )
        if data.get("due_at"):
            due = local_time(data["due_at"])
            return gettext("notice.detail.scheduled", notice=notice, recipients=recipients, due=due)
        return gettext("notice.detail.queued", notice=notice, recipients=recipients)
    channel = gettext(f"notice.channel.{data['channel']}") if data.get("channel") in tuple(Channel) else "?"
    about = {
        "notice": notice,
        "channel": channel,
        "to": _recipient(data.get("channel"), data.get("to", ""), data.get("name", "")),
        "error": data.get("error", ""),
    }
    attempt = data.get("attempt", 1)
    if kind == EventKind.NOTICE_SENT and attempt == 1:
        return gettext("notice.detail.sent", **about)
    if kind == EventKind.NOTICE_SENT:
        return gettext("notice.detail.sent_again", attempt=attempt, **about)
    if kind == EventKind.NOTICE_FAILED:
        return gettext(
            "notice.detail.failed", attempt=attempt, retry_at=local_time(data.get("retry_at")), **about
        )
    return ngettext("notice.detail.given_up", data.get("attempts", 1), **about)


def _recipient(channel: str | None, to: str, name: str) -> str:
    if channel == Channel.TELEGRAM:
        return gettext("notice.telegram_chat", chat=to)
    return f"{name} <{to}>" if name else to


# --- refusals ----------------------------------------------------------------------------------------

# A refusal's parameter → the message family that names its values (states, checks, roles, actions).
PARAMETER_FAMILIES = {
    "field": "field",
    "action": "action",
    "state": "state",
    "states": "state",
    "checks": "check",
    "results": "check",
    "role": "role",
    "complaint_state": "complaints.state",
    "part": "report",
}


def _localised(name: str, value: object) -> str:
    """A refusal's parameter in the page's language."""
    if isinstance(value, tuple):
        return ", ".join(_localised(name, item) for item in value)
    if isinstance(value, datetime):
        return local_time(value)
    if isinstance(value, date):
        return long_date(value)
    family = PARAMETER_FAMILIES.get(name)
    key = f"{family}.{value}"
    # An unknown action (the refusal says so) has no text of its own.
    return gettext(key) if family and has_message(key, current_language()) else str(value)


def refusal_text(error: ServiceError) -> str:
    """A refusal of the services in the page's language; other errors keep their English sentence."""
    refusal = error.refusal
    if refusal is None:
        return error.message
    return gettext(
        f"refused.{refusal.code}", **{name: _localised(name, value) for name, value in refusal.params.items()}
    )


def flash_refused(error: ServiceError) -> None:
    flash(gettext("action.refused", reason=refusal_text(error)), "error")


# --- wiring ------------------------------------------------------------------------------------------


def watchdog_warning() -> str | None:
    """The banner text when Alertmanager's Watchdog heartbeat has gone silent, else None."""
    tracker = current_tracker()
    if not notifications.heartbeat_stale(tracker):
        return None
    last = notifications.last_heartbeat(tracker)
    return gettext("watchdog.never") if last is None else gettext("watchdog.silent", since=local_time(last))


def register(app: Flask) -> None:
    """The filters every template may use, and the Watchdog banner on every signed-in page."""
    for name, function in (
        ("local", local_time),
        ("local_short", local_time_short),
        ("long_date", long_date),
        ("duration", duration),
        ("number", number),
        ("percent", percent),
        ("evidence_text", evidence_text),
        ("roman", roman),
        ("outside_link", outside_link),
    ):
        app.add_template_filter(function, name)

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        return {"watchdog_warning": watchdog_warning() if current_user.is_authenticated else None}
