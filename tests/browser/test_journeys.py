"""Whole cases walked in the browser by several people at once, each in a browser context of their own (own
cookies, own screen): the head at a desk, technicians on 360×740 phones, the NOC screen at 1920×1080.
Every step asserts what that person sees on the page; every phone page is checked to fit the phone on the
way. The tracker is reached only over HTTP and its command line (see tests/browser/tracker.py), the JSON API
only to set a case up where the journey starts later in the SOP.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect

from tests.browser.screen import (
    fits_the_phone,
    flash,
    follow,
    next_step,
    only_own_origin,
    open_page,
    shoot,
    visible_forms,
)
from tests.browser.tracker import PEOPLE, wait_until

pytestmark = pytest.mark.browser

WIB = ZoneInfo("Asia/Jakarta")
CHECKS = ("physical", "monitoring", "dns", "connectivity")


def state(page: Any) -> str:
    return page.inner_text("#case-state")


def record_check(page: Any, check: str, result: str, note: str = "") -> None:
    """Tap a result of one check on the case page, write the note, save; wait for the page to show it."""
    page.click(f"#check-form-{check} label:text-is('{result}')")
    if note:
        page.fill(f"#check-{check}-note", note)
    follow(page, f"#check-form-{check} button[type=submit]")
    expect(page.locator(f"#check-{check} .check-result")).to_contain_text(result)


def cases_handled(page: Any) -> dict[str, int]:
    """The quarterly evaluation's "cases handled" per technician, as the head reads it."""
    page.goto("/evaluation")
    rows = page.locator("#evaluation-table tbody tr")
    return {
        row.locator("td").nth(0).inner_text(): int(row.locator("td").nth(1).inner_text())
        for row in rows.all()
    }


def tomorrow_at(hour: int) -> str:
    """A ``datetime-local`` value: tomorrow at ``hour`` o'clock in Pekalongan."""
    day = datetime.now(WIB).date() + timedelta(days=1)
    return f"{day.isoformat()}T{hour:02d}:00"


