"""E-mail to the technicians a case is disposed to, through the outbox, to a real SMTP server on loopback
(aiosmtpd): read back from the server, in Indonesian, with WIB times and the head's note. A mail server
that refuses, is away or cannot even be given the message never turns the disposition into an error: the
failure is on the timeline, the message is tried again with back-off and given up after the last attempt,
visibly (timeline, metrics). The password only ever travels over TLS (issue 11 items 6 and 11, issue 9
item 3)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from sqlalchemy import func, select

from alert_webhook import create_app
from alert_webhook.settings import SettingsError
from alert_webhook.store.models import OutboxMessage
from tests.tracker.conftest import metric_value, scrape
from tests.tracker.messaging import SMTP_PASSWORD, SMTP_USER, MailSink, dispatch, free_port, text_of, timeline
from tests.tracker.serving import Server, run, tracker_env
from tests.tracker.test_alerts_api import cases, deliver, payload

BUDI, SARI = "budi@kominfo.example", "sari@kominfo.example"


@pytest.fixture
def app_config(app_config: dict[str, Any], mail: MailSink) -> dict[str, Any]:
    return {
        **app_config,
        "BATIKNET_SMTP_HOST": "127.0.0.1",
        "BATIKNET_SMTP_PORT": mail.port,
        "BATIKNET_SMTP_FROM": "noc@kominfo.example",
        "BATIKNET_PUBLIC_URL": "http://cases.example",
        "BATIKNET_NOTIFY_MAX_ATTEMPTS": 3,
    }


def messages_of(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(kind, notice) of the timeline's lines about messages, in order."""
    return [(e["kind"], e["data"]["notice"]) for e in events if e["kind"].startswith("notice_")]


def open_case(client: Any, summary: str | None = None) -> int:
    document = payload("firing")
    if summary is not None:
        document["alerts"][0]["annotations"]["summary"] = summary
        document["commonAnnotations"]["summary"] = summary
    deliver(client, document)
    return cases(client)[0]["id"]


def test_the_disposition_reaches_each_technician_with_the_note_and_wib_times(
    client: Any, tracker: Any, make_user: Any, mail: MailSink
) -> None:
    head = make_user("head")  # no e-mail address: only the technicians are written to
    make_user("technician", username="budi", email=BUDI)
    make_user("technician", username="sari", email=SARI)
    case_id = open_case(client)
    answer = client.post(
        f"/api/v1/cases/{case_id}/dispose",
        json={"technicians": ["budi", "sari"], "note": "Cek switch distribusi dulu, lalu hubungi Telkom."},
        headers=head.headers,
    )
    assert answer.status_code == 200
    assert mail.messages == []  # nothing is sent while the request runs: the dispatcher sends it
    dispatch(tracker)
    [to_budi], [to_sari] = mail.to(BUDI), mail.to(SARI)
    assert to_budi["To"] == f"Budi <{BUDI}>" and to_sari["To"] == f"Sari <{SARI}>"
    assert to_budi["From"] == "noc@kominfo.example"
    assert (
        to_budi["Subject"]
        == f"[Batik.Net] Disposisi kasus #{case_id}: OPD Sekretariat Daerah tidak terjangkau"
    )
    body = text_of(to_budi)
    assert body.startswith("Yth. Budi,\n")
    # Received Monday 30 November 2026 at 10.00 WIB (03:00 UTC); disposed at the same moment by the head.
    assert f"Berdasarkan disposisi {head.username.title()} pada 30 November 2026 pukul 10.00 WIB" in body
    assert "Saudara ditugaskan menangani kasus gangguan" in body and "Sekretariat Daerah" in body
    assert "Catatan disposisi: Cek switch distribusi dulu, lalu hubungi Telkom." in body
    assert "Diterima: 30 November 2026 pukul 10.00 WIB" in body
    assert "Target penyelesaian: 1 Desember 2026 pukul 15.45 WIB" in body
    assert "Batas maksimum: 4 Desember 2026 pukul 11.00 WIB" in body
    assert f"Buka kasus: http://cases.example/cases/{case_id}" in body
    assert "+00:00" not in body and "T03:00" not in body
    assert to_budi["Message-ID"] != to_sari["Message-ID"]
    # The timeline: the disposition, then the system queued the e-mails and sent them.
    events = timeline(client, case_id)
    notices = [e for e in events if e["kind"].startswith("notice_")]
    assert [(e["kind"], e["actor"], e["actor_id"]) for e in notices] == [
        ("notice_queued", "system", None),
        ("notice_sent", "system", None),
        ("notice_sent", "system", None),
    ]
    assert [e["kind"] for e in events].index("dispose") < events.index(notices[0])
    assert {r["to"] for r in notices[0]["data"]["recipients"]} == {BUDI, SARI}
    assert sorted(e["data"]["to"] for e in notices[1:]) == [BUDI, SARI]
    assert metric_value(scrape(client), "batiknet_outbox_sent_total", channel="email") == 2


