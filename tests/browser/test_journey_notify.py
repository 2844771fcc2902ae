"""What the tracker tells people, read where they read it: the head's mailbox, the technician's, and the
case's timeline in the browser. A letter opens a case and the head is written to (the WIB time of receipt, the
link); the head follows the link, disposes with a note; the technician's e-mail carries the note; the
timeline says the system sent each. Then the mail server refuses: the disposition still succeeds, the
timeline shows the failure with its reason, and then the retry that delivered (issue 9 items 3 and 4,
issue 11 item 6). The real ``batiknet-cases serve`` sends, from its applier process.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.screen import flash, open_page, shoot
from tests.browser.tracker import PEOPLE, MailSink, Tracker, wait_until

pytestmark = pytest.mark.browser

WIB = ZoneInfo("Asia/Jakarta")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")  # fmt: skip
HEAD_MAIL = PEOPLE["head"].email


class RefusingMailSink(MailSink):
    """The browser suite's SMTP sink, able to answer the next deliveries with a temporary refusal."""

    def __init__(self) -> None:
        super().__init__()
        self.refusals = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refusals:
            self.refusals -= 1
            return "451 4.3.0 Mailbox temporarily unavailable, try again later"
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracker]:
    running = Tracker(tmp_path_factory.mktemp("tracker-notify"))
    running.mail = RefusingMailSink()
    running.env["BATIKNET_SMTP_PORT"] = str(running.mail.port)
    running.env["BATIKNET_NOTIFY_RETRY_SECONDS"] = "2"  # the first retry two seconds after a refusal
    running.start()
    try:
        yield running
    finally:
        running.stop()


def in_wib(instant: str) -> str:
    """An ISO 8601 instant as an Indonesian reader expects it: ``27 November 2026 pukul 11.00 WIB``."""
    local = datetime.fromisoformat(instant).astimezone(WIB)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} pukul {local:%H.%M} WIB"


def text(message: EmailMessage) -> str:
    return message.get_content().replace("\r\n", "\n")


def timeline_lines(page: Any) -> list[str]:
    return page.locator("#timeline li").all_inner_texts()


def dispose(page: Any, technician: str, note: str) -> None:
    page.click(f"#action-dispose label:text-is('{technician}')")
    page.fill("#dispose-note", note)
    with page.expect_navigation():
        page.click("#action-dispose button[type=submit]")