def test_head_disposes_to_two_of_four_technicians_and_one_works_it_on_a_phone(tracker, people, screenshots):
    case_id = tracker.letter("dindik", "421/80/XI/2026", "Pak Hadi", "Internet di ruang guru mati")["id"]

    head = people("head", "wall")
    handled_before = cases_handled(head)
    head.goto("/cases")
    follow(head, f"#case-table a[href='/cases/{case_id}'] >> nth=0")
    assert state(head) == "Laporan diterima"
    assert next_step(head) == "Disposisi" and visible_forms(head)[0] == "action-dispose"
    # Nobody ticked: the form says what is missing and nothing changes.
    follow(head, "#action-dispose button[type=submit]")
    assert "Periksa kembali isian formulir." in flash(head)
    assert "Wajib diisi." in head.inner_text("#action-dispose") and state(head) == "Laporan diterima"
    # Two of the four.
    head.click("#action-dispose label:text-is('Andi Saputra')")
    head.click("#action-dispose label:text-is('Budi Santoso')")
    head.fill("#dispose-note", "Segera cek ruang server lantai 2")
    follow(head, "#action-dispose button[type=submit]")
    assert flash(head) == "Data telah disimpan."
    assert state(head) == "Didisposisikan"
    assert head.inner_text("#case-technicians") == "Andi Saputra, Budi Santoso"
    # Only the two who are left can still be added.
    addable = head.locator("#assign-technician_ids label").all_inner_texts()
    assert addable == ["Citra Lestari", "Dewi Anggraini"]
    shoot(head, screenshots, "journey-dispose-head-wall")
    # The evaluation credits the two, and only them.
    handled = cases_handled(head)
    assert {name: handled[name] - handled_before[name] for name in handled} == {
        "Andi Saputra": 1, "Budi Santoso": 1, "Citra Lestari": 0, "Dewi Anggraini": 0
    }  # fmt: skip

    mail = wait_until(lambda: tracker.mail.to("andi@kominfo.example"), "the disposition e-mail")[-1]
    assert wait_until(lambda: tracker.mail.to("budi@kominfo.example"), "Budi's disposition e-mail")
    assert f"Disposisi kasus #{case_id}" in mail["Subject"]
    assert f"{tracker.url}/cases/{case_id}" in mail.get_content()
    assert not tracker.mail.to("citra@kominfo.example") and not tracker.mail.to("dewi@kominfo.example")

    # A technician who was not disposed sees the case but no step of it; in English, if she likes.
    citra = people("citra", "phone")
    citra.goto(f"/cases/{case_id}")
    assert "Tidak ada langkah SOP yang dapat Anda lakukan" in citra.inner_text("#actions")
    assert visible_forms(citra) == ["action-comment"]
    follow(citra, "a.lang")
    assert citra.get_attribute("html", "lang") == "en" and state(citra) == "Disposition issued"
    citra.goto("/cases")
    assert citra.inner_text("h1") == "Disruption cases"  # the choice sticks across pages
    fits_the_phone(citra)

    # Andi, on his phone in the OPD's server room.
    andi = people("andi", "phone")
    andi.goto("/cases")
    follow(andi, f"#case-table td.card-title a[href='/cases/{case_id}']")
    assert next_step(andi) == "Mulai pemeriksaan" and visible_forms(andi)[0] == "action-start_checks"
    fits_the_phone(andi)
    follow(andi, "#action-start_checks button[type=submit]")
    assert state(andi) == "Pemeriksaan"
    # The checks come first; restoring and calling the ISP wait until all four are recorded.
    assert next_step(andi) == "Daftar pemeriksaan"
    assert "4 dari 4 pemeriksaan belum dicatat" in andi.inner_text("#checklist")
    forms = visible_forms(andi)
    assert forms[:4] == [f"check-form-{check}" for check in CHECKS]
    assert "action-restore" not in forms and "action-escalate_isp" not in forms
    assert andi.is_visible("#actions .waiting")
    shoot(andi, screenshots, "journey-checks-phone")
    fits_the_phone(andi)
    for check in CHECKS:
        record_check(andi, check, "Baik", note=f"Diperiksa di lokasi: {check}")
        fits_the_phone(andi)
    # All four recorded: the connectivity is fine, so marking the network restored is next (no ISP call).
    assert next_step(andi) == "Tandai pulih"
    forms = visible_forms(andi)
    assert forms[0] == "action-restore" and "action-escalate_isp" not in forms
    assert not any(form.startswith("check-form-") for form in forms)  # recorded checks fold their forms away
    shoot(andi, screenshots, "journey-restore-phone")

    # The head, meanwhile, sees the checks arrive.
    head.goto(f"/cases/{case_id}")
    assert state(head) == "Pemeriksaan"
    assert head.locator("#checklist .result-ok").count() == 4
    assert "Diperiksa di lokasi: dns" in head.inner_text("#check-dns")

    follow(andi, "#action-restore button[type=submit]")
    assert state(andi) == "Jaringan pulih"
    assert next_step(andi) == "Tulis laporan penyelesaian"
    fits_the_phone(andi)

    # The head adds the other two; with nobody left to add, "Tambah teknisi" is gone.
    head.reload()
    head.click("#action-assign label:text-is('Citra Lestari')")
    head.click("#action-assign label:text-is('Dewi Anggraini')")
    follow(head, "#action-assign button[type=submit]")
    assert flash(head) == "Data telah disimpan."
    assert head.inner_text("#case-technicians").count(",") == 3
    assert head.locator("#action-assign").count() == 0