def test_adding_a_technician_writes_only_to_the_one_added(
    client: Any, tracker: Any, make_user: Any, mail: MailSink
) -> None:
    head = make_user("head")
    budi = make_user("technician", username="budi", email=BUDI)
    tono = make_user("technician", username="tono", email="tono@kominfo.example")
    case_id = open_case(client)
    client.post(f"/api/v1/cases/{case_id}/dispose", json={"technician_ids": [budi.id]}, headers=head.headers)
    dispatch(tracker)
    answer = client.post(
        f"/api/v1/cases/{case_id}/assign", json={"technician_ids": [tono.id, budi.id]}, headers=head.headers
    )
    assert answer.status_code == 200
    dispatch(tracker)
    assert [recipients for recipients, _ in mail.messages] == [[BUDI], ["tono@kominfo.example"]]
    assert "Catatan disposisi: tidak ada." in text_of(mail.to("tono@kominfo.example")[0])


def test_a_title_with_line_breaks_never_fails_the_disposition_nor_forges_a_header(
    client: Any, tracker: Any, make_user: Any, mail: MailSink
) -> None:
    """Issue 11 item 6: a CR/LF in an alert summary made the disposition answer 500 after it was committed,
    with no e-mail and nothing on the timeline."""
    head, budi = make_user("head"), make_user("technician", username="budi", email=BUDI)
    case_id = open_case(client, "OPD Setda mati\r\nBcc: penyusup@example.org\r\n\r\nIsi palsu")
    answer = client.post(
        f"/api/v1/cases/{case_id}/dispose", json={"technician_ids": [budi.id]}, headers=head.headers
    )
    assert answer.status_code == 200, answer.get_json()
    dispatch(tracker)
    [(recipients, message)] = mail.messages
    assert recipients == [BUDI]
    assert message["Subject"] == (
        f"[Batik.Net] Disposisi kasus #{case_id}: OPD Setda mati Bcc: penyusup@example.org Isi palsu"
    )
    assert sorted(message.keys()) == sorted(
        [
            "From",
            "To",
            "Subject",
            "Date",
            "Message-ID",
            "Content-Type",
            "Content-Transfer-Encoding",
            "MIME-Version",
        ]
    )
    assert text_of(message).startswith("Yth. Budi,\n")
    assert messages_of(timeline(client, case_id))[-1] == ("notice_sent", "assignment")


