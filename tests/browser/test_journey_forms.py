"""The forms of issue 9 as their people use them, in Chromium: a technician on a 360×740 phone enters an
OPD's letter by searching the OPD (nothing chosen for him), sees whom to call at the ISP before logging the
call and taps the number, adds a note to a check without changing its result, and reads people's names on
the timeline; the head handles a complaint and the page says who took each step and when.

The tracker is reached only over HTTP and its command line (tests/browser/tracker.py); the JSON API sets up
what happens before the journey starts.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.screen import fits_the_phone, flash, follow, shoot

pytestmark = pytest.mark.browser

WIB = ZoneInfo("Asia/Jakarta")
A_TIME = r"\d{1,2}[.:]\d{2} WIB"  # a time of day as the pages write it, in Pekalongan's zone


def choices(page: Any, select: str) -> list[str]:
    return page.locator(f"{select} option").all_inner_texts()


def test_a_technician_enters_a_letter_on_a_phone_by_searching_the_opd(tracker, people, screenshots):
    andi = people("andi", "phone")
    andi.goto("/letters/new")
    opds = choices(andi, "#opd")
    # The OPDs only, nothing chosen: no uplink, router, switch or DNS server, and an empty first choice.
    assert opds[0] == "— Pilih OPD —" and len(opds) == 15
    assert not any(name.startswith(("Telkom", "Router", "Switch", "DNS", "Metro")) for name in opds)
    assert andi.input_value("#opd") == ""
    fits_the_phone(andi)

    andi.fill("#number", "440/21/XI/2026")
    andi.fill("#letter_date", datetime.now(WIB).date().isoformat())
    andi.fill("#reporter", "dr. Rina")
    andi.fill("#description", "Aplikasi SIMPUS di puskesmas tidak bisa diakses")
    # Saving without an OPD: the phone's browser refuses it, naming the field, and nothing is sent.
    andi.click("#letter-form button[type=submit]")
    assert andi.url.endswith("/letters/new")
    assert andi.evaluate("document.querySelector('#opd').validationMessage")
    # A browser that does not check the form sends it anyway: the tracker refuses, saying what is missing.
    andi.evaluate("document.querySelector('#letter-form').noValidate = true")
    follow(andi, "#letter-form button[type=submit]")
    assert "Periksa kembali isian formulir." in flash(andi)
    assert "Pilih OPD pengirim surat." in andi.inner_text("#letter-form")
    assert tracker.open_cases_of("dinkes") == []

    # Search by abbreviation, then by part of the name: the list narrows; one left is chosen.
    andi.fill("#opd-search", "bpkad")
    assert choices(andi, "#opd") == ["— Pilih OPD —", "Badan Pengelolaan Keuangan dan Aset Daerah (bpkad)"]
    andi.fill("#opd-search", "kesehat")
    assert choices(andi, "#opd") == ["— Pilih OPD —", "Dinas Kesehatan (dinkes)"]
    assert andi.input_value("#opd") == "dinkes"
    andi.fill("#opd-search", "pekalongan")
    assert len(choices(andi, "#opd")) == 5 and andi.input_value("#opd") == ""  # four kecamatan: choose
    andi.fill("#opd-search", "tidak ada yang begini")
    assert "Tidak ada OPD yang sesuai dengan pencarian." in andi.inner_text("#opd-status")
    andi.fill("#opd-search", "dinas kes")
    assert andi.input_value("#opd") == "dinkes"
    fits_the_phone(andi)
    shoot(andi, screenshots, "journey-forms-letter-search-phone")
    follow(andi, "#letter-form button[type=submit]")
    [case] = tracker.open_cases_of("dinkes")
    assert flash(andi) == f"Surat dicatat; kasus #{case['id']} dibuka."
    assert "Dinas Kesehatan" in andi.inner_text("h1")
    fits_the_phone(andi)


def test_a_technician_calls_the_isp_from_the_case_and_a_note_keeps_the_result(tracker, people, screenshots):
    case_id = tracker.letter("kec-utara", "045/KU/XI/2026", "Pak Bambang", "Internet kecamatan mati")["id"]
    tracker.act(case_id, "dispose", technicians=["andi"])
    tracker.act(case_id, "start-checks")

    andi = people("andi", "phone")
    andi.goto(f"/cases/{case_id}")
    # Before any call: the ISP of this kecamatan's uplink and its support line, from the inventory.
    support = andi.locator("#isp-support")
    expect(support).to_contain_text("PT Lintas Jaringan Contoh")
    call = support.locator("a.call")
    assert call.get_attribute("href") == "tel:+622455500202"
    assert "+62 24 5550 0202" in call.inner_text()
    assert call.get_attribute("aria-label") == "Telepon +62 24 5550 0202"

    # Baik for the physical check; then a note added to it keeps Baik.
    andi.click("#check-form-physical label:text-is('Baik')")
    follow(andi, "#check-form-physical button[type=submit]")
    expect(andi.locator("#check-physical .check-result")).to_contain_text("Baik")
    andi.click("#check-physical details.change-check summary")
    assert andi.is_checked("#check-form-physical input[value=ok]")
    andi.fill("#check-physical-note", "Lampu port uplink menyala normal")
    follow(andi, "#check-form-physical button[type=submit]")
    result = andi.inner_text("#check-physical .check-result")
    assert "Baik" in result and "Lampu port uplink menyala normal" in result and "Gangguan" not in result
    # Connectivity is never "not applicable": the phone offers Baik and Gangguan only.
    assert andi.locator("#check-connectivity-result label").all_inner_texts() == ["Baik", "Gangguan"]
    for check, result_label in (("monitoring", "Gangguan"), ("dns", "Baik"), ("connectivity", "Gangguan")):
        andi.click(f"#check-form-{check} label:text-is('{result_label}')")
        follow(andi, f"#check-form-{check} button[type=submit]")

    # Not connected: the form that logs the call carries the number, and a tap calls it.
    form = andi.locator("#action-escalate_isp")
    call = form.locator("a.call")
    expect(call).to_be_visible()
    # A phone hands a tel: link to its dialer and stays on the page; headless Chromium has no dialer, so the
    # page notes which link the tap reached and goes no further.
    andi.evaluate(
        """() => document.addEventListener('click', (event) => {
            window.tapped = event.target.closest('a')?.href;
            event.preventDefault();
        }, { capture: true, once: true })"""
    )
    page_before = andi.url
    call.tap()
    assert andi.evaluate("window.tapped") == "tel:+622455500202"
    assert andi.url == page_before
    fits_the_phone(andi)
    shoot(andi, screenshots, "journey-forms-isp-call-phone")
    andi.fill("#escalate_isp-ticket_number", "LJC-0042")
    follow(andi, "#action-escalate_isp button[type=submit]")
    assert andi.inner_text("#case-state") == "Koordinasi dengan ISP"
    assert "Andi Saputra" in andi.inner_text("#isp-log")

    # The timeline names people by their names.
    timeline = andi.inner_text("#timeline")
    assert "oleh Andi Saputra" in timeline and "oleh Hendra Wijaya" in timeline
    assert not re.search(r"oleh (andi|kabid)\b", timeline)
    assert "Andi Saputra" in andi.inner_text("#checklist")


def test_the_head_handles_a_complaint_and_sees_who_took_each_step_and_when(tracker, people, screenshots):
    head = people("head", "wall")
    head.goto("/complaints")
    head.fill("#new-complainant", "Ibu Lestari (Bappeda)")
    head.select_option("#new-channel", "telephone")
    head.fill("#new-description", "Laporan gangguan kemarin belum ditanggapi")
    follow(head, "#new-complaint button[type=submit]")
    complaint = head.locator("article.complaint", has_text="Ibu Lestari (Bappeda)")
    complaint_id = complaint.get_attribute("id").removeprefix("complaint-")
    complaint = head.locator(f"#complaint-{complaint_id}")

    head.fill(f"#c{complaint_id}-respond-response", "Kami periksa dengan teknisi")
    complaint.locator("label:text-is('Belum, teruskan kepada pejabat')").click()
    follow(head, complaint.locator("button[type=submit]"))
    responded = head.inner_text(f"#complaint-{complaint_id}-responded")
    assert re.search(r"^oleh Hendra Wijaya, .*" + A_TIME, responded)

    head.fill(f"#c{complaint_id}-escalate-official_name", "Sekretaris Dinas")
    follow(head, complaint.locator("button[type=submit]"))
    escalated = head.inner_text(f"#complaint-{complaint_id}-escalated")
    assert re.search(r"^oleh Hendra Wijaya kepada Sekretaris Dinas, .*" + A_TIME, escalated)

    head.fill(f"#c{complaint_id}-resolve-resolution", "Jaringan Bappeda sudah pulih; pelapor dihubungi")
    follow(head, complaint.locator("button[type=submit]"))
    resolved = head.inner_text(f"#complaint-{complaint_id}-resolved")
    assert re.search(r"^oleh Sekretaris Dinas \(pejabat\), .*" + A_TIME, resolved)
    assert "dicatat oleh Hendra Wijaya" in resolved
    shoot(head, screenshots, "journey-forms-complaint-wall")