def test_isp_loop_of_two_rounds_then_report_and_close_on_a_phone(tracker, people, screenshots):
    case_id = tracker.letter("kec-utara", "045/KU/XI/2026", "Pak Bambang", "Internet kecamatan mati")["id"]
    tracker.act(case_id, "dispose", technicians=["budi"])

    budi = people("budi", "phone")
    budi.goto(f"/cases/{case_id}")
    follow(budi, "#action-start_checks button[type=submit]")
    for round_number, ticket in ((1, "TLK-20261130-0042"), (2, "TLK-20261130-0057")):
        assert state(budi) == "Pemeriksaan"
        assert "4 dari 4 pemeriksaan belum dicatat" in budi.inner_text("#checklist")
        for check, result in zip(CHECKS, ("Baik", "Gangguan", "Baik", "Gangguan"), strict=True):
            record_check(budi, check, result)
        # Not connected: the ISP is next, and restoring is not offered (SOP step 7).
        assert next_step(budi) == "Hubungi ISP"
        forms = visible_forms(budi)
        assert forms[0] == "action-escalate_isp" and "action-restore" not in forms
        budi.fill("#escalate_isp-ticket_number", ticket)
        budi.fill("#escalate_isp-estimate_at", tomorrow_at(10))
        budi.fill("#escalate_isp-note", f"Putaran {round_number}: kabel optik di jalur utara")
        fits_the_phone(budi)
        follow(budi, "#action-escalate_isp button[type=submit]")
        assert state(budi) == "Koordinasi dengan ISP"
        # While the ISP works, its ticket stands right under the recheck, before the checklist.
        assert next_step(budi) == "Pemeriksaan ulang"
        assert ticket in budi.inner_text("#isp-log")
        assert budi.evaluate(
            "() => [...document.querySelectorAll('#actions, #isp-log, #checklist')].map(e => e.id)"
        ) == ["actions", "isp-log", "checklist"]
        shoot(budi, screenshots, f"journey-isp-round-{round_number}-phone")
        if round_number == 1:
            budi.click("#record_recheck-connected label:text-is('Tidak')")
            budi.fill("#record_recheck-note", "Masih putus, teknisi ISP menuju lokasi")
            follow(budi, "#action-record_recheck button[type=submit]")
            assert state(budi) == "Koordinasi dengan ISP"
            assert "Belum terhubung" in budi.inner_text("#isp-log")
            assert "Masih putus, teknisi ISP menuju lokasi" in budi.inner_text("#isp-log")
            # Not connected after the ISP's estimate: check again, a new round (SOP step 8).
            follow(budi, "#action-return_to_checking button[type=submit]")
        else:
            budi.click("#record_recheck-connected label:text-is('Ya')")
            follow(budi, "#action-record_recheck button[type=submit]")
    assert state(budi) == "Jaringan pulih"
    isp_log = budi.inner_text("#isp-log")
    assert "TLK-20261130-0042" in isp_log and "TLK-20261130-0057" in isp_log
    assert "Belum terhubung" in isp_log and "Terhubung" in isp_log.replace("Belum terhubung", "")

    assert next_step(budi) == "Tulis laporan penyelesaian"
    budi.fill("#write_report-cause", "Kabel optik ISP putus tertimpa dahan di Jl. Utara")
    budi.fill("#write_report-actions", "Koordinasi dengan ISP dua kali; diperiksa ulang setelah perbaikan")
    budi.fill("#write_report-isp_part", "ISP menyambung ulang kabel optik")
    fits_the_phone(budi)
    follow(budi, "#action-write_report button[type=submit]")
    assert state(budi) == "Laporan ditulis"
    assert next_step(budi) == "Tutup kasus"

    follow(budi, f"a[href='/cases/{case_id}/report']")
    report = budi.inner_text("article")
    assert "LAPORAN PENYELESAIAN GANGGUAN JARINGAN" in budi.inner_text("h1").upper()
    assert "Kabel optik ISP putus tertimpa dahan di Jl. Utara" in report
    assert "TLK-20261130-0042" in report and "TLK-20261130-0057" in report
    fits_the_phone(budi)
    shoot(budi, screenshots, "journey-report-phone")
    pdf = budi.request.get(budi.get_attribute("#report-pdf", "href"))
    assert pdf.ok and pdf.headers["content-type"] == "application/pdf" and pdf.body().startswith(b"%PDF-")

    budi.go_back()
    budi.fill("#close-reported_to", "Pak Bambang, Kecamatan Pekalongan Utara")
    follow(budi, "#action-close button[type=submit]")
    assert state(budi) == "Selesai"
    assert next_step(budi) == ""
    assert visible_forms(budi) == ["action-comment"]