def test_a_refusing_mail_server_fails_the_message_not_the_disposition_and_the_retry_delivers(
    client: Any, tracker: Any, clock: Any, make_user: Any, mail: MailSink
) -> None:
    head, budi = make_user("head"), make_user("technician", username="budi", email=BUDI)
    case_id = open_case(client)
    mail.refuse(2)
    answer = client.post(
        f"/api/v1/cases/{case_id}/dispose", json={"technician_ids": [budi.id]}, headers=head.headers
    )
    assert answer.status_code == 200 and answer.get_json()["state"] == "dispositioned"
    dispatch(tracker)
    [failed] = [e for e in timeline(client, case_id) if e["kind"] == "notice_failed"]
    assert failed["actor"] == "system" and failed["data"]["attempt"] == 1
    assert failed["data"]["error"].startswith("refused: 451 4.3.0 Mailbox temporarily unavailable")
    first_retry = clock.current + timedelta(seconds=60)
    assert failed["data"]["retry_at"] == first_retry.isoformat()
    text = scrape(client)
    assert metric_value(text, "batiknet_outbox_failures_total", channel="email") == 1
    assert metric_value(text, "batiknet_outbox_retrying", channel="email") == 1
    clock.advance(seconds=59)
    assert dispatch(tracker) == []  # not before its time
    clock.advance(seconds=1)
    dispatch(tracker)  # refused again: the next wait is twice as long
    [_, second] = [e for e in timeline(client, case_id) if e["kind"] == "notice_failed"]
    assert second["data"]["retry_at"] == (clock.current + timedelta(seconds=120)).isoformat()
    clock.advance(seconds=120)
    dispatch(tracker)
    [(_, message)] = mail.messages
    assert f"#{case_id}" in message["Subject"]
    assert messages_of(timeline(client, case_id))[-4:] == [
        ("notice_queued", "assignment"),
        ("notice_failed", "assignment"),
        ("notice_failed", "assignment"),
        ("notice_sent", "assignment"),
    ]
    assert timeline(client, case_id)[-1]["data"]["attempt"] == 3
    text = scrape(client)
    assert metric_value(text, "batiknet_outbox_sent_total", channel="email") == 1
    assert metric_value(text, "batiknet_outbox_failures_total", channel="email") == 2
    assert metric_value(text, "batiknet_outbox_retrying", channel="email") == 0


def test_after_the_last_attempt_the_message_is_given_up_visibly(
    client: Any, tracker: Any, clock: Any, make_user: Any, mail: MailSink, login: Any
) -> None:
    head, budi = make_user("head"), make_user("technician", username="budi", email=BUDI)
    case_id = open_case(client)
    mail.refuse(10)
    client.post(f"/api/v1/cases/{case_id}/dispose", json={"technician_ids": [budi.id]}, headers=head.headers)
    for wait in (0, 60, 120):  # three attempts (BATIKNET_NOTIFY_MAX_ATTEMPTS), a minute and two apart
        clock.advance(seconds=wait)
        dispatch(tracker)
    clock.advance(hours=5)
    assert dispatch(tracker) == []
    assert mail.messages == []
    given_up = timeline(client, case_id)[-1]
    assert given_up["kind"] == "notice_given_up" and given_up["data"]["attempts"] == 3
    text = scrape(client)
    assert metric_value(text, "batiknet_outbox_given_up_total", channel="email") == 1
    assert metric_value(text, "batiknet_outbox_failures_total", channel="email") == 3
    assert metric_value(text, "batiknet_outbox_retrying", channel="email") == 0
    # The page says it in words, by the system, with the reason.
    login(head)
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Pemberitahuan tidak dapat dikirim" in page
    assert "tidak terkirim setelah 3 kali pengiriman: refused: 451 4.3.0" in page
    assert "oleh sistem" in page and "oleh alertmanager" not in page
    english = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert "given up after 3 attempts: refused: 451" in english


def test_an_unreachable_mail_server_is_a_failed_attempt(
    client: Any, tracker: Any, make_user: Any, mail: MailSink
) -> None:
    head, budi = make_user("head"), make_user("technician", username="budi", email=BUDI)
    case_id = open_case(client)
    mail.stop()
    assert (
        client.post(
            f"/api/v1/cases/{case_id}/dispose", json={"technician_ids": [budi.id]}, headers=head.headers
        ).status_code
        == 200
    )
    dispatch(tracker)
    failed = timeline(client, case_id)[-1]
    assert failed["kind"] == "notice_failed"
    assert "ConnectionRefusedError" in failed["data"]["error"]


