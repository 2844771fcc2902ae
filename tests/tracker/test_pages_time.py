"""Time on the pages, on SQLite and PostgreSQL: times in WIB as Indonesians read them, durations in clock
and working time, impossible times refused under their field, and one answer to "on time" on every
surface (list, case page, NOC screen, API, printed report, evaluation, metrics)."""

from __future__ import annotations

import html
import re
from datetime import UTC, date, datetime
from typing import Any

from alert_webhook.extension import tracker_of
from alert_webhook.services import accounts, actor_of, cases, casework, letters
from alert_webhook.services.letters import LetterInput
from tests.tracker import test_pages
from tests.tracker.conftest import metric_value, scrape
from tests.tracker.test_alerts_api import HEADERS, deliver
from tests.tracker.test_pages import letter_case, letter_form, submit

staff = test_pages.staff  # the fixture: kabid, andi, budi, noc
CHECKS = ("physical", "monitoring", "dns", "connectivity")


def wib(day: int, hour: int, minute: int = 0, month: int = 11) -> datetime:
    return datetime(2026, month, day, hour - 7, minute, tzinfo=UTC)


def actor(app: Any, user: Any) -> Any:
    return actor_of(accounts.load_user(tracker_of(app), user.id))


def checked_case(
    app: Any, staff: dict, opd: str = "setda", number: str = "1/A", connectivity: str = "ok"
) -> int:
    """A letter case (received now) disposed to Andi, its four checks recorded (connectivity as given)."""
    case_id = letter_case(app, staff["head"], opd, number)
    tracker, tech = tracker_of(app), actor(app, staff["tech"])
    casework.dispose(tracker, actor(app, staff["head"]), case_id, [staff["tech"].id])
    casework.start_checks(tracker, tech, case_id)
    for check in CHECKS:
        casework.record_check(
            tracker, tech, case_id, check, connectivity if check == "connectivity" else "ok"
        )
    return case_id


def shown(page: str, element_id: str) -> str:
    """The text of the element with ``element_id``, as a person reads it (tags dropped, spaces collapsed);
    the element holds no element of its own kind."""
    opening = re.search(rf'<(\w+)[^>]*id="{element_id}"[^>]*>', page)
    assert opening is not None, element_id
    content = page[opening.end() : page.index(f"</{opening.group(1)}>", opening.end())]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", content)).split())


# --- times and numbers for people --------------------------------------------------------------------


