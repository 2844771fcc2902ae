"""The settings: every BATIKNET_* variable parsed once, and a wrong value stops the tracker naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import date, time
from pathlib import Path
from typing import Any

import pytest

from alert_webhook import create_app
from alert_webhook.settings import Settings, SettingsError, load_settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("BATIKNET_"):
            monkeypatch.delenv(name)


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("BATIKNET_SECURE_COOKIES", "ture", "valid boolean"),
        ("BATIKNET_SMTP_STARTTLS", "maybe", "valid boolean"),
        ("BATIKNET_SMTP_PORT", "70000", "less than or equal to 65535"),
        ("BATIKNET_TRUSTED_PROXIES", "-1", "greater than or equal to 0"),
        ("BATIKNET_MAX_LETTER_BYTES", "ten", "valid integer"),
        ("BATIKNET_REOPEN_WINDOW_HOURS", "-2", "greater than or equal to 0"),
        ("BATIKNET_HEARTBEAT_STALE_SECONDS", "0", "greater than 0"),
        ("BATIKNET_TIMEZONE", "Asia/Jakrta", "not a time zone"),
        ("BATIKNET_HOLIDAY_CATEGORIES", "public,religious", "'public' or 'government'"),
        ("BATIKNET_HOLIDAYS_ADD", "2026-02-30", "valid date"),
        ("BATIKNET_WORKING_HOURS", '{"fri": ["11:00-08:00"]}', "ends before it starts"),
        ("BATIKNET_WORKING_HOURS", "fri=08:00-11:00", "not JSON"),
        ("BATIKNET_PROMETHEUS_URL", "prometheus:9090", "should match pattern"),
        ("BATIKNET_DATABASE_URL", "cases.db", "not a database URL"),
    ],
)
def test_a_wrong_value_stops_start_up_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError) as refused:
        create_app({"TESTING": True})
    assert str(refused.value).startswith(f"{name}=") and says in str(refused.value)


def test_an_unknown_setting_in_a_test_mapping_is_refused() -> None:
    with pytest.raises(SettingsError, match="BATIKNET_SECURE_COOKIE: not a setting"):
        load_settings({"BATIKNET_SECURE_COOKIE": True})


def test_secrets_are_never_repeated_in_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(SettingsError) as refused:
        load_settings({"BATIKNET_API_TOKEN": 12345678})
    assert "12345678" not in str(refused.value) and "BATIKNET_API_TOKEN" in str(refused.value)


def test_values_are_parsed_once_into_types(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "BATIKNET_SECURE_COOKIES": "yes",
        "BATIKNET_SMTP_PORT": "587",
        "BATIKNET_HOLIDAYS_ADD": "2026-12-01, 2026-12-02",
        "BATIKNET_WORKING_HOURS": '{"fri": ["08:00-11:30"]}',
        "BATIKNET_SMTP_HOST": "",  # Compose's ${X:-}: unset
        "BATIKNET_HOLIDAY_CATEGORIES": "",  # empty here means no holiday list
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.secure_cookies is True and settings.smtp_port == 587 and settings.smtp_host is None
    assert settings.holidays_add == {date(2026, 12, 1), date(2026, 12, 2)}
    assert settings.working_hours[4] == ((time(8), time(11, 30)),)
    assert settings.working_hours[0] == ((time(8), time(12)), (time(12, 30), time(15, 45)))  # unchanged
    assert settings.holiday_categories == ()
    with pytest.raises(Exception, match="frozen"):
        settings.secure_cookies = False  # type: ignore[misc]


def test_a_mapping_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BATIKNET_TRUSTED_PROXIES", "2")
    assert load_settings({"BATIKNET_TRUSTED_PROXIES": 1}).trusted_proxies == 1
    assert load_settings().trusted_proxies == 2


def test_the_defaults_are_the_documented_ones() -> None:
    settings = Settings()
    assert settings.secure_cookies is False and settings.reopen_window_hours == 7.25
    assert settings.max_notification_bytes == 1 << 20 and settings.max_letter_bytes == 10 << 20
    assert settings.holiday_categories == ("public", "government")
    assert str(settings.timezone) == "Asia/Jakarta"


def test_the_command_line_stops_with_the_variable_named(tmp_path: Path) -> None:
    env: dict[str, Any] = {
        **{k: v for k, v in os.environ.items() if not k.startswith("BATIKNET_")},
        "BATIKNET_INSTANCE_PATH": str(tmp_path / "instance"),
        "BATIKNET_SECURE_COOKIES": "ture",
    }
    for command in (["serve", "--listen", "127.0.0.1:0"], ["db", "upgrade"], ["users", "list"]):
        done = subprocess.run(
            [sys.executable, "-m", "alert_webhook.cli", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode != 0
        assert "BATIKNET_SECURE_COOKIES='ture'" in done.stderr and "Traceback" not in done.stderr