def test_a_refused_disposition_queues_nothing(client: Any, tracker: Any, make_user: Any) -> None:
    """The messages are part of the action's transaction: an action refused (here half-way, on a
    technician that is not one) leaves no message behind."""
    head, budi = make_user("head"), make_user("technician", username="budi", email=BUDI)
    viewer = make_user("viewer")
    case_id = open_case(client)
    answer = client.post(
        f"/api/v1/cases/{case_id}/dispose",
        json={"technician_ids": [budi.id, viewer.id]},
        headers=head.headers,
    )
    assert answer.status_code == 400
    with tracker.db.read() as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage)) == 0


# --- the password travels over TLS, or not at all ------------------------------------------------------


@pytest.mark.parametrize("tls", ["starttls", "implicit"])
def test_the_password_is_sent_over_tls_to_a_verified_server(
    app_config: dict[str, Any], tmp_path: Path, tls: str
) -> None:
    secure = MailSink(tmp_path, tls=tls).start()
    password_file = tmp_path / "smtp_password"
    password_file.write_text(SMTP_PASSWORD + "\n")
    try:
        app = create_app(
            {
                **app_config,
                "BATIKNET_SMTP_PORT": secure.port,
                "BATIKNET_SMTP_USER": SMTP_USER,
                "BATIKNET_SMTP_PASSWORD_FILE": str(password_file),
                "BATIKNET_SMTP_CA_FILE": str(secure.ca_file),
                "BATIKNET_SMTP_STARTTLS": tls == "starttls",
                "BATIKNET_SMTP_TLS": tls == "implicit",
            }
        )
        tracker = app.extensions["batiknet"]
        _dispose_to_budi(app)
        dispatch(tracker)
        assert secure.logins == [(SMTP_USER, SMTP_PASSWORD, True)]
        assert [recipients for recipients, _ in secure.messages] == [[BUDI]]
        tracker.db.dispose()
    finally:
        secure.stop()


def test_a_server_whose_certificate_is_not_trusted_gets_no_password(
    app_config: dict[str, Any], tmp_path: Path
) -> None:
    secure = MailSink(tmp_path, tls="starttls").start()
    try:
        app = create_app(
            {
                **app_config,
                "BATIKNET_SMTP_PORT": secure.port,
                "BATIKNET_SMTP_USER": SMTP_USER,
                "BATIKNET_SMTP_STARTTLS": True,
            }
        )
        case_id = _dispose_to_budi(app)
        dispatch(app.extensions["batiknet"])
        assert secure.logins == [] and secure.messages == []
        failed = timeline(app.test_client(), case_id)[-1]
        assert failed["kind"] == "notice_failed" and "CERTIFICATE_VERIFY_FAILED" in failed["data"]["error"]
        app.extensions["batiknet"].db.dispose()
    finally:
        secure.stop()