def test_a_letter_joins_the_case_an_alert_opened(tracker, people, screenshots):
    tracker.alert("dinkes", "Dinas Kesehatan")
    case_id = wait_until(lambda: tracker.open_cases_of("dinkes"), "the alert's case")[0]["id"]

    wall = people("viewer", "wall")
    assert wall.url.endswith("/noc")
    expect(wall.locator("#noc-table tr", has_text="Dinas Kesehatan")).to_have_count(1)

    # Dewi enters the OPD's letter from her phone, through the folded menu.
    dewi = people("dewi", "phone")
    dewi.click(".menu summary")
    follow(dewi, ".menu a:text-is('Surat baru')")
    assert dewi.url.endswith("/letters/new") and dewi.inner_text("h1") == "Surat pemberitahuan gangguan"
    fits_the_phone(dewi)
    dewi.fill("#number", "440/15/XI/2026")
    dewi.fill("#letter_date", datetime.now(WIB).date().isoformat())
    dewi.select_option("#opd", "dinkes")
    dewi.fill("#reporter", "dr. Rina")
    dewi.fill("#description", "Aplikasi SIMPUS di puskesmas tidak bisa diakses")
    follow(dewi, "#letter-form button[type=submit]")
    assert flash(dewi) == f"Surat digabungkan ke kasus #{case_id} yang masih terbuka."
    assert dewi.url.endswith(f"/cases/{case_id}")
    assert "Alarm sistem pemantauan" in dewi.inner_text("#summary")
    assert "440/15/XI/2026" in dewi.inner_text("#letters") and "dr. Rina" in dewi.inner_text("#letters")
    assert "BatiknetOPDUnreachable" in dewi.inner_text("#alerts")
    fits_the_phone(dewi)
    shoot(dewi, screenshots, "journey-letter-joined-phone")

    # Still one case for the OPD on the wall.
    wall.reload()
    expect(wall.locator("#noc-table tr", has_text="Dinas Kesehatan")).to_have_count(1)


def test_a_disruption_that_comes_back_after_its_case_was_closed_links_to_that_case(tracker, people):
    first_down = datetime.now(UTC) - timedelta(hours=2)
    tracker.alert("bpkad", "BPKAD", started=first_down)
    earlier = wait_until(lambda: tracker.open_cases_of("bpkad"), "the alert's case")[0]["id"]
    tracker.alert("bpkad", "BPKAD", started=first_down, ended=first_down + timedelta(minutes=20))
    tracker.act(earlier, "dispose", technicians=["citra"])
    tracker.act(earlier, "start-checks")
    for check in CHECKS:
        tracker.act(earlier, "checks", check=check, result="ok")
    tracker.act(earlier, "restore")
    tracker.act(earlier, "report", cause="Listrik ruang server padam", actions="UPS diganti")
    tracker.act(earlier, "close", reported_to="Sekretariat BPKAD")
    tracker.alert("bpkad", "BPKAD")  # down again
    later = wait_until(lambda: tracker.open_cases_of("bpkad"), "the new case")[0]["id"]
    assert later != earlier

    citra = people("citra", "phone")
    citra.goto(f"/cases/{later}")
    assert citra.inner_text("#previous-case") == f"#{earlier}"
    fits_the_phone(citra)
    follow(citra, "#previous-case")
    assert citra.url.endswith(f"/cases/{earlier}") and state(citra) == "Selesai"


