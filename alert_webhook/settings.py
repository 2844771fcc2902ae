"""The tracker's settings: the ``BATIKNET_*`` environment variables, parsed once into a frozen object.

Every variable is read and checked when the tracker starts (``create_app``, and so every ``batiknet-cases``
command): a boolean that is not one (``BATIKNET_SECURE_COOKIES=ture``), a number out of its range, a time
zone or holiday category that does not exist, a date or working-hours window that does not parse, stops
it with a :class:`SettingsError` naming the variable, instead of running with a silent default. An empty
variable counts as unset (Compose writes ``${X:-}`` as an empty string), except
``BATIKNET_HOLIDAY_CATEGORIES``, where empty means no holiday list at all.

Tests pass the same names in a mapping (``{"BATIKNET_DATABASE_URL": ...}``), which wins over the
environment; see :func:`load_settings`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import date, time
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BeforeValidator,
    Field,
    FilePath,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from .core.clock import DEFAULT_WINDOWS, WorkingCalendar, indonesian_holidays, parse_windows
from .core.documents import check_number_format, nip_digits
from .core.letters import scan_type

__all__ = ["PREFIX", "Settings", "SettingsError", "load_settings", "working_calendar"]

PREFIX = "BATIKNET_"
LOGO_TYPES = ("image/png", "image/jpeg")
LOGO_MAX_BYTES = 1 << 20  # embedded in every printed page and PDF
SECRETS = frozenset({"api_token", "metrics_token", "secret_key"})  # never repeated in an error message


class SettingsError(ValueError):
    """A variable's value is wrong; the message names the variable."""


def _comma_list(value: Any) -> Any:
    return [item.strip() for item in value.split(",") if item.strip()] if isinstance(value, str) else value


def _windows(value: Any) -> Any:
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"not JSON: {error}") from None
    if isinstance(value, Mapping) and all(isinstance(key, str) for key in value):
        return parse_windows(value)  # {"fri": ["08:00-11:00"]}: days not named keep the SOP's windows
    return value


