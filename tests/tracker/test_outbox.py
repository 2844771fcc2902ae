"""The outbox's rules as pure functions (core/outbox.py): one attempt and what follows it, the back-off,
the reminder's working hour; the e-mail an outbox row becomes (notify.py); the old timelines' e-mail lines
carried over by migration 0007."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from alert_webhook.core.clock import HolidayList, WorkingCalendar
from alert_webhook.core.outbox import (
    Channel,
    DeliveryError,
    GiveUp,
    Message,
    Notice,
    Retry,
    RetryPolicy,
    Sent,
    deliver,
    one_line,
    reminder_due,
)
from alert_webhook.i18n import LANGUAGES, has_message
from alert_webhook.notify import email_message
from alert_webhook.store.migrate import upgrade

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
POLICY = RetryPolicy(first_delay=timedelta(minutes=1), max_attempts=4, longest_delay=timedelta(minutes=5))
CALENDAR = WorkingCalendar(holidays=HolidayList(lambda _years: ()))  # no holidays


def message(attempt: int = 1, channel: Channel = Channel.EMAIL, subject: str = "Kasus #7") -> Message:
    return Message(7, channel, "budi@kominfo.example", "Budi Santoso", subject, "Isi pesan", attempt)


def sender(*errors: Exception | None) -> Any:
    """A sender that raises the given errors in turn (None: delivers), recording what it was given."""
    given: list[Message] = []
    queue = list(errors)

    def send(m: Message) -> None:
        given.append(m)
        error = queue.pop(0) if queue else None
        if error is not None:
            raise error

    send.given = given  # type: ignore[attr-defined]
    return send


def test_a_delivered_message_is_sent() -> None:
    send = sender(None)
    assert deliver(message(), {Channel.EMAIL: send}, POLICY, lambda: NOW) == Sent()
    assert send.given == [message()]


@pytest.mark.parametrize(
    ("attempt", "wait"),
    [(1, timedelta(minutes=1)), (2, timedelta(minutes=2)), (3, timedelta(minutes=4))],
)
def test_a_failed_attempt_is_retried_after_a_doubling_wait(attempt: int, wait: timedelta) -> None:
    send = sender(DeliveryError("451 try again later"))
    outcome = deliver(message(attempt), {Channel.EMAIL: send}, POLICY, lambda: NOW)
    assert outcome == Retry(NOW + wait, "451 try again later")


def test_the_wait_never_exceeds_the_longest() -> None:
    assert [POLICY.delay(n).total_seconds() / 60 for n in (3, 4, 10)] == [4, 5, 5]
    defaults = RetryPolicy()
    waits = [defaults.delay(n) for n in range(1, defaults.max_attempts)]
    assert waits[-1] == timedelta(hours=1)
    assert timedelta(hours=1, minutes=59) <= sum(waits, timedelta()) <= timedelta(hours=2, minutes=4)


def test_the_last_attempt_gives_up() -> None:
    send = sender(DeliveryError("451 try again later"))
    assert deliver(message(4), {Channel.EMAIL: send}, POLICY, lambda: NOW) == GiveUp("451 try again later")


def test_a_final_refusal_gives_up_at_once() -> None:
    send = sender(DeliveryError("recipient refused: 550 no such user", permanent=True))
    outcome = deliver(message(1), {Channel.EMAIL: send}, POLICY, lambda: NOW)
    assert outcome == GiveUp("recipient refused: 550 no such user")


def test_any_error_of_a_sender_is_a_failed_attempt_never_an_exception() -> None:
    send = sender(ValueError("Header values may not contain linefeed\r\nor carriage return characters"))
    outcome = deliver(message(), {Channel.EMAIL: send}, POLICY, lambda: NOW)
    assert outcome == Retry(
        NOW + timedelta(minutes=1),
        "ValueError: Header values may not contain linefeed or carriage return characters",
    )


def test_a_long_reason_is_cut_and_a_channel_no_longer_configured_gives_up() -> None:
    send = sender(DeliveryError("x" * 2000))
    outcome = deliver(message(), {Channel.EMAIL: send}, POLICY, lambda: NOW)
    assert isinstance(outcome, Retry) and len(outcome.error) == 500 and outcome.error.endswith("…")
    outcome = deliver(message(channel=Channel.TELEGRAM), {Channel.EMAIL: send}, POLICY, lambda: NOW)
    assert outcome == GiveUp("no telegram sender is configured any more")


def test_one_line_leaves_nothing_that_ends_a_header() -> None:
    assert one_line(" a\r\nBcc: x@example.org\n\tb\x00c\u2028d  ") == "a Bcc: x@example.org b c d"


# --- the reminder's working hour -----------------------------------------------------------------------


def wib(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 11, day, hour, minute, tzinfo=WIB)


@pytest.mark.parametrize(
    ("told", "reminded"),
    [
        (wib(30, 10), wib(30, 11)),  # Monday morning: an hour later
        (wib(30, 11, 30), wib(30, 13)),  # half an hour before the break, half an hour after it
        (wib(30, 15, 30), datetime(2026, 12, 1, 8, 45, tzinfo=WIB)),  # Monday 15.30: Tuesday 08.45
        (wib(30, 18), datetime(2026, 12, 1, 9, 0, tzinfo=WIB)),  # after hours: the next day's first hour
        (datetime(2026, 12, 4, 10, 30, tzinfo=WIB), datetime(2026, 12, 7, 8, 30, tzinfo=WIB)),  # Friday
    ],
)
def test_the_head_is_reminded_one_working_hour_later(told: datetime, reminded: datetime) -> None:
    assert reminder_due(CALENDAR, told) == reminded


# --- the e-mail of a message ---------------------------------------------------------------------------


def test_the_e_mail_of_a_message_has_one_line_headers_and_the_rows_message_id() -> None:
    hostile = message(subject="Surat 005/12\r\nBcc: penyusup@example.org")
    email = email_message("NOC Batik.Net <noc@kominfo.example>", hostile)
    text = bytes(email).decode()
    headers = text.split("\r\n\r\n", 1)[0]
    assert "\r\nBcc:" not in headers and "\nBcc:" not in headers.replace("\r\n", "")
    assert email["Subject"] == "Surat 005/12 Bcc: penyusup@example.org"
    assert email["To"] == "Budi Santoso <budi@kominfo.example>"
    assert email["Message-ID"] == "<batiknet-outbox-7@kominfo.example>"
    assert email_message("NOC Batik.Net <noc@kominfo.example>", message(attempt=3))["Message-ID"] == (
        "<batiknet-outbox-7@kominfo.example>"
    )


def test_an_address_no_header_can_carry_is_refused_by_the_builder() -> None:
    broken = Message(7, Channel.EMAIL, "budi@kominfo.example>, x@y", "Budi", "Kasus", "Isi", 1)
    with pytest.raises(Exception):  # noqa: B017 (the email package's own parse error)
        email_message("noc@kominfo.example", broken)


def test_every_notice_and_channel_has_its_words_in_both_languages() -> None:
    keys = [f"notice.kind.{notice}" for notice in Notice] + [f"notice.channel.{c}" for c in Channel]
    keys += [f"notice.{notice}.subject" for notice in Notice]
    for language in LANGUAGES:
        assert [key for key in keys if not has_message(key, language)] == []


# --- migration 0007 ------------------------------------------------------------------------------------


def test_the_old_e_mail_lines_of_a_timeline_become_the_outbox_s(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0006")
    engine = sa.create_engine(url)
    moment = "2026-11-30 03:00:00"
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                "INSERT INTO cases (id, source, target, title, state, received_at, target_deadline, "
                "maximum_deadline, flap_count, incomplete, check_round) VALUES (1, 'alert', 'setda', 't', "
                f"'dispositioned', '{moment}', '{moment}', '{moment}', 0, 0, 1)"
            )
        )
        for kind, data in (
            ("email_sent", '{"to": ["budi@kominfo.example", "sari@kominfo.example"]}'),
            ("email_failed", '{"error": "[Errno 111] Connection refused"}'),
        ):
            connection.execute(
                sa.text(
                    "INSERT INTO case_events (case_id, at, actor_name, kind, note, data) "
                    f"VALUES (1, '{moment}', 'alertmanager', '{kind}', '', :data)"
                ),
                {"data": data},
            )
    upgrade(url)
    with engine.connect() as connection:
        rows = connection.execute(sa.text("SELECT kind, actor_name, data FROM case_events ORDER BY id")).all()
    engine.dispose()
    assert [(kind, actor) for kind, actor, _ in rows] == [
        ("notice_sent", "system"),
        ("notice_given_up", "system"),
    ]
    assert json.loads(rows[0][2]) == {
        "notice": "assignment",
        "channel": "email",
        "to": "budi@kominfo.example, sari@kominfo.example",
        "attempt": 1,
    }
    assert json.loads(rows[1][2])["error"] == "[Errno 111] Connection refused"
