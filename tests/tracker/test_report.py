"""The resolution report (laporan penyelesaian gangguan jaringan, SOP step 9) and the quarterly evaluation
report as documents the head of division signs: printable pages and PDFs in Bahasa Indonesia under the
configured letterhead, telling the whole handling of a case, numbered, signed.

The PDFs are read back with poppler's ``pdftotext``, page by page, as a person would read the printout.
"""

from __future__ import annotations

import html
import re
import subprocess
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alert_webhook import create_app
from alert_webhook.extension import tracker_of
from alert_webhook.services import accounts, actor_of, casework, letters
from alert_webhook.services.letters import LetterInput
from alert_webhook.settings import SettingsError
from tests.support import png_image, require_binary

LETTERHEAD = {
    "BATIKNET_LETTERHEAD_ADDRESS": "Jl. Contoh No. 1, Kota Pekalongan 51100",
    "BATIKNET_LETTERHEAD_PHONE": "(0285) 000000",
    "BATIKNET_LETTERHEAD_EMAIL": "dinkominfo@example.go.id",
    "BATIKNET_LETTERHEAD_WEBSITE": "dinkominfo.example.go.id",
    "BATIKNET_HEAD_NAME": "Nama Kepala Bidang Contoh",
    "BATIKNET_HEAD_ID": "198001012005011001",
}
CHECKS = ("physical", "monitoring", "dns", "connectivity")
WIB_OFFSET = timedelta(hours=7)


def wib(hour: int, minute: int = 0, day: date = date(2026, 11, 30)) -> datetime:
    """An instant given as Pekalongan's clock reads it (WIB, UTC+7)."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - WIB_OFFSET


@pytest.fixture
def app_config(app_config):
    return {**app_config, **LETTERHEAD}


def squeezed(text: str) -> str:
    return " ".join(text.split())


def element_text(page: str, element_id: str) -> str:
    """The text of the element with ``element_id`` on a page (tags dropped, spaces squeezed)."""
    match = re.search(rf'<(\w+)\b[^>]*\bid="{re.escape(element_id)}"[^>]*>(.*?)</\1>', page, re.S)
    assert match, f"no element #{element_id}"
    return squeezed(html.unescape(re.sub(r"<[^>]+>", " ", match.group(2))))


def pdf_pages(pdf: bytes, directory: Path) -> list[str]:
    """The text of each page of a PDF, as poppler's pdftotext reads it (spaces squeezed)."""
    pdftotext = require_binary("pdftotext")
    path = directory / "document.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        [pdftotext, "-enc", "UTF-8", str(path), "-"], capture_output=True, check=True, text=True
    ).stdout
    return [squeezed(page) for page in text.split("\f")[:-1]]  # every page ends with a form feed


def tiny_png() -> bytes:
    return png_image(2, 2, (255, 0, 0))


@dataclass
class Staff:
    head: Any
    andi: Any
    budi: Any

    def actor(self, app: Any, who: str) -> Any:
        return actor_of(accounts.load_user(tracker_of(app), getattr(self, who).id))


@pytest.fixture
def staff(make_user) -> Staff:
    return Staff(make_user("head", "kabid"), make_user("technician", "andi"), make_user("technician", "budi"))


def open_letter(app: Any, staff: Staff, opd: str = "rsud-bendan", number: str = "440/123/XI/2026") -> int:
    letter = LetterInput(
        opd=opd, number=number, letter_date=date(2026, 11, 30), reporter="dr. Rina", description="x"
    )
    return letters.open_letter_case(tracker_of(app), staff.actor(app, "head"), letter).id


def restored_case(app: Any, staff: Staff, opd: str, number: str) -> int:
    """A letter case of ``opd`` that Andi checked (all four good) and marked restored; its id."""
    tracker, andi = tracker_of(app), staff.actor(app, "andi")
    case_id = open_letter(app, staff, opd=opd, number=number)
    casework.dispose(tracker, staff.actor(app, "head"), case_id, [staff.andi.id])
    casework.start_checks(tracker, andi, case_id)
    for check in CHECKS:
        casework.record_check(tracker, andi, case_id, check, "ok")
    casework.restore(tracker, andi, case_id)
    return case_id


