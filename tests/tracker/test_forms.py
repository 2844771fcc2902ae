"""The forms people fill in and what the case and complaint pages tell them (issue 9, items 5, 9, 13, 14):
the letter's sender is an OPD, chosen on purpose; which checks may be *not applicable*; a recorded check's
form keeps its result; the ISP's contacts before the call; people named by their names; who handled a
complaint and when.

Each test runs on SQLite and PostgreSQL (the ``app`` fixture).
"""

from __future__ import annotations

import html
import io
import re
from datetime import date
from typing import Any

import pytest
from sqlalchemy import update

from alert_webhook.core.workflow import Check, CheckResult
from alert_webhook.extension import tracker_of
from alert_webhook.services import (
    Invalid,
    Refused,
    accounts,
    actor_of,
    casework,
    complaints,
    evidence,
    letters,
)
from alert_webhook.services.letters import LetterInput
from alert_webhook.store.models import RecordedCheck
from tests.tracker import conftest
from tests.tracker.test_alerts_api import cases
from tests.tracker.test_pages import CSRF, PDF, flashes, letter_form, submit

# The lab inventory's OPDs, and its targets that are not OPDs (uplinks, routers, switches, DNS servers).
LAB_OPDS = {
    "setda", "setwan", "bappeda", "dinkes", "bpkad", "inspektorat", "dindik", "dukcapil", "dpmptsp",
    "rsud-bendan", "kec-barat", "kec-timur", "kec-utara", "kec-selatan",
}  # fmt: skip
NOT_OPDS = ("isp-telkom", "isp-metro", "core-router", "dist-sw1", "dns1")
TIME = r"10[.:]%s WIB"  # a time of the day as the pages write it (the separator is the formatter's)


@pytest.fixture
def people(app: Any) -> dict[str, conftest.TestUser]:
    """The division with people's names: what the pages must show instead of the usernames."""
    tracker = tracker_of(app)
    made = {}
    for username, name, role in (
        ("kabid", "Hendra Wijaya", "head"),
        ("andi", "Andi Saputra", "technician"),
        ("budi", "Budi Santoso", "technician"),
        ("layar", "Layar NOC", "viewer"),
    ):
        password = f"pw-{username}-secret"
        user = accounts.create_user(tracker, username, name, role, password)
        made[username] = conftest.TestUser(
            user.id, username, password, role, accounts.issue_api_token(tracker, username)
        )
    return made


