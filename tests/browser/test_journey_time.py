"""Time as the tracker's people see it, in the browser on 360×740 phones: times in WIB written the formal
way, a letter received before the alert moving the case's clock, one answer to "on time" on the list, the
case page and the NOC screen, an impossible time refused with a message in its form, and the ISP's waiting
time counted from the call. The tracker runs on the real clock, so each expectation is derived from the
instants the test itself chose or from the case's JSON.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tests.browser.screen import fits_the_phone, flash, follow, next_step, shoot
from tests.browser.tracker import Tracker, wait_until

pytestmark = pytest.mark.browser

WIB = ZoneInfo("Asia/Jakarta")
CHECKS = ("physical", "monitoring", "dns", "connectivity")
MONTHS = ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus", "September", "Oktober",
          "November", "Desember")  # fmt: skip


def formal(instant: datetime) -> str:
    """How an Indonesian government office writes a moment: ``30 November 2026 pukul 11.00 WIB``."""
    local = instant.astimezone(WIB)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year} pukul {local:%H.%M} WIB"


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text)


def picker(moment: datetime) -> str:
    """A ``datetime-local`` value: the moment's wall-clock time in Pekalongan."""
    return moment.astimezone(WIB).strftime("%Y-%m-%dT%H:%M")


def standing_on(page: Any, selector: str) -> str:
    return page.locator(selector).first.get_attribute("data-standing")


def row_of(page: Any, table: str, case_id: int) -> Any:
    return page.locator(f"{table} tr[data-standing]", has=page.locator(f"a[href='/cases/{case_id}']"))


def checked(tracker: Tracker, case_id: int, technician: str, connectivity: str = "ok") -> None:
    """Disposed to ``technician``, checks started and the four recorded (set up by the head)."""
    tracker.act(case_id, "dispose", technicians=[technician])
    tracker.act(case_id, "start-checks")
    for check in CHECKS:
        tracker.act(case_id, "checks", check=check, result=connectivity if check == "connectivity" else "ok")


def test_a_letter_received_before_the_alert_moves_the_clock_and_every_screen_agrees(
    tracker, people, screenshots
):
    tracker.alert("rsud-bendan", "RSUD Bendan")
    case_id = wait_until(lambda: tracker.open_cases_of("rsud-bendan"), "the alert's case")[0]["id"]
    alerted = tracker.case(case_id)

    andi = people("andi", "phone")
    andi.goto(f"/cases/{case_id}")
    assert andi.inner_text("#case-received") == formal(instant(alerted["received_at"]))
    assert andi.inner_text("#case-target-deadline") == formal(instant(alerted["target_deadline"]))
    assert standing_on(andi, "#case-service-level [data-standing]") == "within_target"

    # The hospital's letter was received three weeks ago; Andi enters it now, from his phone.
    received = (datetime.now(WIB) - timedelta(days=21)).replace(hour=9, minute=0, second=0, microsecond=0)
    andi.goto("/letters/new?opd=rsud-bendan")
    andi.fill("#number", "445/77/RSUD/2026")
    andi.fill("#letter_date", received.date().isoformat())
    andi.fill("#reporter", "dr. Rina")
    andi.fill("#description", "SIMRS tidak dapat diakses dari ruang rawat jalan")
    andi.fill("#received_at", picker(received))
    fits_the_phone(andi)
    follow(andi, "#letter-form button[type=submit]")
    assert flash(andi).startswith(f"Surat digabungkan ke kasus #{case_id} yang masih terbuka.")

    # The service runs from the earliest receipt: the letter's. The deadlines moved with it.
    moved = tracker.case(case_id)
    assert instant(moved["received_at"]) == received
    assert andi.inner_text("#case-received") == formal(received)
    assert andi.inner_text("#case-target-deadline") == formal(instant(moved["target_deadline"]))
    assert andi.inner_text("#case-maximum-deadline") == formal(instant(moved["maximum_deadline"]))
    assert moved["target_deadline"] != alerted["target_deadline"]
    assert moved["service_level"]["standing"] == "past_maximum"
    assert standing_on(andi, "#case-service-level [data-standing]") == "past_maximum"
    assert (
        andi.inner_text("#case-standing-warning") == "Kasus ini telah melewati batas maksimum 5 hari kerja."
    )
    assert "Waktu diterima dimajukan sesuai surat yang diterima lebih awal" in andi.inner_text("#timeline")
    fits_the_phone(andi)
    shoot(andi, screenshots, "journey-time-letter-moves-the-clock-phone")

    # The same answer on the list and on the NOC screen, on a phone.
    andi.goto("/cases")
    row = row_of(andi, "#case-table", case_id)
    assert row.get_attribute("data-standing") == "past_maximum"
    assert "MELEWATI BATAS MAKSIMUM" in row.inner_text()
    short = f"{received.day} {MONTHS[received.month - 1][:3]} {received.year} {received:%H.%M} WIB"
    assert short in row.inner_text()  # a table's short form
    fits_the_phone(andi)
    screen = people("viewer", "phone")
    screen.goto("/noc")
    row = row_of(screen, "#noc-table", case_id)
    assert row.get_attribute("data-standing") == "past_maximum"
    assert "MELEWATI BATAS MAKSIMUM" in row.inner_text()
    assert int(screen.inner_text("#noc-overdue")) >= 1
    fits_the_phone(screen)
    shoot(screen, screenshots, "journey-time-noc-phone")