@pytest.fixture
def reported_case(app, staff, clock):
    """A letter case carried through the SOP to a written report; returns (case id, technician)."""
    tracker, andi = tracker_of(app), staff.actor(app, "andi")
    case_id = open_letter(app, staff)
    casework.dispose(tracker, staff.actor(app, "head"), case_id, [staff.andi.id])
    casework.start_checks(tracker, andi, case_id)
    for check in CHECKS:
        note = "Port switch distribusi mati" if check == "physical" else ""
        casework.record_check(tracker, andi, case_id, check, "fault" if check == "physical" else "ok", note)
    clock.advance(hours=2)
    casework.restore(tracker, andi, case_id)
    casework.write_report(
        tracker,
        andi,
        case_id,
        cause="Modul SFP pada switch distribusi rusak",
        actions="Modul SFP diganti dan port diaktifkan kembali",
        parts_replaced="1 modul SFP 1000BASE-LX",
    )
    return case_id, staff.andi


@pytest.fixture
def isp_loop_case(app, staff, clock):
    """Kecamatan Pekalongan Utara off the network: the ISP called twice, rechecked, restored at 15.30."""
    tracker = tracker_of(app)
    head, andi, budi = (staff.actor(app, who) for who in ("head", "andi", "budi"))
    case_id = open_letter(app, staff, opd="kec-utara", number="045/KU/XI/2026")
    clock.set(wib(10, 5))
    both = [staff.andi.id, staff.budi.id]
    casework.dispose(tracker, head, case_id, both, "Segera cek ruang server kecamatan")
    clock.set(wib(10, 10))
    casework.start_checks(tracker, andi, case_id)
    clock.set(wib(10, 15))
    seen = wib(10, 14).isoformat()
    evidence = {
        "physical": {},
        "monitoring": {"queried_at": seen, "firing_alerts": ["BatiknetOPDUnreachable"], "suggested": "fault"},
        "dns": {"queried_at": seen, "lookups": {"dns1 pekalongankota.go.id": 1.0}, "suggested": "ok"},
        "connectivity": {"queried_at": seen, "up": {"kec-utara": 0.0}, "down": ["kec-utara"]},
    }
    for check, result in zip(CHECKS, ("ok", "fault", "ok", "fault"), strict=True):
        note = "Perangkat aktif menyala normal" if check == "physical" else ""
        casework.record_check(tracker, andi, case_id, check, result, note, evidence=evidence[check])
    clock.set(wib(10, 20))
    casework.escalate_isp(tracker, andi, case_id, "TLK-20261130-0042", called_at=wib(10, 18),
                          estimate_at=wib(13), note="Kabel optik di jalur utara")  # fmt: skip
    clock.set(wib(13, 5))
    casework.record_recheck(tracker, budi, case_id, False, "Masih putus, teknisi ISP menuju lokasi")
    clock.set(wib(13, 10))
    casework.return_to_checking(tracker, budi, case_id)
    clock.set(wib(13, 15))
    for check, result in zip(CHECKS, ("ok", "fault", "ok", "fault"), strict=True):
        casework.record_check(tracker, budi, case_id, check, result, evidence={})
    clock.set(wib(13, 20))
    casework.escalate_isp(tracker, budi, case_id, "TLK-20261130-0057", estimate_at=wib(16))
    clock.set(wib(15, 30))
    casework.record_recheck(tracker, budi, case_id, True, "Ping ke kecamatan normal kembali")
    clock.set(wib(15, 40))
    casework.write_report(tracker, budi, case_id, cause="Kabel optik ISP putus tertimpa dahan",
                          actions="Koordinasi dengan ISP dua kali; diperiksa ulang setelah perbaikan",
                          isp_part="ISP menyambung ulang kabel optik")  # fmt: skip
    clock.set(wib(15, 45))
    casework.close(tracker, budi, case_id, "Pak Bambang, Camat Pekalongan Utara")
    return case_id