def test_the_head_is_told_disposes_with_a_note_and_the_technician_is_told(
    tracker: Tracker, chromium: Any, screenshots: Any
) -> None:
    case = tracker.letter("dukcapil", "470/55/XI/2026", "Ibu Ratna", "Layanan KTP elektronik tidak terhubung")
    case_id, link = case["id"], f"{tracker.url}/cases/{case['id']}"

    # The head's mailbox: the new case, when it was received (WIB), and the link to it.
    [to_head] = wait_until(lambda: tracker.mail.to(HEAD_MAIL), "the head's e-mail about the new case")
    assert to_head["Subject"] == f"[Batik.Net] Kasus #{case_id} menunggu disposisi: {case['title']}"
    body = text(to_head)
    assert body.startswith(f"Yth. {PEOPLE['head'].name},\n")
    assert "Sumber: surat OPD nomor 470/55/XI/2026" in body
    assert f"Diterima: {in_wib(case['received_at'])}" in body
    assert f"Batas maksimum: {in_wib(case['maximum_deadline'])}" in body
    assert re.search(r"Buka kasus: (\S+)", body).group(1) == link

    # The head follows the link and disposes to Citra, with a note.
    head = open_page(chromium, tracker, "wall", PEOPLE["head"])
    head.goto(link)
    note = "Cek perangkat di ruang server Dukcapil, koordinasikan dengan Pak Joko."
    dispose(head, "Citra Lestari", note)
    assert flash(head) == "Data telah disimpan."
    assert head.inner_text("#case-state") == "Didisposisikan"

    # Citra's mailbox: who disposed, when (WIB), the note, the link.
    [to_citra] = wait_until(lambda: tracker.mail.to("citra@kominfo.example"), "Citra's disposition e-mail")
    assert to_citra["Subject"] == f"[Batik.Net] Disposisi kasus #{case_id}: {case['title']}"
    body = text(to_citra)
    disposed = tracker.case(case_id)["dispositioned_at"]
    assert f"Berdasarkan disposisi {PEOPLE['head'].name} pada {in_wib(disposed)}, Saudara ditugaskan" in body
    assert f"Catatan disposisi: {note}" in body
    assert f"Buka kasus: {link}" in body
    assert not tracker.mail.to("andi@kominfo.example")

    # The timeline says the system queued and sent each message, and to whom.
    head.reload()
    lines = timeline_lines(head)
    sent = [line for line in lines if "Pemberitahuan terkirim" in line]
    assert any(f"Pemberitahuan kasus baru melalui pos-el kepada {PEOPLE['head'].name}" in s for s in sent)
    assert any(
        "Pemberitahuan disposisi melalui pos-el kepada Citra Lestari <citra@kominfo.example>" in s
        for s in sent
    )
    assert all("oleh sistem" in line for line in lines if "Pemberitahuan" in line)
    assert not any("alertmanager" in line for line in lines)
    scheduled = [line for line in lines if "Pengingat disposisi kepada" in line]
    assert scheduled and "apabila kasus belum didisposisikan" in scheduled[0]
    shoot(head, screenshots, "journey-notify-timeline")
    head.context.close()


def test_a_refusing_mail_server_fails_the_message_not_the_disposition_then_the_retry_delivers(
    tracker: Tracker, chromium: Any, screenshots: Any
) -> None:
    case = tracker.letter("kec-utara", "005/31/Kec.Utara/2026", "Pak Camat", "Jaringan kantor kecamatan mati")
    case_id = case["id"]
    wait_until(
        lambda: [m for m in tracker.mail.to(HEAD_MAIL) if f"#{case_id} " in m["Subject"]],
        "the head's e-mail about the second case",
    )
    tracker.mail.refusals = 1  # the next delivery, Dewi's, is refused once

    head = open_page(chromium, tracker, "wall", PEOPLE["head"])
    head.goto(f"/cases/{case_id}")
    dispose(head, "Dewi Anggraini", "Bawa kabel UTP cadangan.")
    assert flash(head) == "Data telah disimpan."
    assert head.inner_text("#case-state") == "Didisposisikan"

    def failure_shown() -> list[str]:
        head.reload()
        return [line for line in timeline_lines(head) if "Pemberitahuan gagal dikirim" in line]

    [failed] = wait_until(failure_shown, "the failed message on the timeline")
    assert "Pemberitahuan disposisi melalui pos-el kepada Dewi Anggraini <dewi@kominfo.example>" in failed
    assert "pengiriman ke-1: refused: 451 4.3.0 Mailbox temporarily unavailable" in failed
    assert "Akan dikirim ulang pada" in failed and "WIB" in failed and "oleh sistem" in failed
    shoot(head, screenshots, "journey-notify-failed")

    [to_dewi] = wait_until(lambda: tracker.mail.to("dewi@kominfo.example"), "Dewi's e-mail, on the retry")
    assert "Catatan disposisi: Bawa kabel UTP cadangan." in text(to_dewi)

    def retry_shown() -> list[str]:
        head.reload()
        return [line for line in timeline_lines(head) if "pada pengiriman ke-2" in line]

    [retried] = wait_until(retry_shown, "the retry on the timeline")
    assert "Pemberitahuan terkirim" in retried and "oleh sistem" in retried
    # Newest first: the delivery above the failure.
    lines = timeline_lines(head)
    assert lines.index(retried) < lines.index(failed)
    head.context.close()
