"""The resolution report (laporan penyelesaian gangguan jaringan) and the quarterly evaluation report:
printable pages and PDFs in Bahasa Indonesia under the configured letterhead."""

from __future__ import annotations

import re
from datetime import date

import pytest

from alert_webhook.extension import tracker_of
from alert_webhook.services import accounts, actor_of, casework, letters
from alert_webhook.services.letters import LetterInput
from alert_webhook.web import reports

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
LETTERHEAD = {
    "BATIKNET_LETTERHEAD_ADDRESS": "Jl. Contoh No. 1, Kota Pekalongan 51100",
    "BATIKNET_LETTERHEAD_PHONE": "(0285) 000000",
    "BATIKNET_LETTERHEAD_EMAIL": "dinkominfo@example.go.id",
    "BATIKNET_LETTERHEAD_WEBSITE": "dinkominfo.example.go.id",
    "BATIKNET_HEAD_NAME": "Nama Kepala Bidang Contoh",
    "BATIKNET_HEAD_ID": "NIP 000000000000000000",
}


@pytest.fixture
def app_config(app_config):
    return {**app_config, **LETTERHEAD}


def document_text(document) -> str:
    """The text WeasyPrint laid out on the PDF's pages (no PDF text extractor is installed here, so the
    layout the PDF was written from is read instead)."""
    from weasyprint.formatting_structure.boxes import TextBox

    return " ".join(
        box.text
        for page in document.pages
        for box in page._page_box.descendants()
        if isinstance(box, TextBox)
    )


@pytest.fixture
def reported_case(app, make_user, clock):
    """A letter case carried through the SOP to a written report; returns (case id, technician)."""
    head, tech = make_user("head", "kabid"), make_user("technician", "andi")
    head_actor = actor_of(accounts.load_user(tracker_of(app), head.id))
    tech_actor = actor_of(accounts.load_user(tracker_of(app), tech.id))
    case = letters.open_letter_case(
        tracker_of(app),
        head_actor,
        LetterInput(
            opd="rsud-bendan",
            number="440/123/XI/2026",
            letter_date=date(2026, 11, 30),
            reporter="dr. Rina",
            description="SIMRS tidak dapat diakses",
        ),
    )
    case_id = case.id
    casework.dispose(tracker_of(app), head_actor, case_id, [tech.id])
    casework.start_checks(tracker_of(app), tech_actor, case_id)
    for check in ("physical", "monitoring", "dns", "connectivity"):
        casework.record_check(
            tracker_of(app),
            tech_actor,
            case_id,
            check,
            "fault" if check == "physical" else "ok",
            note="Port switch distribusi mati" if check == "physical" else "",
        )
    clock.advance(hours=2)
    casework.restore(tracker_of(app), tech_actor, case_id)
    casework.write_report(
        tracker_of(app),
        tech_actor,
        case_id,
        cause="Modul SFP pada switch distribusi rusak",
        actions="Modul SFP diganti dan port diaktifkan kembali",
        parts_replaced="1 modul SFP 1000BASE-LX",
    )
    return case_id, tech


def test_report_page_has_letterhead_facts_and_signatures(client, login, reported_case):
    case_id, tech = reported_case
    login(tech)
    page = client.get(f"/cases/{case_id}/report").get_data(as_text=True)
    for text in (
        "Pemerintah Kota Pekalongan",
        "Dinas Komunikasi dan Informatika",
        LETTERHEAD["BATIKNET_LETTERHEAD_ADDRESS"],
        "Telepon (0285) 000000",
        "Laporan Penyelesaian Gangguan Jaringan",
        f"Kasus nomor {case_id}",
        "RSUD Bendan",
        "Nomor 440/123/XI/2026 tanggal 30 November 2026, pelapor dr. Rina",
        "Modul SFP pada switch distribusi rusak",
        "1 modul SFP 1000BASE-LX",
        "2 jam (2 jam kerja)",  # restored 10:00 → 12:00 WIB
        "Dalam target (hari kerja ke-2)",  # not completed yet: as of now
        "belum selesai per 30 November 2026 pukul 12.00 WIB",
        "Port switch distribusi mati",
        "Nama Kepala Bidang Contoh",
        "NIP 000000000000000000",
        "Pekalongan, 30 November 2026",
        "Andi",
    ):
        assert text in page, text
    assert f'href="/cases/{case_id}/report.pdf"' in page