def sign_in(client: Any, user: conftest.TestUser) -> None:
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    data = {"username": user.username, "password": user.password, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 302


def actor(app: Any, user: conftest.TestUser):
    return actor_of(accounts.load_user(tracker_of(app), user.id))


def letter(app: Any, user: conftest.TestUser, opd: str = "setda") -> int:
    entered = LetterInput(
        opd=opd,
        number="005/1/XI/2026",
        letter_date=date(2026, 11, 30),
        reporter="Ibu Sari",
        description="mati",
    )
    return letters.open_letter_case(tracker_of(app), actor(app, user), entered).id


def checking_case(app: Any, people: dict[str, conftest.TestUser], opd: str = "setda") -> int:
    """A letter's case disposed to Andi, whose checks have begun."""
    case_id = letter(app, people["kabid"], opd)
    casework.dispose(tracker_of(app), actor(app, people["kabid"]), case_id, [people["andi"].id])
    casework.start_checks(tracker_of(app), actor(app, people["andi"]), case_id)
    return case_id


def record(app: Any, user: conftest.TestUser, case_id: int, results: dict[str, str], note: str = "") -> None:
    for check, result in results.items():
        casework.record_check(
            tracker_of(app), actor(app, user), case_id, Check(check), CheckResult(result), note
        )


def text_of(markup: str) -> str:
    """What a person reads of some HTML: the text without its tags, its spaces collapsed."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", markup)).split())


def section(page: str, start: str, end: str | None = None) -> str:
    """The page's text from the element ``id=start`` up to ``id=end`` (or the end)."""
    begin = page.index(f'id="{start}"')
    return page[begin : page.index(f'id="{end}"', begin) if end else None]


# --- the letter: its sender is an OPD, chosen on purpose (item 5) -------------------------------------------


def test_the_letter_form_offers_only_opds_and_chooses_none(app, client, people):
    sign_in(client, people["andi"])
    page = client.get("/letters/new").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="opd"[^>]*>(.*?)</select>', page, re.S)
    assert select and "required" in select.group(0)
    options = re.findall(r"<option([^>]*)>([^<]*)</option>", select.group(1))
    values = [re.search(r'value="([^"]*)"', attributes).group(1) for attributes, _ in options]
    assert values[0] == "" and set(values[1:]) == LAB_OPDS  # an empty choice first, then the OPDs only
    assert not any("selected" in attributes for attributes, _ in options)
    labels = [html.unescape(label) for _, label in options[1:]]
    assert labels == sorted(labels, key=str.casefold)  # by name, as people look for them
    assert "Badan Pengelolaan Keuangan dan Aset Daerah (bpkad)" in labels  # name and abbreviation
    # The search box over the list works with the script; without it the list is still a plain select.
    assert re.search(r'<input[^>]*id="opd-search"[^>]*hidden', page)
    assert 'src="/static/choice-filter.js"' in page


def test_a_letter_without_an_opd_is_refused_with_a_message(app, client, people):
    sign_in(client, people["andi"])
    answer = submit(client, "/letters/new", letter_form(opd=""))
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "Pilih OPD pengirim surat." in page
    assert cases(client) == []


@pytest.mark.parametrize("target", NOT_OPDS)
def test_the_letter_form_refuses_a_sender_that_is_no_opd(app, client, people, target):
    sign_in(client, people["andi"])
    answer = submit(client, "/letters/new", letter_form(opd=target))
    assert answer.status_code == 400
    assert cases(client) == []


@pytest.mark.parametrize("target", NOT_OPDS)
def test_the_letter_api_refuses_a_sender_that_is_no_opd(app, client, people, target):
    body = {"opd": target, "letter_number": "1/2026", "letter_date": "2026-11-30", "reporter": "x",
            "description": "y"}  # fmt: skip
    answer = client.post("/api/v1/cases", json=body, headers=people["andi"].headers)
    assert answer.status_code == 400 and answer.get_json()["field"] == "opd"
    answer = client.post(
        "/api/v1/letters",
        data={**body, "file": (io.BytesIO(PDF), "surat.pdf")},
        headers=people["andi"].headers,
        content_type="multipart/form-data",
    )
    assert answer.status_code == 400 and answer.get_json()["field"] == "opd"
    assert cases(client) == []
    with pytest.raises(Invalid) as refused:
        letter(app, people["andi"], target)
    assert refused.value.field == "opd"


def test_the_senders_are_the_inventorys_opds_by_name(app):
    senders = letters.senders(tracker_of(app))
    assert {s.id for s in senders} == LAB_OPDS
    assert [s.name for s in senders] == sorted((s.name for s in senders), key=str.casefold)


# --- the checks that may not be skipped (item 9) ------------------------------------------------------------


@pytest.mark.parametrize("check", ["connectivity", "monitoring"])
def test_connectivity_and_monitoring_are_never_not_applicable(app, client, people, check):
    case_id = checking_case(app, people)
    answer = client.post(
        f"/api/v1/cases/{case_id}/checks",
        json={"check": check, "result": "not_applicable", "note": "tidak perlu"},
        headers=people["andi"].headers,
    )
    assert answer.status_code == 409 and answer.get_json()["code"] == "check_not_skippable"
    assert client.get(f"/api/v1/cases/{case_id}", headers=people["andi"].headers).get_json()["checks"] == []


def test_physical_and_dns_may_be_not_applicable_with_a_reason(app, client, people):
    case_id = checking_case(app, people)
    headers = people["andi"].headers
    unexplained = {"check": "dns", "result": "not_applicable"}
    answer = client.post(f"/api/v1/cases/{case_id}/checks", json=unexplained, headers=headers)
    assert answer.status_code == 409 and answer.get_json()["code"] == "not_applicable_reason"
    for check in ("physical", "dns"):
        body = {"check": check, "result": "not_applicable", "note": "hanya sambungan fisik OPD yang putus"}
        assert client.post(f"/api/v1/cases/{case_id}/checks", json=body, headers=headers).status_code == 200
    for check in ("monitoring", "connectivity"):
        body = {"check": check, "result": "ok"}
        assert client.post(f"/api/v1/cases/{case_id}/checks", json=body, headers=headers).status_code == 200
    answer = client.post(f"/api/v1/cases/{case_id}/restore", json={}, headers=headers)
    assert answer.status_code == 200 and answer.get_json()["state"] == "restored"


@pytest.mark.parametrize("action", ["restore", "escalate-isp"])
def test_a_round_whose_checks_were_all_skipped_is_neither_restored_nor_escalated(app, client, people, action):
    """All four marked not applicable (the tracker used to accept it): no restore, no call to the ISP."""
    case_id = checking_case(app, people)
    record(
        app,
        people["andi"],
        case_id,
        {"physical": "ok", "monitoring": "ok", "dns": "ok", "connectivity": "ok"},
    )
    with tracker_of(app).db.write() as session:
        session.execute(
            update(RecordedCheck).where(RecordedCheck.case_id == case_id).values(result="not_applicable")
        )
    answer = client.post(
        f"/api/v1/cases/{case_id}/{action}", json={"ticket_number": "T-1"} if action != "restore" else {},
        headers=people["andi"].headers,
    )  # fmt: skip
    assert answer.status_code == 409 and answer.get_json()["code"] == "check_not_skippable"
    assert "monitoring, connectivity" in answer.get_json()["error"]
    # The page says so in the reader's language.
    sign_in(client, people["andi"])
    page_action = action.replace("-", "_")
    form = {"escalate_isp-ticket_number": "T-1"} if page_action == "escalate_isp" else {}
    refused = submit(client, f"/cases/{case_id}/actions/{page_action}", form)
    assert refused.status_code == 409
    assert any(
        "Pengamatan jaringan pada sistem pemantauan, Pemeriksaan konektivitas pada pengguna jaringan "
        "dan server"
        in message
        and "Tidak berlaku" in message
        for message in flashes(refused)
    )


def test_the_check_forms_offer_not_applicable_only_where_it_may_apply(app, client, people):
    case_id = checking_case(app, people)
    sign_in(client, people["andi"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    for check, offered in (("physical", True), ("monitoring", False), ("dns", True), ("connectivity", False)):
        form = section(page, f"check-form-{check}")
        form = form[: form.index("</form>")]
        assert ('value="not_applicable"' in form) is offered, check


# --- a recorded check's form keeps its result (item 14) -----------------------------------------------------


def checked_result(page: str, check: str) -> str | None:
    form = section(page, f"check-form-{check}")
    form = form[: form.index("</form>")]
    found = re.search(r'<input[^>]*checked[^>]*value="(\w+)"|<input[^>]*value="(\w+)"[^>]*checked', form)
    return (found.group(1) or found.group(2)) if found else None


def test_a_note_added_to_a_recorded_check_keeps_its_result(app, client, people, monkeypatch):
    # The monitoring suggests a fault; the technician finds the network connected and records Baik.
    monkeypatch.setattr(evidence, "check_prefill", lambda tracker, case_id: {
        Check.CONNECTIVITY: {"suggested": "fault"}, Check.MONITORING: {"suggested": "fault"}})  # fmt: skip
    case_id = checking_case(app, people)
    sign_in(client, people["andi"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert checked_result(page, "connectivity") == "fault"  # unrecorded: the evidence's suggestion
    recorded = {"check-connectivity-result": "ok", "check-connectivity-note": "ping OK"}
    assert submit(client, f"/cases/{case_id}/checks/connectivity", recorded).status_code == 302
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert checked_result(page, "connectivity") == "ok"  # recorded: the recorded result, not the suggestion
    assert "ping OK</textarea>" in section(page, "check-form-connectivity")
    # Adding a note as the browser sends the form (the preselected result with it) keeps Baik.
    answer = submit(
        client,
        f"/cases/{case_id}/checks/connectivity",
        {"check-connectivity-result": checked_result(page, "connectivity"),
         "check-connectivity-note": "ping OK; dicek ulang dari server"},
    )  # fmt: skip
    assert answer.status_code == 302
    [*_, latest] = client.get(f"/api/v1/cases/{case_id}", headers=people["andi"].headers).get_json()["checks"]
    assert (latest["result"], latest["note"]) == ("ok", "ping OK; dicek ulang dari server")


# --- the ISP's contacts before the call (item 14) ----------------------------------------------------------


def test_the_isp_and_its_contacts_show_before_the_call(app, client, people):
    case_id = checking_case(app, people)  # Setda: behind the core, on Telkom's uplink
    record(app, people["andi"], case_id, {"physical": "ok", "monitoring": "fault", "dns": "ok"})
    sign_in(client, people["andi"])
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    support = section(page, "isp-support")
    assert "PT Telkom Indonesia" in support and "LAB-AST-0001" in support
    assert 'href="tel:+622155500101"' in support and "+62 21 5550 0101" in support
    assert 'href="mailto:noc@isp-telkom.example"' in support
    record(app, people["andi"], case_id, {"connectivity": "fault"})
    page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    form = section(page, "action-escalate_isp")
    assert 'href="tel:+622155500101"' in form[: form.index("</form>")]  # beside the form that logs the call
    # A kecamatan office hangs off the metro uplink: its ISP is that one.
    other = checking_case(app, people, "kec-barat")
    page = client.get(f"/cases/{other}").get_data(as_text=True)
    support = section(page, "isp-support")
    assert "PT Lintas Jaringan Contoh" in support and 'href="tel:+622455500202"' in support
    assert "PT Telkom Indonesia" not in support


# --- people by their names (item 14) ----------------------------------------------------------------------


def test_people_are_named_by_their_names(app, client, people):
    case_id = checking_case(app, people)
    casework.assign(tracker_of(app), actor(app, people["kabid"]), case_id, [people["budi"].id])
    record(app, people["andi"], case_id, {"physical": "ok", "monitoring": "fault", "dns": "ok",
                                          "connectivity": "fault"})  # fmt: skip
    casework.escalate_isp(tracker_of(app), actor(app, people["andi"]), case_id, "TLK-1")
    casework.record_recheck(tracker_of(app), actor(app, people["budi"]), case_id, False, "masih putus")
    sign_in(client, people["layar"])
    page = html.unescape(client.get(f"/cases/{case_id}").get_data(as_text=True))
    timeline = section(page, "timeline")
    assert "oleh Andi Saputra" in timeline and "oleh Hendra Wijaya" in timeline
    assert "oleh andi" not in timeline and "oleh kabid" not in timeline
    assert "Disposisi</strong>: Andi Saputra" in timeline
    assert "Teknisi ditambahkan</strong>: Budi Santoso" in timeline
    assert "Andi Saputra" in section(page, "checklist")
    isp_log = section(page, "isp-log")
    assert "Andi Saputra" in isp_log and "Budi Santoso" in isp_log
    assert "Layar NOC" in page[: page.index("<main")]  # who is signed in
    # The API names them too, beside the ids and usernames it always had.
    case = client.get(f"/api/v1/cases/{case_id}", headers=people["andi"].headers).get_json()
    assert {e["actor_name"] for e in case["timeline"] if e["actor_id"]} == {"Hendra Wijaya", "Andi Saputra",
                                                                           "Budi Santoso"}  # fmt: skip
    assert {c["by_name"] for c in case["checks"]} == {"Andi Saputra"}
    assert case["isp_contacts"][0]["by_name"] == "Andi Saputra"
    assert case["rechecks"][0]["by_name"] == "Budi Santoso"


def test_the_system_is_named_as_the_system(app, client, people):
    from tests.tracker.test_alerts_api import deliver

    deliver(client, "firing")
    [case] = cases(client)
    sign_in(client, people["layar"])
    timeline = section(client.get(f"/cases/{case['id']}").get_data(as_text=True), "timeline")
    assert "oleh sistem" in timeline and "alertmanager" not in timeline


def test_no_empty_assign_form_when_every_technician_is_assigned(app, client, people):
    case_id = letter(app, people["kabid"])
    casework.dispose(tracker_of(app), actor(app, people["kabid"]), case_id, [people["andi"].id])
    sign_in(client, people["kabid"])
    assert 'id="action-assign"' in client.get(f"/cases/{case_id}").get_data(as_text=True)
    casework.assign(tracker_of(app), actor(app, people["kabid"]), case_id, [people["budi"].id])
    assert 'id="action-assign"' not in client.get(f"/cases/{case_id}").get_data(as_text=True)


# --- who handled a complaint, and when (item 13) -----------------------------------------------------------


def test_the_complaint_page_shows_who_handled_each_step_and_when(app, client, clock, people):
    tracker, head = tracker_of(app), actor(app, people["kabid"])
    filed = complaints.file_complaint(tracker, head, "Pak Joko", "Laporan tidak ditanggapi")
    clock.advance(minutes=15)
    complaints.respond_complaint(tracker, head, filed.id, "Sedang kami periksa", solved=False)
    clock.advance(minutes=15)
    complaints.escalate_complaint(tracker, head, filed.id, "Ir. Bambang Sutejo")
    clock.advance(minutes=15)
    done = complaints.resolve_complaint(tracker, head, filed.id, "Sambungan diganti")
    assert (done.officer_name, done.escalated_by_name, done.resolution_recorded_by_name) == (
        "Hendra Wijaya", "Hendra Wijaya", "Hendra Wijaya")  # fmt: skip
    sign_in(client, people["kabid"])
    entry = text_of(section(client.get("/complaints").get_data(as_text=True), f"complaint-{filed.id}"))
    assert re.search(r"Ditanggapi oleh Hendra Wijaya, .*" + TIME % "15", entry)
    assert re.search(r"Diteruskan oleh Hendra Wijaya kepada Ir\. Bambang Sutejo, .*" + TIME % "30", entry)
    assert re.search(r"Diselesaikan oleh Ir\. Bambang Sutejo \(pejabat\), .*" + TIME % "45", entry)
    assert "dicatat oleh Hendra Wijaya" in entry
    api = client.get("/api/v1/complaints", headers=people["kabid"].headers).get_json()["complaints"][0]
    assert api["officer_name"] == api["escalated_by_name"] == "Hendra Wijaya"
    assert api["resolution_recorded_by_name"] == "Hendra Wijaya"


def test_a_complaint_solved_by_the_officer_names_the_officer(app, client, people):
    tracker, head = tracker_of(app), actor(app, people["kabid"])
    filed = complaints.file_complaint(tracker, head, "Bu Rina", "Lambat")
    complaints.respond_complaint(tracker, head, filed.id, "Sudah diperbaiki", solved=True)
    sign_in(client, people["kabid"])
    entry = text_of(section(client.get("/complaints").get_data(as_text=True), f"complaint-{filed.id}"))
    assert re.search(r"Diselesaikan oleh Hendra Wijaya \(petugas\), .*" + TIME % "00", entry)
    assert "Diteruskan" not in entry


def test_refused_steps_leave_nothing_behind(app, people):
    """A refusal of the check rules writes nothing (the service raises before its transaction commits)."""
    case_id = checking_case(app, people)
    with pytest.raises(Refused):
        casework.record_check(tracker_of(app), actor(app, people["andi"]), case_id, Check.CONNECTIVITY,
                              CheckResult.NOT_APPLICABLE, "x")  # fmt: skip