def test_times_are_in_wib_the_formal_way(app: Any, client: Any, login: Any, staff: dict) -> None:
    case_id = letter_case(app, staff["head"])  # received Monday 30 November 2026, 10:00 WIB
    login(staff["head"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert shown(page, "case-received") == "30 November 2026 pukul 10.00 WIB"
    assert shown(page, "case-target-deadline") == "1 Desember 2026 pukul 15.45 WIB"
    assert shown(page, "case-maximum-deadline") == "4 Desember 2026 pukul 11.00 WIB"
    listed = client.get("/cases").get_data(as_text=True)
    assert "30 Nov 2026 10.00 WIB" in listed and "4 Des 2026 11.00 WIB" in listed
    for text in (page, listed):
        assert "2026-11-30" not in text and "30-11-2026" not in text and "03:00" not in text
    english = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert shown(english, "case-received") == "30 November 2026, 10:00 WIB"
    assert shown(english, "case-target-deadline") == "1 December 2026, 15:45 WIB"


def test_a_letter_received_earlier_moves_the_clock_and_the_timeline_says_so(
    app: Any, client: Any, login: Any, staff: dict, shared_headers: dict
) -> None:
    deliver(client, "firing")  # setda, Monday 30 November 10:00 WIB
    case_id = client.get("/api/v1/cases", headers=shared_headers).get_json()["cases"][0]["id"]
    tracker = tracker_of(app)
    letter = LetterInput("setda", "7/2026", date(2026, 11, 27), "Ibu Sari", "Internet mati", wib(27, 9))
    letters.open_letter_case(tracker, actor(app, staff["tech"]), letter)
    login(staff["head"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert shown(page, "case-received") == "27 November 2026 pukul 09.00 WIB"
    assert shown(page, "case-target-deadline") == "30 November 2026 pukul 15.45 WIB"
    timeline = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", page[page.index('id="timeline"') :])).split())
    assert (
        "Waktu diterima dimajukan sesuai surat yang diterima lebih awal : "
        "30 November 2026 pukul 10.00 WIB → 27 November 2026 pukul 09.00 WIB oleh Andi"
    ) in timeline


# --- impossible times are refused under their field; nothing is written ---------------------------------


def test_an_impossible_restore_time_is_refused_in_the_form(
    app: Any, client: Any, login: Any, staff: dict
) -> None:
    case_id = checked_case(app, staff)
    login(staff["tech"])
    answer = submit(client, f"/cases/{case_id}/actions/restore", {"restore-restored_at": "2026-11-30T09:00"})
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    form = page[page.index('id="action-restore"') : page.index("</form>", page.index('id="action-restore"'))]
    error = re.search(r'<small class="error">([^<]+)</small>', form)
    assert error is not None
    assert html.unescape(error.group(1)) == (
        "Waktu pulih tidak boleh lebih awal daripada waktu kasus diterima (30 November 2026 pukul 10.00 WIB)."
    )
    assert cases.get_case(tracker_of(app), case_id).state == "checking"
    answer = submit(
        client, f"/cases/{case_id}/actions/restore?lang=en", {"restore-restored_at": "2046-11-30T09:00"}
    )
    assert answer.status_code == 400
    assert "Restored at lies in the future" in html.unescape(answer.get_data(as_text=True))
    assert cases.get_case(tracker_of(app), case_id).restored_at is None


def test_a_future_receipt_on_the_letter_form_is_refused_under_its_field(
    app: Any, client: Any, login: Any, staff: dict
) -> None:
    login(staff["tech"])
    answer = submit(client, "/letters/new", letter_form(received_at="2056-11-30T10:00"))
    assert answer.status_code == 400
    page = html.unescape(answer.get_data(as_text=True))
    field = page[page.index('for="received_at"') :]
    assert re.match(
        r'[^<]*</label>\s*<input[^>]*>\s*<small class="hint">[^<]*</small>\s*'
        r'<small class="error">Waktu diterima tidak boleh melewati waktu sekarang',
        field,
    )
    assert cases.list_cases(tracker_of(app)).items == []


def test_an_isp_call_before_the_receipt_is_refused_under_its_field(
    app: Any, client: Any, login: Any, staff: dict
) -> None:
    case_id = checked_case(app, staff, connectivity="fault")
    tracker = tracker_of(app)
    login(staff["tech"])
    data = {"escalate_isp-isp": "isp-telkom", "escalate_isp-ticket_number": "T-1"}
    answer = submit(
        client,
        f"/cases/{case_id}/actions/escalate_isp",
        {**data, "escalate_isp-called_at": "2026-11-29T10:00"},
    )
    assert answer.status_code == 400
    assert "Waktu menghubungi ISP tidak boleh lebih awal" in html.unescape(answer.get_data(as_text=True))
    answer = submit(
        client,
        f"/cases/{case_id}/actions/escalate_isp",
        {**data, "escalate_isp-estimate_at": "2028-11-29T10:00"},
    )
    assert answer.status_code == 400
    assert "paling lama 366 hari dari sekarang" in html.unescape(answer.get_data(as_text=True))
    assert cases.get_case(tracker, case_id).isp_contacts == []


# --- durations: clock time and working time --------------------------------------------------------------


def test_the_isp_wait_counts_from_the_call_on_the_case_page(
    app: Any, client: Any, login: Any, staff: dict, clock: Any
) -> None:
    case_id = checked_case(app, staff, connectivity="fault")
    tracker, tech = tracker_of(app), actor(app, staff["tech"])
    clock.set(wib(30, 10, 35))
    casework.escalate_isp(tracker, tech, case_id, "TLK-1", called_at=wib(30, 10, 5))
    login(staff["tech"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert shown(page, "case-isp-wait") == "30 menit (0,5 jam kerja)"


def test_an_after_hours_restoration_is_told_in_clock_and_working_time(
    app: Any, client: Any, login: Any, staff: dict, clock: Any
) -> None:
    clock.set(wib(30, 16))  # Monday 16:00, after closing
    case_id = checked_case(app, staff)
    clock.set(wib(30, 18, 15))
    tracker, tech = tracker_of(app), actor(app, staff["tech"])
    casework.restore(tracker, tech, case_id)
    casework.write_report(tracker, tech, case_id, cause="Listrik padam", actions="Perangkat dinyalakan")
    login(staff["tech"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    after_hours = "2 jam 15 menit (di luar jam layanan; 0 jam kerja)"
    assert shown(page, "case-restoration") == after_hours
    report = client.get(f"/cases/{case_id}/report").get_data(as_text=True)
    assert shown(report, "report-duration") == after_hours
    english = client.get(f"/cases/{case_id}?lang=en").get_data(as_text=True)
    assert shown(english, "case-restoration") == "2 hours 15 minutes (outside service hours; 0 working hours)"


# --- on time: one answer on every surface -----------------------------------------------------------------


def standing_in_list(page: str, case_id: int) -> str:
    row = re.search(rf'<tr[^>]*data-standing="(\w+)"[^>]*>\s*<td[^>]*><a href="/cases/{case_id}"', page)
    assert row is not None, case_id
    return row.group(1)


def standing_on(page: str, element_id: str) -> str:
    element = page[page.index(f'id="{element_id}"') :]
    return re.search(r'data-standing="(\w+)"', element).group(1)


def test_the_same_case_stands_the_same_on_every_surface(
    app: Any, client: Any, login: Any, staff: dict, clock: Any
) -> None:
    tracker = tracker_of(app)
    andi = actor(app, staff["tech"])
    # A: restored within the hour, its completion reported eight days later (past the maximum).
    late = checked_case(app, staff)
    clock.set(wib(30, 11))
    casework.restore(tracker, andi, late)
    casework.write_report(tracker, andi, late, cause="Kabel putus", actions="Kabel diganti")
    # B: received Thursday 3 December, still open on Tuesday 8 December: past the target, within the maximum.
    clock.set(wib(3, 9, month=12))
    waiting = letter_case(app, staff["head"], "kec-barat", "2/B")
    clock.set(wib(8, 10, month=12))
    casework.close(tracker, andi, late, reported_to="Ibu Sari")

    expected = {late: "past_maximum", waiting: "within_maximum"}
    login(staff["head"])
    listed = client.get("/cases").get_data(as_text=True)
    overdue_only = client.get("/cases?overdue=1").get_data(as_text=True)
    noc = client.get("/noc").get_data(as_text=True)
    for case_id, standing in expected.items():
        api = client.get(f"/api/v1/cases/{case_id}", headers=HEADERS).get_json()
        assert api["service_level"]["standing"] == standing
        assert (api["overdue"], api["past_maximum"]) == (True, standing == "past_maximum")
        assert standing_in_list(listed, case_id) == standing
        assert standing_in_list(overdue_only, case_id) == standing
        page = client.get(f"/cases/{case_id}").get_data(as_text=True)
        assert standing_on(page, "case-service-level") == standing
    assert standing_in_list(noc, waiting) == "within_maximum" and f'href="/cases/{late}"' not in noc
    assert re.search(r'id="noc-late">1<', noc) and re.search(r'id="noc-overdue">0<', noc)
    api_overdue = client.get("/api/v1/cases?overdue=true", headers=HEADERS).get_json()["cases"]
    assert {c["id"] for c in api_overdue} == {late, waiting}

    report = client.get(f"/cases/{late}/report").get_data(as_text=True)
    assert standing_on(report, "report-service-level") == "past_maximum"
    assert "Melewati batas maksimum" in shown(report, "report-service-level")
    assert shown(report, "report-duration") == "1 jam (1 jam kerja)"

    evaluation = client.get("/evaluation?year=2026&quarter=4").get_data(as_text=True)
    andi_row = evaluation[evaluation.index(">Andi<") : evaluation.index("</tr>", evaluation.index(">Andi<"))]
    cells = dict(re.findall(r'data-label="([^"]+)">([^<]*)<', andi_row))
    assert cells["Selesai"] == "1"
    assert cells["Dalam target (hari kerja ke-2)"].startswith("0 ")
    assert cells["Dalam batas maksimum (hari kerja ke-5)"].startswith("0 ")

    metrics = scrape(client)
    within = {"technician": "andi", "isp": "isp-telkom"}
    assert metric_value(metrics, "batiknet_cases_completed_total", **within, within="late") == 1
    assert metric_value(metrics, "batiknet_cases_overdue", deadline="target") == 1
    assert metric_value(metrics, "batiknet_cases_overdue", deadline="maximum") == 0
