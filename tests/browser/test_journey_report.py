"""The resolution report of a case that went round the ISP loop twice, as its people read it: a technician
on a 360×740 phone opens it from the case and reads the whole handling; the head at a desk downloads the
signed PDF. The tracker runs with a logo and the head's NIP configured, as a deployment would.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.browser.screen import accessibility_faults, layout_faults, shoot
from tests.browser.tracker import Tracker
from tests.support import png_image, require_binary

pytestmark = pytest.mark.browser

CHECKS = ("physical", "monitoring", "dns", "connectivity")
TICKETS = ("MET-20261130-0007", "MET-20261130-0019")
HEAD_NIP = "19750817 200003 1 002"


@pytest.fixture(scope="module")
def tracker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Tracker]:
    """The tracker of this module: the suite's, with the letterhead's logo and the head's NIP set."""
    directory = tmp_path_factory.mktemp("tracker")
    logo = directory / "lambang-kota.png"
    logo.write_bytes(png_image(4, 4, (0, 128, 64)))  # the city's green
    running = Tracker(directory)
    running.env.update({"BATIKNET_LETTERHEAD_LOGO": str(logo), "BATIKNET_HEAD_ID": HEAD_NIP})
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def isp_loop(tracker: Tracker) -> int:
    """A kecamatan off the network: disposed to two technicians, the ISP called twice, restored, closed."""
    case_id = tracker.letter("kec-selatan", "046/KS/XI/2026", "Ibu Ratna", "Internet kecamatan putus")["id"]
    tracker.act(case_id, "dispose", technicians=["citra", "dewi"], note="Cek perangkat di kantor kecamatan")
    tokens = {who: tracker.command("users", "token", who).strip() for who in ("citra", "dewi")}

    def act(who: str, action: str, **body: Any) -> None:
        tracker.api("POST", f"cases/{case_id}/{action}", tokens[who], **body)

    act("citra", "start-checks")
    now = datetime.now(UTC)
    # Citra checks and calls the ISP in the first round, Dewi in the second.
    for round_number, who, ticket, hours in ((1, "citra", TICKETS[0], 2), (2, "dewi", TICKETS[1], 1)):
        for check, result in zip(CHECKS, ("ok", "fault", "ok", "fault"), strict=True):
            act(who, "checks", check=check, result=result, note=f"Putaran {round_number}")
        act(who, "escalate-isp", ticket_number=ticket, estimate_at=(now + timedelta(hours=hours)).isoformat())
        if round_number == 1:
            act("dewi", "rechecks", connected=False, note="Masih putus, ISP mengganti modem")
            act("dewi", "return-to-checking")
    act("dewi", "rechecks", connected=True, note="Ping ke kecamatan normal")
    handled = "Koordinasi dengan ISP dua kali; diperiksa ulang"
    act(
        "dewi",
        "report",
        cause="Modem ISP di kecamatan rusak",
        actions=handled,
        isp_part="ISP mengganti modem",
    )
    act("dewi", "close", reported_to="Ibu Ratna, Kecamatan Pekalongan Selatan")
    return case_id


def text_of(page: Any, selector: str) -> str:
    return " ".join(page.inner_text(selector).split())


def test_a_technician_reads_the_whole_handling_on_a_phone(tracker, people, isp_loop, screenshots):
    citra = people("citra", "phone")
    citra.goto(f"/cases/{isp_loop}")
    with citra.expect_navigation():
        citra.click(f"a[href='/cases/{isp_loop}/report']")
    assert re.fullmatch(r"Nomor: 555/001/Kominfo/[IVX]+/20\d\d", text_of(citra, "#report-number"))
    assert citra.locator("img.lh-logo").is_visible()

    disposition = text_of(citra, "#report-disposition")
    assert "Pemberi disposisi Hendra Wijaya" in disposition
    assert "Diteruskan kepada Citra Lestari, Dewi Anggraini" in disposition
    assert "Isi disposisi Cek perangkat di kantor kecamatan" in disposition
    for round_number, who, ticket in ((1, "Citra Lestari", TICKETS[0]), (2, "Dewi Anggraini", TICKETS[1])):
        checks = text_of(citra, f"#round-{round_number} table.checks")
        assert checks.count(who) == 4 and checks.count(f"Catatan: Putaran {round_number}") == 4
        call = text_of(citra, f"#round-{round_number} .isp-call")
        assert f"tiket {ticket}" in call and f"Dihubungi oleh {who}" in call
        # The ISP said an hour or two; the network came back within seconds of the call.
        assert re.search(r"Pemulihan sebenarnya .+ lebih cepat (\d+ jam ?)?(\d+ menit)? dari perkiraan", call)
    assert "Belum terhubung Dewi Anggraini Masih putus, ISP mengganti modem" in text_of(citra, "#round-1")
    assert "Terhubung Dewi Anggraini Ping ke kecamatan normal" in text_of(citra, "#round-2")
    assert "Penyelesaian dilaporkan kepada Ibu Ratna, Kecamatan Pekalongan Selatan" in text_of(
        citra, "#report-completion"
    )
    assert f"NIP. {HEAD_NIP}" in text_of(citra, "#closing")

    faults = layout_faults(citra, "phone") + accessibility_faults(citra)
    assert not faults, "\n".join(faults)
    shoot(citra, screenshots, "journey-report-isp-loop-phone")


def test_the_head_downloads_the_signed_pdf(tracker, people, isp_loop, screenshots, tmp_path: Path):
    head = people("head", "wall")
    head.goto(f"/cases/{isp_loop}/report")
    faults = layout_faults(head, "wall") + accessibility_faults(head)
    assert not faults, "\n".join(faults)
    shoot(head, screenshots, "journey-report-isp-loop-wall")
    with head.expect_download() as started:
        head.click("#report-pdf")
    download = started.value
    assert download.suggested_filename == f"laporan-gangguan-{isp_loop}.pdf"
    pdf = tmp_path / download.suggested_filename
    download.save_as(pdf)
    assert pdf.read_bytes().startswith(b"%PDF-")

    pages = subprocess.run(
        [require_binary("pdftotext"), "-enc", "UTF-8", str(pdf), "-"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\f")[:-1]
    text = " ".join(" ".join(page.split()) for page in pages)
    for expected in (
        "LAPORAN PENYELESAIAN GANGGUAN JARINGAN",
        "Putaran pemeriksaan 1: pemeriksaan awal",
        "Putaran pemeriksaan 2: pemeriksaan ulang",
        *TICKETS,
        "Belum terhubung",
        "Ibu Ratna, Kecamatan Pekalongan Selatan",
    ):
        assert expected in text, expected
    assert re.search(r"Nomor: 555/001/Kominfo/[IVX]+/20\d\d", text)
    signed = [" ".join(page.split()) for page in pages if HEAD_NIP in page]
    assert len(signed) == 1 and "Demikian laporan ini dibuat dengan sebenarnya" in signed[0]
    images = subprocess.run([require_binary("pdfimages"), "-list", str(pdf)], capture_output=True, text=True)
    assert len(images.stdout.splitlines()[2:]) == 1, images.stdout  # the logo