# --- the whole handling --------------------------------------------------------------------------------


def test_the_report_tells_the_whole_handling_of_an_isp_loop(client, login, staff, isp_loop_case):
    login(staff.andi)
    page = client.get(f"/cases/{isp_loop_case}/report").get_data(as_text=True)

    assert element_text(page, "report-number") == "Nomor: 555/001/Kominfo/XI/2026"
    letter = element_text(page, "report-facts")
    assert (
        "Nomor 045/KU/XI/2026 tanggal 30 November 2026 dari Kecamatan Pekalongan Utara, pelapor dr. Rina; "
        "diterima 30 November 2026 pukul 10.00 WIB" in letter
    )
    disposition = element_text(page, "report-disposition")
    for text in (
        "Pemberi disposisi Kabid",
        "Waktu disposisi 30 November 2026 pukul 10.05 WIB",
        "Diteruskan kepada Andi, Budi",
        "Isi disposisi Segera cek ruang server kecamatan",
    ):
        assert text in disposition, text

    first = element_text(page, "round-1")
    assert first.startswith("Putaran pemeriksaan 1: pemeriksaan awal")
    assert element_text(page, "round-1-physical") == (
        "Pemeriksaan fisik perangkat aktif jaringan utama Baik Andi, 30 November 2026 pukul 10.15 WIB "
        "Catatan: Perangkat aktif menyala normal"
    )
    assert "Alarm aktif: BatiknetOPDUnreachable" in element_text(page, "round-1-monitoring")
    assert "Uji DNS berhasil: 1 dari 1" in element_text(page, "round-1-dns")
    connectivity = element_text(page, "round-1-connectivity")
    assert "Gangguan" in connectivity and "Data pemantauan pukul 10.14 WIB" in connectivity
    assert "Tidak terjangkau: Kecamatan Pekalongan Utara" in connectivity
    first_call = element_text(page, "round-1-isp-1")
    for text in (
        "Koordinasi dengan ISP, tiket TLK-20261130-0042",
        "ISP PT Lintas Jaringan Contoh (Metro Ethernet kecamatan)",
        "Kontak ISP +62 24 5550 0202 / support@isp-metro.example",
        "Dihubungi oleh Andi, 30 November 2026 pukul 10.18 WIB",
        "Perkiraan waktu pemulihan 30 November 2026 pukul 13.00 WIB",
        "Pemulihan sebenarnya 30 November 2026 pukul 15.30 WIB, lebih lambat 2 jam 30 menit dari perkiraan",
        "Catatan Kabel optik di jalur utara",
        "30 November 2026 pukul 13.05 WIB Belum terhubung Budi Masih putus, teknisi ISP menuju lokasi",
    ):
        assert text in first_call, text

    second = element_text(page, "round-2")
    assert second.startswith("Putaran pemeriksaan 2: pemeriksaan ulang")
    assert "Budi, 30 November 2026 pukul 13.15 WIB" in element_text(page, "round-2-connectivity")
    second_call = element_text(page, "round-2-isp-1")
    assert "tiket TLK-20261130-0057" in second_call
    assert "Dihubungi oleh Budi, 30 November 2026 pukul 13.20 WIB" in second_call
    assert "15.30 WIB, lebih cepat 30 menit dari perkiraan" in second_call
    assert "30 November 2026 pukul 15.30 WIB Terhubung Budi Ping ke kecamatan normal kembali" in second_call
    assert "TLK-20261130-0057" not in first and "TLK-20261130-0042" not in second

    restoration = element_text(page, "report-restoration")
    assert (
        "Dinyatakan pulih oleh Budi, 30 November 2026 pukul 15.30 WIB, melalui pemeriksaan ulang setelah "
        "koordinasi dengan ISP" in restoration
    )
    resolution = element_text(page, "report-resolution")
    assert "Penyebab gangguan Kabel optik ISP putus tertimpa dahan" in resolution
    assert "Peran ISP ISP menyambung ulang kabel optik" in resolution
    assert "Suku cadang yang diganti Tidak ada" in resolution
    completion = element_text(page, "report-completion")
    assert "Laporan ditulis oleh Budi, 30 November 2026 pukul 15.40 WIB" in completion
    assert "Penyelesaian dilaporkan kepada Pak Bambang, Camat Pekalongan Utara" in completion
    assert "Dilaporkan oleh Budi, 30 November 2026 pukul 15.45 WIB" in completion
    # The order of the story: disposition, round 1 and its call, round 2 and its call, restoration, end.
    story = ("report-disposition", "round-1", "round-1-isp-1", "round-2", "round-2-isp-1",
             "report-restoration", "report-completion")  # fmt: skip
    order = [page.index(f'id="{element}"') for element in story]
    assert order == sorted(order)


