"""Configuration of the case tracker, from the environment (``BATIKNET_*``) or a test mapping.

Flask's ``app.config`` keys carry the same names as the environment variables, so a test passes
``{"BATIKNET_DATABASE_URL": ...}`` to ``create_app`` exactly as an operator exports it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any
from zoneinfo import ZoneInfo

from .clock import WorkingCalendar, indonesian_holidays, parse_windows

# Name → default. None means "not set".
DEFAULTS: dict[str, Any] = {
    "BATIKNET_INSTANCE_PATH": None,  # default: Flask's instance folder beside the package
    "BATIKNET_DATABASE_URL": None,  # default: SQLite file in the instance folder
    "BATIKNET_API_TOKEN": None,
    "BATIKNET_INVENTORY": None,
    "BATIKNET_PROMETHEUS_URL": None,
    "BATIKNET_GRAFANA_URL": None,
    "BATIKNET_PUBLIC_URL": "http://127.0.0.1:8088",
    "BATIKNET_SECRET_KEY": None,  # default: a random key kept in the instance folder
    "BATIKNET_SMTP_HOST": None,  # unset: no e-mail is sent
    "BATIKNET_SMTP_PORT": 25,
    "BATIKNET_SMTP_FROM": "batiknet-cases@localhost",
    "BATIKNET_SMTP_USER": None,
    "BATIKNET_SMTP_PASSWORD_FILE": None,
    "BATIKNET_SMTP_STARTTLS": False,
    "BATIKNET_TIMEZONE": "Asia/Jakarta",
    "BATIKNET_WORKING_HOURS": None,  # JSON: {"fri": ["08:00-11:00"], ...}; days not named keep the SOP's
    "BATIKNET_HOLIDAY_CATEGORIES": "public,government",
    "BATIKNET_HOLIDAYS_ADD": "",  # comma-separated ISO dates: extra closing days
    "BATIKNET_HOLIDAYS_REMOVE": "",  # comma-separated ISO dates: open although the holiday list says closed
    "BATIKNET_REOPEN_WINDOW_HOURS": 7.25,  # working hours; one full Monday–Thursday working day
    "BATIKNET_MAX_NOTIFICATION_BYTES": 1 << 20,
    "BATIKNET_MAX_LETTER_BYTES": 10 << 20,
    "BATIKNET_HEARTBEAT_STALE_SECONDS": 600,
    "BATIKNET_SECURE_COOKIES": False,  # set when the pages are served over HTTPS: cookies then need TLS
    # Reverse proxies in front of the server whose X-Forwarded-For is trusted for the client's address
    # (the sign-in limit per address). 0: the address is the TCP peer's.
    "BATIKNET_TRUSTED_PROXIES": 0,
    # The letterhead of printed reports (agency details are public; people's names only from here).
    "BATIKNET_LETTERHEAD_GOVERNMENT": "Pemerintah Kota Pekalongan",
    "BATIKNET_LETTERHEAD_AGENCY": "Dinas Komunikasi dan Informatika",
    "BATIKNET_LETTERHEAD_ADDRESS": "",
    "BATIKNET_LETTERHEAD_PHONE": "",
    "BATIKNET_LETTERHEAD_EMAIL": "",
    "BATIKNET_LETTERHEAD_WEBSITE": "",
    "BATIKNET_LETTERHEAD_CITY": "Pekalongan",
    "BATIKNET_HEAD_NAME": "",  # Kepala Bidang Infrastruktur dan Statistik, signs the reports
    "BATIKNET_HEAD_ID": "",  # the head's staff number (NIP), printed under the signature when set
}
BOOLEAN_TRUE = ("1", "true", "yes", "on")


def from_environment(environ: Mapping[str, str] | None = None) -> dict[str, Any]:
    environ = os.environ if environ is None else environ
    values = dict(DEFAULTS)
    for name, default in DEFAULTS.items():
        if name not in environ:
            continue
        raw = environ[name]
        if isinstance(default, bool):
            values[name] = raw.strip().lower() in BOOLEAN_TRUE
        elif isinstance(default, int):
            values[name] = int(raw)
        elif isinstance(default, float):
            values[name] = float(raw)
        else:
            values[name] = raw
    return values


def _dates(text: str | list[Any], name: str) -> frozenset[date]:
    items = text if isinstance(text, list) else [t for t in str(text).split(",") if t.strip()]
    result = set()
    for item in items:
        try:
            result.add(item if isinstance(item, date) else date.fromisoformat(str(item).strip()))
        except ValueError:
            raise ValueError(f"{name}: {item!r} is not a date (YYYY-MM-DD)") from None
    return frozenset(result)


def working_calendar(config: Mapping[str, Any]) -> WorkingCalendar:
    hours = config.get("BATIKNET_WORKING_HOURS")
    if isinstance(hours, str):
        try:
            hours = json.loads(hours)
        except json.JSONDecodeError as error:
            raise ValueError(f"BATIKNET_WORKING_HOURS: not JSON: {error}") from None
    categories = [
        c.strip() for c in str(config.get("BATIKNET_HOLIDAY_CATEGORIES") or "").split(",") if c.strip()
    ]
    return WorkingCalendar(
        timezone=ZoneInfo(config.get("BATIKNET_TIMEZONE") or "Asia/Jakarta"),
        windows=parse_windows(hours or {}),
        is_holiday=indonesian_holidays(categories) if categories else (lambda _day: False),
        extra_closed=_dates(config.get("BATIKNET_HOLIDAYS_ADD") or "", "BATIKNET_HOLIDAYS_ADD"),
        extra_open=_dates(config.get("BATIKNET_HOLIDAYS_REMOVE") or "", "BATIKNET_HOLIDAYS_REMOVE"),
    )


@dataclass(frozen=True)
class SMTPSettings:
    host: str
    port: int
    sender: str
    user: str | None
    password_file: str | None
    starttls: bool


def smtp_settings(config: Mapping[str, Any]) -> SMTPSettings | None:
    if not config.get("BATIKNET_SMTP_HOST"):
        return None
    return SMTPSettings(
        host=config["BATIKNET_SMTP_HOST"],
        port=int(config.get("BATIKNET_SMTP_PORT") or 25),
        sender=config.get("BATIKNET_SMTP_FROM") or DEFAULTS["BATIKNET_SMTP_FROM"],
        user=config.get("BATIKNET_SMTP_USER"),
        password_file=config.get("BATIKNET_SMTP_PASSWORD_FILE"),
        starttls=bool(config.get("BATIKNET_SMTP_STARTTLS")),
    )