def _zone(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not a time zone (e.g. Asia/Jakarta)") from None
    return value


def _logo(path: Path | None) -> Path | None:
    """A logo the documents can embed: a readable PNG or JPEG file of at most 1 MiB."""
    if path is None:
        return None
    try:
        with path.open("rb") as file:
            data = file.read(LOGO_MAX_BYTES + 1)
    except OSError as error:
        raise ValueError(f"cannot read the logo: {error.strerror}") from None
    if scan_type(data) not in LOGO_TYPES:
        raise ValueError("the logo must be a PNG or JPEG image")
    if len(data) > LOGO_MAX_BYTES:
        raise ValueError("the logo is larger than 1 MiB")
    return path


def _nip(value: str) -> str:
    return nip_digits(value) if value else ""


Dates = Annotated[frozenset[date], NoDecode, BeforeValidator(_comma_list)]
HttpURL = Annotated[str, Field(pattern=r"^https?://[^\s/]+")]
# A chat id (a group's is negative) or a public channel's @name.
TelegramChat = Annotated[str, Field(pattern=r"^(-?[0-9]{1,20}|@[A-Za-z][A-Za-z0-9_]{4,31})$")]
Windows = Annotated[dict[int, tuple[tuple[time, time], ...]], NoDecode, BeforeValidator(_windows)]


class Settings(BaseSettings):
    """One field per variable: ``database_url`` is ``BATIKNET_DATABASE_URL``."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, frozen=True, extra="forbid", arbitrary_types_allowed=True
    )

    # The state folder (default database, session key, spool); default: Flask's instance folder.
    instance_path: Path | None = None
    database_url: str | None = None  # default: SQLite file in the instance folder
    api_token: str | None = Field(None, repr=False)  # shared by Alertmanager and automation
    metrics_token: str | None = Field(None, repr=False)  # Prometheus' bearer token for /metrics; unset: none
    inventory: Path | None = None
    prometheus_url: HttpURL | None = None
    grafana_url: HttpURL | None = None
    public_url: HttpURL = "http://127.0.0.1:8088"  # links in e-mails
    secret_key: str | None = Field(None, repr=False)  # default: a random key kept in the instance folder
    smtp_host: str | None = None  # unset: no e-mail is sent
    smtp_port: int = Field(25, ge=1, le=65535)
    smtp_from: str = "batiknet-cases@localhost"
    smtp_user: str | None = None
    smtp_password_file: Path | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False  # implicit TLS (SMTPS, port 465) instead of STARTTLS
    smtp_ca_file: Path | None = None  # CA certificates to verify the mail server with; default: the system's
    # Only for a relay on the same machine: the password would otherwise cross the network in clear.
    smtp_allow_plaintext_auth: bool = False
    telegram_chat_ids: Annotated[tuple[TelegramChat, ...], NoDecode, BeforeValidator(_comma_list)] = ()
    telegram_bot_token_file: FilePath | None = None  # read at each message, so a new token needs no restart
    telegram_api_url: HttpURL = "https://api.telegram.org"  # the Bot API; the tests point it at a fake
    notify_retry_seconds: float = Field(60, gt=0, le=24 * 3600)  # first wait after a failed message
    notify_max_attempts: int = Field(8, ge=1, le=100)  # attempts of one message before it is given up
    timezone: Annotated[ZoneInfo, BeforeValidator(_zone)] = ZoneInfo("Asia/Jakarta")
    working_hours: Windows = Field(default_factory=lambda: dict(DEFAULT_WINDOWS))
    # `holidays` categories for Indonesia: public holidays and government collective leave (cuti bersama).
    holiday_categories: Annotated[
        tuple[Literal["public", "government"], ...], NoDecode, BeforeValidator(_comma_list)
    ] = ("public", "government")
    holidays_add: Dates = frozenset()  # closing days by local decree
    holidays_remove: Dates = frozenset()  # open although the holiday list says closed
    reopen_window_hours: float = Field(7.25, ge=0, le=24 * 7)  # working hours; one Mon–Thu working day
    # How far ahead of the server's clock a time a person enters as having happened may be (their clock).
    clock_skew_seconds: float = Field(300, ge=0, le=3600)
    max_notification_bytes: int = Field(1 << 20, ge=1, le=1 << 30)
    # On a graceful stop, how long the applier may still apply what was accepted before the stop (the
    # service manager's stop timeout must allow it: deploy/systemd, docker-compose.yml).
    spool_drain_seconds: float = Field(20.0, ge=0, le=3600)
    max_letter_bytes: int = Field(10 << 20, ge=1, le=1 << 30)
    heartbeat_stale_seconds: float = Field(600, gt=0)
    secure_cookies: bool = False  # set when the pages are served over HTTPS: cookies then need TLS
    # Reverse proxies in front whose X-Forwarded-For gives the client's address (the sign-in limit).
    trusted_proxies: int = Field(0, ge=0, le=10)
    # The letterhead of printed reports (agency details are public; people's names only from here).
    letterhead_government: str = "Pemerintah Kota Pekalongan"
    letterhead_agency: str = "Dinas Komunikasi dan Informatika"
    letterhead_address: str = ""
    letterhead_phone: str = ""
    letterhead_email: str = ""
    letterhead_website: str = ""
    letterhead_city: str = "Pekalongan"
    letterhead_logo: Annotated[Path | None, AfterValidator(_logo)] = None  # PNG or JPEG; none when unset
    head_name: str = ""  # Kepala Bidang Infrastruktur dan Statistik, signs the reports
    # The head's staff number (NIP), 18 digits with or without spaces; printed under the signature when set.
    head_id: Annotated[str, AfterValidator(_nip)] = ""
    # The letter number of a resolution report (core/documents.py): {seq} and {year} at least.
    report_number_format: Annotated[str, AfterValidator(check_number_format)] = (
        "555/{seq:03d}/Kominfo/{month_roman}/{year}"
    )

    @field_validator("*", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any, info: ValidationInfo) -> Any:
        if value == "" and info.field_name != "holiday_categories":
            return cls.model_fields[info.field_name].get_default(call_default_factory=True)
        return value

    @model_validator(mode="after")
    def _messages_can_be_sent_safely(self) -> Settings:
        if self.smtp_host and self.smtp_starttls and self.smtp_tls:
            raise ValueError("BATIKNET_SMTP_STARTTLS and BATIKNET_SMTP_TLS: choose one (TLS is port 465)")
        encrypted = self.smtp_starttls or self.smtp_tls
        if self.smtp_host and self.smtp_user and not encrypted and not self.smtp_allow_plaintext_auth:
            raise ValueError(
                "BATIKNET_SMTP_USER is set without BATIKNET_SMTP_STARTTLS or BATIKNET_SMTP_TLS: the password "
                "would cross the network in clear. Turn one of them on, or set "
                "BATIKNET_SMTP_ALLOW_PLAINTEXT_AUTH=1 for a relay on this machine"
            )
        if self.telegram_chat_ids and self.telegram_bot_token_file is None:
            raise ValueError("BATIKNET_TELEGRAM_CHAT_IDS needs BATIKNET_TELEGRAM_BOT_TOKEN_FILE")
        return self

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                make_url(value)
            except ArgumentError:
                raise ValueError("not a database URL (e.g. postgresql+psycopg://user@host/db)") from None
        return value


def load_settings(overrides: Mapping[str, Any] | None = None) -> Settings:
    """The settings from the environment, ``overrides`` (by variable name) winning; checked in full."""
    values = {}
    for name, value in (overrides or {}).items():
        field = name.removeprefix(PREFIX).lower()
        if field not in Settings.model_fields:
            raise SettingsError(f"{name}: not a setting of the case tracker")
        values[field] = value
    try:
        return Settings(**values)
    except ValidationError as error:
        raise SettingsError("; ".join(_explain(problem) for problem in error.errors())) from None


def _explain(problem: Any) -> str:
    if not problem["loc"]:  # a rule across variables: its message names them (the input is all of them)
        return problem["msg"].removeprefix("Value error, ")
    field = str(problem["loc"][0])
    value = "" if field in SECRETS else f"={problem['input']!r}"
    return f"{PREFIX}{field.upper()}{value}: {problem['msg']}"


def working_calendar(settings: Settings) -> WorkingCalendar:
    return WorkingCalendar(
        timezone=settings.timezone,
        windows=settings.working_hours,
        holidays=indonesian_holidays(settings.holiday_categories),
        extra_closed=settings.holidays_add,
        extra_open=settings.holidays_remove,
    )