def test_the_pdf_tells_the_whole_handling_in_indonesian_whatever_the_page_language(
    client, login, staff, isp_loop_case, tmp_path
):
    login(staff.budi)
    client.get("/cases?lang=en")  # the reader prefers English; the official PDF stays Indonesian
    answer = client.get(f"/cases/{isp_loop_case}/report.pdf")
    assert answer.status_code == 200 and answer.mimetype == "application/pdf"
    assert f'filename="laporan-gangguan-{isp_loop_case}.pdf"' in answer.headers["Content-Disposition"]
    text = " ".join(pdf_pages(answer.data, tmp_path))
    for expected in (
        "LAPORAN PENYELESAIAN GANGGUAN JARINGAN",
        "Nomor: 555/001/Kominfo/XI/2026",
        "Putaran pemeriksaan 1: pemeriksaan awal",
        "Putaran pemeriksaan 2: pemeriksaan ulang",
        "TLK-20261130-0042",
        "TLK-20261130-0057",
        "lebih lambat 2 jam 30 menit dari perkiraan",
        "lebih cepat 30 menit dari perkiraan",
        "Belum terhubung",
        "Pak Bambang, Camat Pekalongan Utara",
        "Demikian laporan ini dibuat dengan sebenarnya untuk dapat dipergunakan sebagaimana mestinya.",
        "NIP. 19800101 200501 1 001",
        "Pekalongan, 30 November 2026",
    ):
        assert expected in text, expected
    assert "Round 1" not in text and "later than estimated" not in text
    # The printable page itself follows the reader's language.
    page = client.get(f"/cases/{isp_loop_case}/report").get_data(as_text=True)
    assert "Network Disruption Resolution Report" in page
    assert "2 hours 30 minutes later than estimated" in page


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
        "Modul SFP pada switch distribusi rusak",
        "1 modul SFP 1000BASE-LX",
        "2 jam (2 jam kerja)",  # restored 10:00 → 12:00 WIB
        "Dalam target (hari kerja ke-2)",  # not completed yet: as of now
        "belum selesai per 30 November 2026 pukul 12.00 WIB",
        "Port switch distribusi mati",
        "Penyelesaian belum dilaporkan kepada OPD.",
    ):
        assert text in page, text
    closing = element_text(page, "closing")
    assert closing == (
        "Demikian laporan ini dibuat dengan sebenarnya untuk dapat dipergunakan sebagaimana mestinya. "
        "Mengetahui, Kepala Bidang Infrastruktur dan Statistik Nama Kepala Bidang Contoh "
        "NIP. 19800101 200501 1 001 "
        "Pekalongan, 30 November 2026 Teknisi yang menangani, Andi"
    )
    assert f'href="/cases/{case_id}/report.pdf"' in page
    assert "<img" not in page  # no logo configured: none printed


