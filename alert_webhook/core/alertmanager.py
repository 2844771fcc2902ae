"""Alertmanager's webhook payload (version 4) as validated dataclasses.

:func:`parse_notification` turns the decoded JSON into a :class:`Notification` or raises
:class:`PayloadError` naming the offending field (``alerts[3].startsAt``), so that the API can answer 400
with something an operator can act on.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .instants import within_reach

__all__ = ["Alert", "Notification", "PayloadError", "parse_notification", "parse_timestamp", "text_problem"]

# Alertmanager sends Go's zero time for "no end yet".
GO_ZERO_TIME = datetime(1, 1, 1, tzinfo=UTC)
FRACTION = re.compile(r"\.(\d+)")
STATUSES = ("firing", "resolved")
# PostgreSQL's text cannot hold it: a notification carrying one could never be stored.
NUL = "\x00"


class PayloadError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Alert:
    status: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    fingerprint: str

    @property
    def name(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def target(self) -> str | None:
        return self.labels.get("target")


@dataclass(frozen=True)
class Notification:
    receiver: str
    status: str
    group_key: str
    truncated_alerts: int
    group_labels: Mapping[str, str]
    common_labels: Mapping[str, str]
    common_annotations: Mapping[str, str]
    external_url: str
    alerts: tuple[Alert, ...]


def parse_timestamp(value: Any, field: str) -> datetime:
    """RFC 3339 as Alertmanager writes it (nanoseconds, ``Z``) → aware UTC datetime, within the tracker's
    reach (:mod:`.instants`)."""
    parsed = _rfc3339(value, field)
    if not within_reach(parsed):
        raise PayloadError(field, f"{value!r} lies too near the ends of the calendar to be computed with")
    return parsed.astimezone(UTC)


def _rfc3339(value: Any, field: str) -> datetime:
    if not isinstance(value, str) or not value:
        raise PayloadError(field, "must be an RFC 3339 timestamp string")
    # Python keeps microseconds; Go writes up to nanoseconds.
    text = FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), value.strip(), count=1)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise PayloadError(field, f"{value!r} is not an RFC 3339 timestamp") from None
    if parsed.tzinfo is None:
        raise PayloadError(field, f"{value!r} has no time zone offset")
    return parsed


def text_problem(value: str) -> str | None:
    """Why a text cannot be stored as it is, or None: a NUL (PostgreSQL's text holds none) or a lone
    surrogate (a JSON escape such as ``\\ud800`` that is half of a character: no database, page or
    e-mail can encode it)."""
    if NUL in value:
        return "must not contain a NUL character"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "must not contain a lone surrogate (half of a character)"
    return None


def _string_map(value: Any, field: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise PayloadError(field, "must be an object of strings")
    for key, item in value.items():
        # A key that cannot be encoded is named with escapes (\\udfff), or the refusal could not be sent.
        where = f"{field}.{key.encode('utf-8', 'backslashreplace').decode()}"
        if not isinstance(item, str):
            raise PayloadError(where, "must be a string")
        problem = text_problem(key) or text_problem(item)
        if problem:
            raise PayloadError(where, problem)
    return dict(value)


def _string(document: Mapping[str, Any], key: str, field: str, required: bool = True) -> str:
    value = document.get(key)
    if value is None:
        if required:
            raise PayloadError(field, "is required")
        return ""
    if not isinstance(value, str):
        raise PayloadError(field, "must be a string")
    problem = text_problem(value)
    if problem:
        raise PayloadError(field, problem)
    return value


def _alert(document: Any, index: int) -> Alert:
    where = f"alerts[{index}]"
    if not isinstance(document, dict):
        raise PayloadError(where, "must be an object")
    status = _string(document, "status", f"{where}.status")
    if status not in STATUSES:
        raise PayloadError(f"{where}.status", f"must be firing or resolved, not {status!r}")
    labels = _string_map(document.get("labels"), f"{where}.labels")
    if not labels.get("alertname"):
        raise PayloadError(f"{where}.labels.alertname", "is required")
    fingerprint = _string(document, "fingerprint", f"{where}.fingerprint")
    if not re.fullmatch(r"[0-9a-fA-F]{1,64}", fingerprint):
        raise PayloadError(f"{where}.fingerprint", "must be a hexadecimal fingerprint")
    starts_at = parse_timestamp(document.get("startsAt"), f"{where}.startsAt")
    ends_raw = document.get("endsAt")
    ends_at = None
    if ends_raw not in (None, "") and _rfc3339(ends_raw, f"{where}.endsAt") != GO_ZERO_TIME:
        ends_at = parse_timestamp(ends_raw, f"{where}.endsAt")
    if status == "resolved" and ends_at is None:
        raise PayloadError(f"{where}.endsAt", "is required for a resolved alert")
    return Alert(
        status=status,
        labels=labels,
        annotations=_string_map(document.get("annotations"), f"{where}.annotations"),
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=_string(document, "generatorURL", f"{where}.generatorURL", required=False),
        fingerprint=fingerprint.lower(),
    )


def parse_notification(document: Any) -> Notification:
    if not isinstance(document, dict):
        raise PayloadError("(body)", "must be a JSON object")
    version = document.get("version")
    if version != "4":
        raise PayloadError("version", f'must be "4", not {version!r}')
    status = _string(document, "status", "status")
    if status not in STATUSES:
        raise PayloadError("status", f"must be firing or resolved, not {status!r}")
    truncated = document.get("truncatedAlerts", 0)
    if isinstance(truncated, float) and truncated.is_integer():  # JSON's 3.0 is the integer 3
        truncated = int(truncated)
    if not isinstance(truncated, int) or isinstance(truncated, bool) or truncated < 0:
        raise PayloadError("truncatedAlerts", "must be a non-negative integer")
    alerts_raw = document.get("alerts")
    if not isinstance(alerts_raw, list):
        raise PayloadError("alerts", "is required: a list of alerts")
    return Notification(
        receiver=_string(document, "receiver", "receiver"),
        status=status,
        group_key=_string(document, "groupKey", "groupKey"),
        truncated_alerts=truncated,
        group_labels=_string_map(document.get("groupLabels"), "groupLabels"),
        common_labels=_string_map(document.get("commonLabels"), "commonLabels"),
        common_annotations=_string_map(document.get("commonAnnotations"), "commonAnnotations"),
        external_url=_string(document, "externalURL", "externalURL", required=False),
        alerts=tuple(_alert(a, i) for i, a in enumerate(alerts_raw)),
    )
