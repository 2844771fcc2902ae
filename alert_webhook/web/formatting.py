"""How the pages show things: times in the service's zone, numbers in the page's language, a case's
checklist and timeline, a check's evidence, a refusal's reason; registered as Jinja filters.

Presentation only: the values come from the services' typed views.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from flask import Flask, flash
from flask_login import current_user

from ..core.workflow import Check, CheckResult, EventKind
from ..extension import current_tracker
from ..i18n import current_language, gettext, has_message
from ..services import ServiceError, notifications
from ..services.views import CaseDetail, CheckView, EpisodeView, EventView

__all__ = [
    "EVENT_KINDS",
    "EVIDENCE_KEYS",
    "ChecklistItem",
    "checklist",
    "event_detail",
    "event_label",
    "evidence_text",
    "flash_refused",
    "grafana_url",
    "hours",
    "local_time",
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


def local_time(value: datetime | str | None) -> str:
    """``30-11-2026 10:00 WIB``; a string is ISO 8601 (evidence snapshots keep their instants as text)."""
    if value is None:
        return "—"
    instant = datetime.fromisoformat(value) if isinstance(value, str) else value
    # %Z names the zone as people say it: WIB for Asia/Jakarta.
    return instant.astimezone(current_tracker().calendar.timezone).strftime("%d-%m-%Y %H:%M %Z")


def long_date(value: date | datetime | None) -> str:
    """``30 November 2026``, the month named in the page's language (Desember / December)."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        value = value.astimezone(current_tracker().calendar.timezone).date()
    return f"{value.day} {gettext(f'month.{value.month}')} {value.year}"


def number(value: float) -> str:
    text = f"{value:,.1f}"
    if current_language() == "id":  # 1.234,5 in Indonesian
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def hours(seconds: float | None) -> str:
    return "—" if seconds is None else number(seconds / 3600)


def percent(share: float) -> str:
    return f"{round(share * 100)}%"


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
        actor = (recorded.by if recorded else None) or ""
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


def event_detail(event: EventView) -> str:
    """The gist of an event's data, for the timeline: which check and its result, who was assigned..."""
    data, kind = event.data, event.kind
    recorded = data.get("check") in tuple(Check) and data.get("result") in tuple(CheckResult)
    if kind == EventKind.RECORD_CHECK and recorded:
        return f"{gettext('check.' + data['check'])}: {gettext('check.' + data['result'])}"
    if kind in (EventKind.DISPOSE, EventKind.ASSIGN) and data.get("technicians"):
        return ", ".join(data["technicians"])
    if kind == EventKind.ESCALATE_ISP and data.get("ticket_number"):
        return f"{gettext('case.isp.ticket')} {data['ticket_number']}"
    if kind == EventKind.RECORD_RECHECK and isinstance(data.get("connected"), bool):
        return gettext("case.isp.connected") if data["connected"] else gettext("case.isp.not_connected")
    if kind == EventKind.TARGET_JOINED and data.get("target"):
        return target_label(data["target"])
    if kind == EventKind.LETTER_ADDED and data.get("number"):
        return data["number"]
    if kind == EventKind.CLOSE and data.get("reported_to"):
        return data["reported_to"]
    return ""


# --- refusals ----------------------------------------------------------------------------------------

# A refusal's parameter → the message family that names its values (states, checks, roles, actions).
PARAMETER_FAMILIES = {
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
        ("long_date", long_date),
        ("hours", hours),
        ("number", number),
        ("percent", percent),
        ("evidence_text", evidence_text),
        ("outside_link", outside_link),
    ):
        app.add_template_filter(function, name)

    @app.context_processor
    def _page_context() -> dict[str, Any]:
        return {"watchdog_warning": watchdog_warning() if current_user.is_authenticated else None}