def test_no_report_yet_sends_back_to_the_case(app, client, login, staff):
    case_id = open_letter(app, staff, opd="setda", number="1")
    login(staff.head)
    answer = client.get(f"/cases/{case_id}/report.pdf")
    assert answer.status_code == 302 and answer.location == f"/cases/{case_id}"
    assert "Laporan penyelesaian belum ditulis" in client.get(answer.location).get_data(as_text=True)
    assert client.get("/cases/999/report").status_code == 404


# --- the letter number -----------------------------------------------------------------------------------


def write_reports(app: Any, staff: Staff, clock: Any, count: int, at: datetime | None = None) -> list[int]:
    """``count`` cases of different OPDs carried to a written report at ``at``; their ids."""
    tracker, andi = tracker_of(app), staff.actor(app, "andi")
    opds = ["setda", "dinkes", "dindik", "bappeda", "rsud-bendan"]
    case_ids = []
    for opd in opds[:count]:
        if at is not None:
            clock.set(at)
        case_id = restored_case(app, staff, opd, f"005/{opd}")
        casework.write_report(tracker, andi, case_id, cause="Sebab", actions="Tindakan")
        casework.close(tracker, andi, case_id, "Sekretariat")
        case_ids.append(case_id)
    return case_ids


def report_number(client: Any, user: Any, case_id: int) -> str:
    return client.get(f"/api/v1/cases/{case_id}", headers=user.headers).get_json()["report"]["number"]


def test_report_numbers_follow_the_format_run_per_year_and_are_kept(app_config, app, client, staff, clock):
    first, second = write_reports(app, staff, clock, 2)
    january = write_reports(app, staff, clock, 1, at=wib(9, day=date(2027, 1, 4)))[0]
    numbers = [report_number(client, staff.head, i) for i in (first, second, january)]
    assert numbers == ["555/001/Kominfo/XI/2026", "555/002/Kominfo/XI/2026", "555/001/Kominfo/I/2027"]
    timeline = client.get(f"/api/v1/cases/{second}/timeline", headers=staff.head.headers).get_json()["events"]
    assert [e["data"]["number"] for e in timeline if e["kind"] == "write_report"] == [numbers[1]]

    # Another format later: the numbers already issued stay, the next one follows the new format and
    # carries on the year's sequence.
    changed = create_app({**app_config, "BATIKNET_REPORT_NUMBER_FORMAT": "B-{seq}/{case_id}/{month}/{year}"})
    changed_client = changed.test_client()
    assert [report_number(changed_client, staff.head, i) for i in (first, second)] == numbers[:2]
    later = write_reports(changed, staff, clock, 1, at=wib(9, day=date(2027, 1, 5)))[0]
    assert report_number(changed_client, staff.head, later) == f"B-2/{later}/1/2027"
    tracker_of(changed).db.dispose()


def test_report_numbers_are_unique_when_reports_are_written_at_once(app, client, staff):
    """Five technicians' reports written in the same instant, on five threads: five different numbers."""
    tracker, andi = tracker_of(app), staff.actor(app, "andi")
    opds = ("setda", "dinkes", "dindik", "bappeda", "rsud-bendan")
    case_ids = [restored_case(app, staff, opd, f"005/{opd}") for opd in opds]
    start, failures = threading.Barrier(len(case_ids)), []

    def write(case_id: int) -> None:
        start.wait()
        try:
            casework.write_report(tracker, andi, case_id, cause="Sebab", actions="Tindakan")
        except Exception as error:  # collected and asserted below
            failures.append(error)

    threads = [threading.Thread(target=write, args=(i,)) for i in case_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    numbers = sorted(report_number(client, staff.head, i) for i in case_ids)
    assert numbers == [f"555/00{n}/Kominfo/XI/2026" for n in range(1, 6)]


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("555/{seq}/{bulan}/{year}", "unknown placeholder {bulan}"),
        ("555/{case_id}/{year}", "needs {seq}"),
        ("555/{seq:03d}/Kominfo", "needs {year}"),
        ("555/{seq:03d/{year}", "not a format"),
        ("{seq}/{month_roman:03d}/{year}", "cannot write a number with it"),
        ("{seq}/{year}/" + "x" * 100, "longer than 100 characters"),
    ],
)
def test_a_number_format_that_cannot_number_stops_start_up(value, says):
    with pytest.raises(SettingsError) as refused:
        create_app({"TESTING": True, "BATIKNET_REPORT_NUMBER_FORMAT": value})
    assert str(refused.value).startswith("BATIKNET_REPORT_NUMBER_FORMAT=") and says in str(refused.value)