def test_an_impossible_restore_time_is_refused_in_its_form(tracker, people, screenshots):
    case = tracker.letter("kec-barat", "005/KB/XI/2026", "Pak Darto", "Internet kantor kecamatan mati")
    case_id, received = case["id"], instant(case["received_at"])
    checked(tracker, case_id, "budi")

    budi = people("budi", "phone")
    budi.goto(f"/cases/{case_id}")
    assert next_step(budi) == "Tandai pulih"
    # An hour before the letter came in: the network cannot be back before the case began.
    budi.fill("#restore-restored_at", picker(received - timedelta(hours=1)))
    follow(budi, "#action-restore button[type=submit]")
    assert flash(budi) == "Periksa kembali isian formulir."
    assert budi.inner_text("#action-restore .error") == (
        f"Waktu pulih tidak boleh lebih awal daripada waktu kasus diterima ({formal(received)})."
    )
    assert budi.inner_text("#case-state") == "Pemeriksaan"
    fits_the_phone(budi)
    shoot(budi, screenshots, "journey-time-restore-refused-phone")
    # Tomorrow: not yet.
    budi.fill("#restore-restored_at", picker(datetime.now(WIB) + timedelta(days=1)))
    follow(budi, "#action-restore button[type=submit]")
    assert "Waktu pulih tidak boleh melewati waktu sekarang" in budi.inner_text("#action-restore .error")
    assert tracker.case(case_id)["restored_at"] is None
    # Left empty: restored now, and the restoration is told in clock time and in working hours.
    budi.fill("#restore-restored_at", "")
    follow(budi, "#action-restore button[type=submit]")
    assert budi.inner_text("#case-state") == "Jaringan pulih"
    assert "jam kerja)" in budi.inner_text("#case-restoration")


def test_the_isp_wait_counts_from_the_call_the_technician_names(tracker, people):
    received = (datetime.now(WIB) - timedelta(hours=2)).replace(second=0, microsecond=0)
    letter = {"opd": "kec-utara", "letter_number": "045/KU/2026", "letter_date": received.date().isoformat(),
              "reporter": "Pak Bambang", "description": "Internet kecamatan mati"}  # fmt: skip
    case = tracker.api("POST", "cases", **letter, received_at=received.isoformat())
    case_id = case["id"]
    checked(tracker, case_id, "citra", connectivity="fault")

    citra = people("citra", "phone")
    citra.goto(f"/cases/{case_id}")
    assert next_step(citra) == "Hubungi ISP"
    called = (datetime.now(WIB) - timedelta(hours=1)).replace(second=0, microsecond=0)
    citra.fill("#escalate_isp-ticket_number", "TLK-20261130-0101")
    citra.fill("#escalate_isp-called_at", picker(called))
    follow(citra, "#action-escalate_isp button[type=submit]")
    assert citra.inner_text("#case-state") == "Koordinasi dengan ISP"
    assert formal(called) in citra.inner_text("#isp-log")
    # An hour on the clock since the call, however late it was logged.
    wait = citra.inner_text("#case-isp-wait")
    assert wait.startswith(("1 jam (", "1 jam 1 menit (")) and wait.endswith("jam kerja)"), wait
    fits_the_phone(citra)