def test_report_pdf_is_a_pdf_in_indonesian_whatever_the_page_language(
    client, login, reported_case, monkeypatch
):
    case_id, tech = reported_case
    login(tech)
    client.get("/cases?lang=en")  # the reader prefers English; the official PDF stays Indonesian
    rendered: list[str] = []
    original = reports.render_pdf
    monkeypatch.setattr(reports, "render_pdf", lambda html: rendered.append(html) or original(html))
    answer = client.get(f"/cases/{case_id}/report.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert answer.data.startswith(b"%PDF-") and answer.data.rstrip().endswith(b"%%EOF")
    assert f'filename="laporan-gangguan-{case_id}.pdf"' in answer.headers["Content-Disposition"]
    document = reports.render_document(rendered[0])
    assert len(document.pages) >= 1
    text = document_text(document)
    for expected in (
        "LAPORAN PENYELESAIAN GANGGUAN JARINGAN",
        "PEMERINTAH KOTA PEKALONGAN",
        "DINAS KOMUNIKASI DAN INFORMATIKA",
        "Penyebab gangguan",
        "Modul SFP pada switch",
        "Kepala Bidang Infrastruktur dan Statistik",
        "Nama Kepala Bidang Contoh",
    ):
        assert expected.lower() in text.lower(), expected
    assert "Cause of the disruption" not in text
    # The printable page itself follows the reader's language.
    assert "Network Disruption Resolution Report" in client.get(f"/cases/{case_id}/report").get_data(
        as_text=True
    )


def test_no_report_yet_sends_back_to_the_case(app, client, login, make_user):
    head = make_user("head")
    actor = actor_of(accounts.load_user(tracker_of(app), head.id))
    case_id = letters.open_letter_case(
        tracker_of(app),
        actor,
        LetterInput(opd="setda", number="1", letter_date=date(2026, 11, 30), reporter="x", description="y"),
    ).id
    login(head)
    answer = client.get(f"/cases/{case_id}/report.pdf")
    assert answer.status_code == 302 and answer.location == f"/cases/{case_id}"
    assert "Laporan penyelesaian belum ditulis" in client.get(answer.location).get_data(as_text=True)
    assert client.get("/cases/999/report").status_code == 404


def test_quarterly_evaluation_report_page_and_pdf(client, login, make_user, reported_case, monkeypatch):
    login(make_user("head", "kabid2"))
    page = client.get("/evaluation/report?year=2026&quarter=4").get_data(as_text=True)
    assert (
        "Evaluasi kinerja teknisi triwulan 4 tahun 2026" in page
        and "Dinas Komunikasi dan Informatika" in page
    )
    assert re.search(r'data-label="Teknisi">Andi</td>\s*<td data-label="Kasus yang ditangani">1<', page)
    rendered: list[str] = []
    original = reports.render_pdf
    monkeypatch.setattr(reports, "render_pdf", lambda html: rendered.append(html) or original(html))
    answer = client.get("/evaluation/report.pdf?year=2026&quarter=4")
    assert answer.data.startswith(b"%PDF-")
    assert 'filename="evaluasi-teknisi-2026-tw4.pdf"' in answer.headers["Content-Disposition"]
    text = document_text(reports.render_document(rendered[0]))
    assert "Andi" in text and "Median lama gangguan" in text


def test_people_and_phones_come_only_from_configuration():
    """No person's name or telephone number is written into the templates or the code of the pages."""
    from pathlib import Path

    root = Path(reports.__file__).parents[1]
    sources = [*root.glob("templates/*.html"), *root.glob("web/*.py"), root / "i18n.py"]
    sources += [*root.glob("translations/*/LC_MESSAGES/*.po")]
    phone = re.compile(r"(\+62|\(0\d{2,3}\))[\d\s-]{6,}")
    assert [p.name for p in sources if phone.search(p.read_text(encoding="utf-8"))] == []