# --- the head's NIP, the logo ------------------------------------------------------------------------------


@pytest.mark.parametrize("written", ["198001012005011001", "19800101 200501 1 001"])
def test_the_heads_nip_is_printed_in_its_groups(app_config, written, tmp_path):
    app = create_app({**app_config, "BATIKNET_HEAD_ID": written})
    assert tracker_of(app).settings.head_id == "198001012005011001"
    with app.test_request_context():
        from alert_webhook.web.reports import letterhead

        assert letterhead(tracker_of(app).settings).head_nip == "19800101 200501 1 001"
    tracker_of(app).db.dispose()


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("NIP 198001012005011001", "18 digits"),
        ("19800101200501100", "18 digits"),
        ("1980010120050110011", "18 digits"),
        ("19801301 200501 1 001", "date of birth"),
        ("19800101 200513 1 001", "year and month of appointment"),
        ("19800101 200501 3 001", "15th digit is 1 or 2"),
    ],
)
def test_a_malformed_nip_stops_start_up(value, says):
    with pytest.raises(SettingsError) as refused:
        create_app({"TESTING": True, "BATIKNET_HEAD_ID": value})
    assert str(refused.value).startswith("BATIKNET_HEAD_ID=") and says in str(refused.value)


def test_the_logo_is_embedded_in_the_page_and_the_pdf(app_config, request, tmp_path):
    logo = tmp_path / "lambang.png"
    logo.write_bytes(tiny_png())
    app_config["BATIKNET_LETTERHEAD_LOGO"] = str(logo)
    app, client, staff = (request.getfixturevalue(name) for name in ("app", "client", "staff"))
    case_id = write_reports(app, staff, request.getfixturevalue("clock"), 1)[0]
    request.getfixturevalue("login")(staff.andi)
    page = client.get(f"/cases/{case_id}/report").get_data(as_text=True)
    assert re.search(r'<img class="lh-logo" src="data:image/png;base64,[A-Za-z0-9+/=]+" '
                     r'alt="Lambang Pemerintah Kota Pekalongan">', page)  # fmt: skip
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(client.get(f"/cases/{case_id}/report.pdf").data)
    listed = subprocess.run([require_binary("pdfimages"), "-list", str(pdf)], capture_output=True, text=True)
    images = listed.stdout.splitlines()[2:]  # after the two header lines
    assert len(images) == 1 and images[0].split()[3:5] == ["2", "2"], listed.stdout  # width, height


def test_without_a_logo_the_pdf_has_no_image(client, login, reported_case, tmp_path):
    case_id, tech = reported_case
    login(tech)
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(client.get(f"/cases/{case_id}/report.pdf").data)
    listed = subprocess.run([require_binary("pdfimages"), "-list", str(pdf)], capture_output=True, text=True)
    assert listed.stdout.splitlines()[2:] == []


@pytest.mark.parametrize(
    ("kind", "says"),
    [
        ("missing", "No such file or directory"),
        ("folder", "Is a directory"),
        ("text", "must be a PNG or JPEG"),
        ("huge", "larger than 1 MiB"),
    ],
)
def test_a_logo_that_cannot_be_printed_stops_start_up(tmp_path, kind, says):
    logo = tmp_path / "logo.png"
    if kind == "folder":
        logo.mkdir()
    elif kind == "text":
        logo.write_text("not an image")
    elif kind == "huge":
        logo.write_bytes(tiny_png() + bytes(1 << 20))
    with pytest.raises(SettingsError) as refused:
        create_app({"TESTING": True, "BATIKNET_LETTERHEAD_LOGO": str(logo)})
    assert str(refused.value).startswith("BATIKNET_LETTERHEAD_LOGO=") and says in str(refused.value)