def test_a_complaint_goes_from_the_officer_to_an_official(tracker, people, screenshots):
    case_id = tracker.letter("dpmptsp", "503/9/XI/2026", "Ibu Wati", "Layanan perizinan daring lambat")["id"]
    head = people("head", "phone")
    head.goto("/complaints")
    head.fill("#new-complainant", "Pak Joko (DPMPTSP)")
    head.fill("#new-contact", "0812 0000 1111")
    head.select_option("#new-channel", "telephone")
    head.fill("#new-case_id", str(case_id))
    head.fill("#new-description", "Petugas belum datang padahal sudah dua jam")
    follow(head, "#new-complaint button[type=submit]")
    assert flash(head) == "Data telah disimpan."
    complaint = head.locator("article.complaint", has_text="Pak Joko (DPMPTSP)")
    complaint_id = complaint.get_attribute("id").removeprefix("complaint-")
    assert "Diterima" in complaint.locator("h2 .badge").inner_text()
    assert complaint.locator(f"a[href='/cases/{case_id}']").is_visible()
    fits_the_phone(head)

    # The officer responds and cannot settle it.
    head.fill(f"#c{complaint_id}-respond-response", "Teknisi sedang menangani gangguan lain")
    complaint.locator("label:text-is('Belum, teruskan kepada pejabat')").click()
    follow(head, complaint.locator("button[type=submit]"))
    complaint = head.locator(f"#complaint-{complaint_id}")
    assert complaint.locator("h2 .badge").inner_text() == "Ditanggapi"
    assert "Teknisi sedang menangani gangguan lain" in complaint.inner_text()
    # Forwarded to an official of the agency, who settles it.
    head.fill(f"#c{complaint_id}-escalate-official_name", "Sekretaris Dinas")
    follow(head, complaint.locator("button[type=submit]"))
    assert complaint.locator("h2 .badge").inner_text() == "Diteruskan kepada pejabat"
    assert "Sekretaris Dinas" in complaint.inner_text()
    head.fill(f"#c{complaint_id}-resolve-resolution", "Teknisi dijadwalkan ulang; pelapor dihubungi")
    follow(head, complaint.locator("button[type=submit]"))
    assert complaint.locator("h2 .badge").inner_text() == "Selesai"
    assert "oleh Sekretaris Dinas (pejabat)" in complaint.inner_text()
    assert complaint.locator("form").count() == 0
    fits_the_phone(head)
    shoot(head, screenshots, "journey-complaint-phone")


def test_the_noc_screen_follows_the_cases_by_itself_and_can_be_paused(chromium, tracker, screenshots):
    wall = open_page(chromium, tracker, "wall")
    wall.clock.install()
    wall.goto("/login")
    wall.fill("#username", PEOPLE["viewer"].username)
    wall.fill("#password", PEOPLE["viewer"].password)
    wall.click("button[type=submit].primary")
    wall.wait_for_url("**/noc")
    assert wall.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(13, 17, 23)"
    # No Watchdog heartbeat has come from Alertmanager yet: the wall says monitoring may be down.
    assert "Watchdog" in wall.inner_text("#watchdog-banner")

    tracker.heartbeat()
    tracker.letter("kec-timur", "005/KT/XI/2026", "Pak Slamet", "Internet kantor kecamatan putus")
    wall.clock.run_for(31_000)  # the page reloads itself after 30 s
    expect(wall.locator("#noc-table")).to_contain_text("Kecamatan Pekalongan Timur")
    expect(wall.locator("#watchdog-banner")).to_have_count(0)
    shoot(wall, screenshots, "journey-noc-wall")

    wall.click("#noc-pause")
    assert wall.get_attribute("#noc-pause", "aria-pressed") == "true"
    assert wall.inner_text("#noc-pause") == "Lanjutkan pembaruan otomatis"
    tracker.letter("kec-selatan", "005/KS/XI/2026", "Ibu Ani", "Internet kantor kecamatan putus")
    wall.clock.run_for(90_000)
    assert "Kecamatan Pekalongan Selatan" not in wall.inner_text("#noc-table")  # paused: as it was
    wall.click("#noc-pause")
    wall.clock.run_for(31_000)
    expect(wall.locator("#noc-table")).to_contain_text("Kecamatan Pekalongan Selatan")
    assert not only_own_origin(wall, tracker)
    wall.context.close()
