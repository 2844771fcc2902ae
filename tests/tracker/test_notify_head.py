"""The head is told when a new case waits for disposition, from an alert or a letter, by e-mail and in the
team's Telegram chat, and reminded once when it still waits one working hour later (issue 9 item 4). Read
back from a real SMTP server and the lab's fake Telegram Bot API, both on loopback."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alert_webhook import create_app
from alert_webhook.extension import tracker_of
from alert_webhook.services import accounts, outbox
from tests.tracker.conftest import metric_value, scrape
from tests.tracker.messaging import FakeTelegram, MailSink, dispatch, text_of, timeline
from tests.tracker.test_alerts_api import cases, deliver, payload

CHAT = "-1001000000000"
TOKEN = "123456789:AAF-rahasia_bot-token"
KABID, WAKIL = "kabid@kominfo.example", "wakil@kominfo.example"
# Monday 30 November 2026, 15.30 WIB: a quarter of an hour of service left that day.
MONDAY_1530_WIB = datetime(2026, 11, 30, 8, 30, tzinfo=UTC)
TUESDAY_0845_WIB = datetime(2026, 12, 1, 1, 45, tzinfo=UTC)


@pytest.fixture
def app_config(app_config: dict[str, Any], mail: MailSink, telegram: FakeTelegram, tmp_path: Path) -> dict:
    token = tmp_path / "telegram_bot_token"
    token.write_text(TOKEN + "\n")
    return {
        **app_config,
        "BATIKNET_SMTP_HOST": "127.0.0.1",
        "BATIKNET_SMTP_PORT": mail.port,
        "BATIKNET_PUBLIC_URL": "http://cases.example",
        "BATIKNET_TELEGRAM_CHAT_IDS": CHAT,
        "BATIKNET_TELEGRAM_BOT_TOKEN_FILE": str(token),
        "BATIKNET_TELEGRAM_API_URL": telegram.url,
    }


@pytest.fixture
def heads(make_user: Any) -> list[Any]:
    return [
        make_user("head", username="kabid", email=KABID),
        make_user("head", username="wakil", email=WAKIL),
    ]


def letter(client: Any, head: Any, **extra: Any) -> dict[str, Any]:
    answer = client.post(
        "/api/v1/cases",
        json={
            "opd": "dinkes",
            "letter_number": "005/123/Dinkes/XI/2026",
            "letter_date": "2026-11-30",
            "reporter": "Sri Wahyuni",
            "description": "Internet di kantor Dinas Kesehatan mati sejak pagi.",
            **extra,
        },
        headers=head.headers,
    )
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def test_a_new_alert_case_tells_every_head_by_e_mail_and_the_chat(
    client: Any, tracker: Any, heads: list[Any], make_user: Any, mail: MailSink, telegram: FakeTelegram
) -> None:
    make_user("head", username="pensiun", email="pensiun@kominfo.example")
    accounts.set_active(tracker, "pensiun", False)  # a former head is no longer told
    deliver(client, "firing")
    case_id = cases(client)[0]["id"]
    dispatch(tracker)
    assert sorted(r for recipients, _ in mail.messages for r in recipients) == [KABID, WAKIL]
    [to_kabid] = mail.to(KABID)
    assert to_kabid["Subject"] == (
        f"[Batik.Net] Kasus #{case_id} menunggu disposisi: OPD Sekretariat Daerah tidak terjangkau"
    )
    body = text_of(to_kabid)
    assert body.startswith("Yth. Kabid,\n")
    assert f"Kasus gangguan #{case_id} (Sekretariat Daerah) telah diterima dan menunggu disposisi" in body
    assert "Sumber: alarm sistem pemantauan" in body
    assert "Diterima: 30 November 2026 pukul 10.00 WIB" in body
    assert f"Buka kasus: http://cases.example/cases/{case_id}" in body
    [chat] = telegram.messages
    assert telegram.paths == [f"/bot{TOKEN}/sendMessage"]
    assert chat["chat_id"] == CHAT
    assert chat["text"].startswith(f"Kasus gangguan #{case_id} (Sekretariat Daerah) telah diterima")
    assert "Diterima: 30 November 2026 pukul 10.00 WIB" in chat["text"] and "Yth." not in chat["text"]
    # On the timeline, after the opening: the head's message queued and sent, the reminder scheduled.
    events = timeline(client, case_id)
    assert events[0]["kind"] == "opened"
    queued = [e for e in events if e["kind"] == "notice_queued"]
    assert [e["data"]["notice"] for e in queued] == ["case_waiting", "disposition_reminder"]
    assert {(r["channel"], r["to"]) for r in queued[0]["data"]["recipients"]} == {
        ("email", KABID),
        ("email", WAKIL),
        ("telegram", CHAT),
    }
    assert queued[1]["data"]["due_at"] == "2026-11-30T04:00:00+00:00"  # 11.00 WIB
    sent = [(e["data"]["channel"], e["data"]["to"]) for e in events if e["kind"] == "notice_sent"]
    assert sorted(sent) == [("email", KABID), ("email", WAKIL), ("telegram", CHAT)]
    assert all(e["actor"] == "system" for e in events if e["kind"].startswith("notice_"))
    assert metric_value(scrape(client), "batiknet_outbox_sent_total", channel="telegram") == 1


def test_a_letter_that_opens_a_case_tells_the_head_with_its_number(
    client: Any, tracker: Any, heads: list[Any], mail: MailSink
) -> None:
    case = letter(client, heads[0])
    dispatch(tracker)
    [to_kabid] = mail.to(KABID)
    assert f"Kasus #{case['id']} menunggu disposisi" in to_kabid["Subject"]
    assert "Sumber: surat OPD nomor 005/123/Dinkes/XI/2026" in text_of(to_kabid)
    kinds = [e["kind"] for e in timeline(client, case["id"])]
    assert kinds.index("letter_added") < kinds.index("notice_queued")  # the letter, then who was told
    # A second letter joins the open case: nobody is told again.
    letter(client, heads[0], letter_number="005/124/Dinkes/XI/2026")
    dispatch(tracker)
    assert len(mail.to(KABID)) == 1


def test_the_head_is_reminded_one_working_hour_later_once(
    client: Any, tracker: Any, clock: Any, heads: list[Any], mail: MailSink, telegram: FakeTelegram
) -> None:
    """A case told of at 15.30 on a Monday: the reminder goes at 08.45 on Tuesday, not a minute before."""
    clock.set(MONDAY_1530_WIB)
    case = letter(client, heads[0])
    dispatch(tracker)
    assert len(mail.to(KABID)) == 1
    clock.set(TUESDAY_0845_WIB - timedelta(minutes=1))
    assert dispatch(tracker) == []
    clock.set(TUESDAY_0845_WIB)
    dispatch(tracker)
    reminder = mail.to(KABID)[-1]
    assert reminder["Subject"].startswith(f"[Batik.Net] Pengingat: kasus #{case['id']} belum didisposisikan")
    assert "satu jam kerja setelah diberitahukan pada 30 November 2026 pukul 15.30 WIB" in text_of(reminder)
    assert len(telegram.messages) == 2 and "belum didisposisikan" in telegram.messages[-1]["text"]
    clock.advance(days=3)
    assert dispatch(tracker) == []  # one reminder, not more
    assert len(mail.to(KABID)) == 2


def test_a_disposition_before_the_hour_cancels_the_reminder(
    client: Any, tracker: Any, clock: Any, heads: list[Any], make_user: Any, mail: MailSink
) -> None:
    budi = make_user("technician", username="budi", email="budi@kominfo.example")
    case = letter(client, heads[0])
    dispatch(tracker)
    clock.advance(minutes=30)
    client.post(
        f"/api/v1/cases/{case['id']}/dispose", json={"technician_ids": [budi.id]}, headers=heads[0].headers
    )
    dispatch(tracker)
    clock.advance(hours=2)
    assert dispatch(tracker) == []
    assert len(mail.to(KABID)) == 1 and len(mail.to("budi@kominfo.example")) == 1


def test_a_chat_that_refuses_is_retried_and_a_bot_removed_from_it_is_given_up(
    client: Any, tracker: Any, clock: Any, heads: list[Any], telegram: FakeTelegram
) -> None:
    telegram.refuse(502)
    case = letter(client, heads[0])
    dispatch(tracker)
    [failed] = [e for e in timeline(client, case["id"]) if e["kind"] == "notice_failed"]
    assert failed["data"]["channel"] == "telegram" and failed["data"]["error"] == "Telegram: 502 Bad Gateway"
    clock.advance(minutes=1)
    dispatch(tracker)
    assert len(telegram.messages) == 1
    # The bot was removed from the group: no retry can help.
    telegram.refuse(403)
    clock.advance(hours=1)
    dispatch(tracker)
    given_up = timeline(client, case["id"])[-1]
    assert given_up["kind"] == "notice_given_up" and given_up["data"]["attempts"] == 1
    assert given_up["data"]["error"] == "Telegram: 403 Forbidden: bot was kicked from the group chat"
    text = scrape(client)
    assert metric_value(text, "batiknet_outbox_given_up_total", channel="telegram") == 1
    assert metric_value(text, "batiknet_outbox_failures_total", channel="telegram") == 2


def test_the_bot_token_never_reaches_the_timeline_or_the_log(
    client: Any, tracker: Any, heads: list[Any], telegram: FakeTelegram, caplog: Any
) -> None:
    telegram.stop()  # nobody listens: the connection error names the URL, and so the token
    case = letter(client, heads[0])
    dispatch(tracker)
    failed = [e for e in timeline(client, case["id"]) if e["kind"] == "notice_failed"]
    assert failed and all("<token>" in e["data"]["error"] for e in failed)
    everything = str(timeline(client, case["id"])) + caplog.text
    assert TOKEN not in everything and TOKEN.split(":")[1] not in everything


def test_without_channels_nothing_is_queued(app_config: dict[str, Any]) -> None:
    quiet = {
        **app_config,
        "BATIKNET_SMTP_HOST": None,
        "BATIKNET_TELEGRAM_CHAT_IDS": "",
    }
    app = create_app(quiet)
    client = app.test_client()
    deliver(client, payload("firing"))
    assert outbox.dispatch_due(tracker_of(app)) == []
    kinds = [e["kind"] for e in timeline(client, cases(client)[0]["id"])]
    assert not [k for k in kinds if k.startswith("notice_")]
    tracker_of(app).db.dispose()