# --- the signature never stands alone -------------------------------------------------------------------


def test_the_signatures_never_stand_alone_on_a_page(app, client, login, staff, clock, tmp_path):
    """Reports of growing length, so that the page break falls everywhere around the closing: on the page
    where the head signs there is always the closing sentence above and the technician's signature."""
    tracker, andi = tracker_of(app), staff.actor(app, "andi")
    login(staff.andi)
    moved_whole = 0
    for lines in range(26, 62, 3):
        case_id = restored_case(app, staff, "setda", f"005/{lines}")
        actions = "\n".join(f"{n}. Langkah penanganan ke-{n} dicatat dan diperiksa." for n in range(1, lines))
        casework.write_report(tracker, andi, case_id, cause="Sebab", actions=actions)
        casework.close(tracker, andi, case_id, "Sekretariat")
        pages = pdf_pages(client.get(f"/cases/{case_id}/report.pdf").data, tmp_path)
        assert len(pages) >= 2, "the report should run over a page"
        signed = [p for p in pages if "NIP. 19800101 200501 1 001" in p]
        assert len(signed) == 1, lines
        page = signed[0]
        closing = page.find("Demikian laporan ini dibuat dengan sebenarnya")
        assert 0 <= closing < page.find("Nama Kepala Bidang Contoh"), (lines, page)
        for signer in ("Mengetahui,", "Pekalongan, 30 November 2026", "Teknisi yang menangani,", "Andi"):
            assert signer in page, (lines, signer)
        moved_whole += page.startswith("Demikian")
    # At some length the closing would have been cut: it then moved to the next page whole.
    assert moved_whole >= 1


# --- the quarterly evaluation --------------------------------------------------------------------------


def test_quarterly_evaluation_report_names_triwulan_iv_with_its_dates(
    client, login, staff, reported_case, tmp_path
):
    login(staff.head)
    page = client.get("/evaluation/report?year=2026&quarter=4").get_data(as_text=True)
    assert "Evaluasi kinerja teknisi Triwulan IV Tahun 2026" in page
    assert "Periode 1 Oktober 2026 s.d. 31 Desember 2026" in page
    assert re.search(r'data-label="Teknisi">Andi</td>\s*<td data-label="Kasus yang ditangani">1<', page)
    assert element_text(page, "closing") == (
        "Demikian laporan evaluasi ini dibuat untuk dapat dipergunakan sebagaimana mestinya. "
        "Pekalongan, 30 November 2026 Kepala Bidang Infrastruktur dan Statistik "
        "Nama Kepala Bidang Contoh NIP. 19800101 200501 1 001"
    )
    answer = client.get("/evaluation/report.pdf?year=2026&quarter=4")
    assert answer.data.startswith(b"%PDF-")
    assert 'filename="evaluasi-teknisi-2026-tw4.pdf"' in answer.headers["Content-Disposition"]
    text = " ".join(pdf_pages(answer.data, tmp_path))
    for expected in (
        "EVALUASI KINERJA TEKNISI TRIWULAN IV TAHUN 2026",
        "Periode 1 Oktober 2026 s.d. 31 Desember 2026",
        "Andi",
        "Median lama gangguan",
        "NIP. 19800101 200501 1 001",
    ):
        assert expected in text, expected


def test_people_and_phones_come_only_from_configuration():
    """No person's name or telephone number is written into the templates or the code of the pages."""
    from alert_webhook.web import reports

    root = Path(reports.__file__).parents[1]
    sources = [*root.glob("templates/*.html"), *root.glob("web/*.py"), root / "i18n.py"]
    sources += [*root.glob("translations/*/LC_MESSAGES/*.po")]
    phone = re.compile(r"(\+62|\(0\d{2,3}\))[\d\s-]{6,}")
    assert [p.name for p in sources if phone.search(p.read_text(encoding="utf-8"))] == []