def _dispose_to_budi(app: Any) -> int:
    from alert_webhook.services import accounts

    tracker = app.extensions["batiknet"]
    accounts.create_user(tracker, "kabid", "Kepala Bidang", "head", "sandi-kabid-2026")
    budi = accounts.create_user(tracker, "budi", "Budi", "technician", "sandi-budi-2026", BUDI)
    token = accounts.issue_api_token(tracker, "kabid")
    client = app.test_client()
    case_id = open_case(client)
    answer = client.post(
        f"/api/v1/cases/{case_id}/dispose",
        json={"technician_ids": [budi.id]},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200
    return case_id


PLAINTEXT_AUTH = {"BATIKNET_SMTP_HOST": "mail.kominfo.example", "BATIKNET_SMTP_USER": SMTP_USER}


def test_authentication_without_tls_is_refused_at_start_up(app_config: dict[str, Any]) -> None:
    """Issue 11 item 11: with STARTTLS off the password went in clear."""
    with pytest.raises(SettingsError) as refused:
        create_app({**app_config, **PLAINTEXT_AUTH})
    message = str(refused.value)
    for variable in ("BATIKNET_SMTP_USER", "BATIKNET_SMTP_STARTTLS", "BATIKNET_SMTP_TLS"):
        assert variable in message
    assert "BATIKNET_SMTP_ALLOW_PLAINTEXT_AUTH" in message
    with pytest.raises(SettingsError, match="choose one"):
        create_app({**app_config, **PLAINTEXT_AUTH, "BATIKNET_SMTP_STARTTLS": 1, "BATIKNET_SMTP_TLS": 1})
    allowed = create_app({**app_config, **PLAINTEXT_AUTH, "BATIKNET_SMTP_ALLOW_PLAINTEXT_AUTH": 1})
    allowed.extensions["batiknet"].db.dispose()


def test_every_command_refuses_authentication_without_tls(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "BATIKNET_INSTANCE_PATH": str(tmp_path),
        **PLAINTEXT_AUTH,
        "BATIKNET_SMTP_PORT": str(free_port()),
    }
    done = subprocess.run(
        [sys.executable, "-m", "alert_webhook.cli", "users", "list"], env=env, capture_output=True, text=True
    )
    assert done.returncode != 0
    assert "BATIKNET_SMTP_USER is set without BATIKNET_SMTP_STARTTLS or BATIKNET_SMTP_TLS" in done.stderr


# --- the real server: its applier process sends ---------------------------------------------------------


@pytest.mark.system
def test_the_server_sends_from_its_applier_process_and_a_refusal_never_reaches_the_request(
    database_url: str, tmp_path: Path, mail: MailSink
) -> None:
    env = tracker_env(
        database_url,
        tmp_path / "instance",
        BATIKNET_SMTP_HOST="127.0.0.1",
        BATIKNET_SMTP_PORT=str(mail.port),
        BATIKNET_NOTIFY_RETRY_SECONDS="1",
    )
    (tmp_path / "pw").write_text("sandi-rahasia-2026")
    for name, role, email in (("kabid", "head", "kabid@kominfo.example"), ("budi", "technician", BUDI)):
        added = run(
            env,
            "users",
            "add",
            name,
            "--role",
            role,
            "--email",
            email,
            "--password-file",
            str(tmp_path / "pw"),
        )
        assert added.returncode == 0, added.stderr
    headers = {"Authorization": f"Bearer {run(env, 'users', 'token', 'kabid').stdout.strip()}"}
    with Server(env, workers=1) as server:
        answer = requests.post(
            f"{server.base}/api/v1/cases",
            json={
                "opd": "bappeda",
                "letter_number": "005/77/Bappeda/2026",
                "letter_date": datetime.now(UTC).date().isoformat(),
                "reporter": "Rina",
                "description": "Jaringan mati",
            },
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 201
        case_id = answer.json()["id"]
        server.wait_for(lambda: mail.to("kabid@kominfo.example"), "the head's e-mail")
        mail.refuse(1)
        answer = requests.post(
            f"{server.base}/api/v1/cases/{case_id}/dispose",
            json={"technicians": ["budi"], "note": "Segera ke lokasi."},
            headers=headers,
            timeout=10,
        )
        assert answer.status_code == 200
        server.wait_for(lambda: mail.to(BUDI), "the technician's e-mail, after one refusal")

        def assignment_lines() -> list[str]:
            """The technician's message on the timeline (the head's may be recorded as sent after the
            disposition, and a message is recorded just after the mail server took it)."""
            url = f"{server.base}/api/v1/cases/{case_id}/timeline"
            events = requests.get(url, headers=headers, timeout=10).json()["events"]
            return [e["kind"] for e in events if e["data"].get("notice") == "assignment"]

        server.wait_for(lambda: "notice_sent" in assignment_lines(), "the sent e-mail on the timeline")
        assert assignment_lines() == ["notice_queued", "notice_failed", "notice_sent"]
