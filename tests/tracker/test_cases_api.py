"""The case API end to end on SQLite and PostgreSQL: workflow, letters, filters, complaints, metrics."""

from __future__ import annotations

from typing import Any

import pytest

from tests.tracker.conftest import metric_value, scrape
from tests.tracker.test_alerts_api import HEADERS, cases, deliver

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64
LETTER = {
    "opd": "setda",
    "letter_number": "005/123/2026",
    "letter_date": "2026-11-29",
    "reporter": "Operator Setda",
    "description": "Internet mati sejak pagi",
}


def act(client: Any, user: Any, case_id: int, action: str, **body: Any) -> Any:
    return client.post(f"/api/v1/cases/{case_id}/{action}", json=body, headers=user.headers)


@pytest.fixture
def staff(make_user: Any) -> dict[str, Any]:
    return {
        "admin": make_user("admin"),
        "head": make_user("head"),
        "tech": make_user("technician", email="budi@example.org"),
        "other": make_user("technician"),
        "viewer": make_user("viewer"),
    }


@pytest.fixture
def alert_case(client: Any) -> int:
    deliver(client, "firing")
    return cases(client)[0]["id"]


def test_the_whole_sop_with_the_isp_loop(client: Any, clock: Any, staff: dict, alert_case: int) -> None:
    head, tech = staff["head"], staff["tech"]
    assert (
        act(client, head, alert_case, "dispose", technicians=[tech.username], note="segera").status_code
        == 200
    )
    clock.advance(minutes=30)
    assert act(client, tech, alert_case, "start-checks").status_code == 200
    for check, result in (
        ("physical", "ok"),
        ("monitoring", "fault"),
        ("dns", "ok"),
        ("connectivity", "fault"),
    ):
        answer = act(client, tech, alert_case, "checks", check=check, result=result, note=f"cek {check}")
        assert answer.status_code == 200, answer.get_json()
    clock.advance(minutes=10)
    answer = act(
        client,
        tech,
        alert_case,
        "escalate-isp",
        ticket_number="TLK-7781",
        estimate_at="2026-11-30T14:00:00+07:00",
    )
    assert answer.status_code == 200, answer.get_json()
    case = answer.get_json()
    assert case["state"] == "isp_escalated"
    [contact] = case["isp_contacts"]
    assert contact["isp"] == "isp-telkom"
    assert contact["isp_name"] == "PT Telkom Indonesia (Telkom Astinet (uplink Internet))"
    assert contact["contact"] == "+62 21 5550 0101 / noc@isp-telkom.example"
    clock.advance(hours=1)
    recheck = act(client, tech, alert_case, "rechecks", connected=False, note="masih mati")
    assert recheck.get_json()["state"] == "isp_escalated"
    assert recheck.get_json()["isp_wait_seconds"] == 3600
    clock.advance(hours=1)
    restored = act(client, tech, alert_case, "rechecks", connected=True).get_json()
    assert restored["state"] == "restored"
    assert restored["restored_at"] == clock().isoformat()
    assert restored["isp_wait_seconds"] == 1.5 * 3600  # 10:40 → 12:40 WIB, less the lunch break
    report = act(
        client,
        tech,
        alert_case,
        "report",
        cause="Gangguan jaringan ISP",
        actions="Eskalasi ke Telkom",
        isp_part="Perbaikan kabel FO",
    ).get_json()
    assert report["state"] == "report_written"
    assert report["report"]["duration_working_seconds"] == report["working_seconds_elapsed"]
    closed = act(client, tech, alert_case, "close", reported_to="Operator Setda via telepon").get_json()
    assert closed["state"] == "closed"
    assert closed["closed_at"] == clock().isoformat()
    kinds = [(e["kind"], e["from_state"], e["to_state"], e["actor"]) for e in closed["timeline"]]
    assert kinds[0] == ("opened", None, "received", "alertmanager")
    assert ("dispose", "received", "dispositioned", head.username) in kinds
    assert ("escalate_isp", "checking", "isp_escalated", tech.username) in kinds
    assert ("record_recheck", "isp_escalated", "restored", tech.username) in kinds
    assert kinds[-1] == ("close", "report_written", "closed", tech.username)
    assert [c["check"] for c in closed["checks"]] == ["physical", "monitoring", "dns", "connectivity"]
    assert all(c["by"] == tech.username and c["at"] for c in closed["checks"])


def test_refusals_say_why_with_the_right_status(client: Any, staff: dict, alert_case: int) -> None:
    answer = act(client, staff["tech"], alert_case, "dispose", technician_ids=[staff["tech"].id])
    assert answer.status_code == 403
    assert "head" in answer.get_json()["error"] and answer.get_json()["code"] == "head_only"
    answer = act(client, staff["head"], alert_case, "close", reported_to="x")
    assert answer.status_code == 409
    assert "state 'received'" in answer.get_json()["error"] and answer.get_json()["code"] == "state"
    answer = act(client, staff["head"], alert_case, "dispose", technician_ids=[staff["viewer"].id])
    assert answer.status_code == 400 and answer.get_json()["field"] == "technician_ids"
    assert (
        act(client, staff["head"], alert_case, "dispose", technician_ids=[staff["tech"].id]).status_code
        == 200
    )
    answer = act(client, staff["other"], alert_case, "start-checks")
    assert answer.status_code == 403 and "not assigned" in answer.get_json()["error"]
    assert act(client, staff["viewer"], alert_case, "comments", note="hi").status_code == 403
    assert act(client, staff["tech"], alert_case, "start-checks").status_code == 200
    answer = act(client, staff["tech"], alert_case, "restore")
    assert answer.status_code == 409 and "not complete" in answer.get_json()["error"]
    assert answer.get_json()["code"] == "checks_incomplete"
    assert client.post(f"/api/v1/cases/{alert_case}/restore", json={}, headers=HEADERS).status_code == 403
    assert client.post(f"/api/v1/cases/{alert_case}/restore", json={}).status_code == 401
    assert act(client, staff["tech"], 999, "restore").status_code == 404
    answer = client.post(f"/api/v1/cases/{alert_case}/comments", data="x", headers=staff["tech"].headers)
    assert answer.status_code == 415
    events = client.get(f"/api/v1/cases/{alert_case}/timeline", headers=HEADERS).get_json()["events"]
    assert [e["kind"] for e in events] == ["opened", "alert_firing", "dispose", "start_checks"]


def test_actions_endpoint_lists_what_the_caller_may_do(client: Any, staff: dict, alert_case: int) -> None:
    def actions(user: Any) -> list[str]:
        return client.get(f"/api/v1/cases/{alert_case}/actions", headers=user.headers).get_json()["actions"]

    assert actions(staff["head"]) == ["dispose", "add_letter"]
    assert actions(staff["tech"]) == ["add_letter"]
    assert actions(staff["viewer"]) == []


def test_restore_with_entered_time_and_reopen_back_to_checking(
    client: Any, clock: Any, staff: dict, alert_case: int
) -> None:
    head, tech = staff["head"], staff["tech"]
    act(client, head, alert_case, "dispose", technician_ids=[tech.id])
    act(client, tech, alert_case, "start-checks")
    for check in ("physical", "monitoring", "dns", "connectivity"):
        act(client, tech, alert_case, "checks", check=check, result="ok")
    clock.advance(hours=2)
    deliver(client, "resolved")
    answer = act(client, tech, alert_case, "restore", restored_at="2026-11-30T10:30:00")
    assert answer.status_code == 400 and answer.get_json()["field"] == "restored_at"
    restored = act(client, tech, alert_case, "restore", restored_at="2026-11-30T10:30:00+07:00").get_json()
    assert restored["restored_at"] == "2026-11-30T03:30:00+00:00"
    assert restored["state"] == "restored"
    deliver(client, "flap_second_firing")  # a new episode within the reopen window
    case = client.get(f"/api/v1/cases/{alert_case}", headers=HEADERS).get_json()
    assert case["state"] == "checking" and case["flap_count"] == 1
    assert case["check_round"] == 2 and case["restored_at"] is None


def test_letter_opens_a_case_and_joins_an_open_alert_case(client: Any, clock: Any, staff: dict) -> None:
    clock.advance(hours=7)  # Monday 17:00 WIB: the letter came in after closing
    answer = client.post(
        "/api/v1/cases",
        json={**LETTER, "received_at": "2026-11-30T16:30:00+07:00"},
        headers=staff["tech"].headers,
    )
    assert answer.status_code == 201, answer.get_json()
    case = answer.get_json()
    assert case["source"] == "letter" and case["target"] == "setda"
    assert case["received_at"] == "2026-11-30T09:30:00+00:00"
    assert case["target_deadline"] == "2026-12-02T08:45:00+00:00"  # after closing: day 1 is Tuesday
    assert case["letters"][0]["number"] == "005/123/2026"
    deliver(client, "core_down")  # dist-sw1, upstream of bappeda
    core = next(c for c in cases(client) if c["target"] == "dist-sw1")
    joined = client.post(
        "/api/v1/cases",
        json={**LETTER, "opd": "bappeda", "letter_number": "7/2026"},
        headers=staff["head"].headers,
    ).get_json()
    assert joined["id"] == core["id"]
    assert "bappeda" in joined["affected_targets"]
    assert len(cases(client)) == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"opd": "nowhere"}, "opd"),
        ({"letter_date": "29/11/2026"}, "letter_date"),
        ({"reporter": ""}, "reporter"),
        ({"received_at": "2026-11-30 10:00"}, "received_at"),
        ({"letter_number": 5}, "letter_number"),
    ],
)
def test_letter_validation_names_the_field(client: Any, staff: dict, change: dict, field: str) -> None:
    answer = client.post("/api/v1/cases", json={**LETTER, **change}, headers=staff["tech"].headers)
    assert answer.status_code == 400
    assert answer.get_json()["field"] == field
    assert cases(client) == []


def test_letters_need_a_person(client: Any, staff: dict) -> None:
    assert client.post("/api/v1/cases", json=LETTER, headers=HEADERS).status_code == 403
    assert client.post("/api/v1/cases", json=LETTER, headers=staff["viewer"].headers).status_code == 403
    assert cases(client) == []


def test_multipart_letter_with_scan(client: Any, staff: dict) -> None:
    from io import BytesIO

    answer = client.post(
        "/api/v1/letters",
        data={**LETTER, "file": (BytesIO(PDF), "surat.pdf")},
        headers=staff["tech"].headers,
        content_type="multipart/form-data",
    )
    assert answer.status_code == 201, answer.get_json()
    [letter] = answer.get_json()["letters"]
    assert letter["file_mime"] == "application/pdf"
    scan = client.get(letter["file_url"], headers=HEADERS)
    assert scan.status_code == 200 and scan.data == PDF and scan.mimetype == "application/pdf"
    image = client.post(
        "/api/v1/letters",
        data={**LETTER, "file": (BytesIO(PNG), "surat.png")},
        headers=staff["tech"].headers,
        content_type="multipart/form-data",
    )
    assert image.get_json()["letters"][-1]["file_mime"] == "image/png"


def test_multipart_letter_type_and_size_are_checked(app_config: dict) -> None:
    from io import BytesIO

    from alert_webhook import create_app
    from alert_webhook.extension import tracker_of
    from alert_webhook.services import accounts

    app = create_app({**app_config, "BATIKNET_MAX_LETTER_BYTES": 100})
    try:
        client = app.test_client()
        accounts.create_user(tracker_of(app), "andi", "Andi", "technician", "pw-andi-secret")
        headers = {"Authorization": f"Bearer {accounts.issue_api_token(tracker_of(app), 'andi')}"}
        fake = client.post(
            "/api/v1/letters",
            data={**LETTER, "file": (BytesIO(b"MZ\x90\x00evil"), "surat.pdf")},
            headers=headers,
            content_type="multipart/form-data",
        )
        assert fake.status_code == 415 and fake.get_json()["field"] == "file"
        big = client.post(
            "/api/v1/letters",
            data={**LETTER, "file": (BytesIO(PDF + b"0" * 200), "surat.pdf")},
            headers=headers,
            content_type="multipart/form-data",
        )
        assert big.status_code == 413
        assert cases(client) == []
    finally:
        tracker_of(app).db.dispose()


def test_list_filters(client: Any, clock: Any, staff: dict) -> None:
    deliver(client, "firing")
    deliver(client, "isp_path_opd")
    client.post("/api/v1/cases", json={**LETTER, "opd": "dinkes"}, headers=staff["tech"].headers)
    setda = next(c for c in cases(client) if c["target"] == "setda")
    act(client, staff["head"], setda["id"], "dispose", technicians=[staff["tech"].username])
    assert [c["target"] for c in cases(client, state="dispositioned")] == ["setda"]
    assert [c["target"] for c in cases(client, technician=staff["tech"].username)] == ["setda"]
    assert [c["target"] for c in cases(client, opd="kec-barat")] == ["kec-barat"]
    assert [c["target"] for c in cases(client, source="letter")] == ["dinkes"]
    assert cases(client, overdue="true") == []
    clock.advance(days=2)  # Wednesday 10:00 WIB: past Tuesday 15:45
    assert len(cases(client, overdue="true")) == 3
    assert all(c["overdue"] and not c["past_maximum"] for c in cases(client))
    page = client.get("/api/v1/cases", query_string={"limit": 2, "offset": 1}, headers=HEADERS).get_json()
    assert page["total"] == 3 and len(page["cases"]) == 2
    bad = client.get("/api/v1/cases", query_string={"limit": 0}, headers=HEADERS)
    assert bad.status_code == 400 and bad.get_json()["field"] == "limit"
    assert client.get("/api/v1/cases").status_code == 401


def test_session_cookie_reads_but_never_writes(client: Any, staff: dict, login: Any, alert_case: int) -> None:
    assert login(staff["head"]).status_code in (302, 303)
    assert client.get("/api/v1/cases").status_code == 200
    answer = client.post(f"/api/v1/cases/{alert_case}/dispose", json={"technician_ids": [staff["tech"].id]})
    assert answer.status_code == 401


def test_complaint_escalation_is_timed(client: Any, clock: Any, staff: dict, alert_case: int) -> None:
    officer = staff["head"]  # the head records complaints and their steps (alert_webhook/core/complaints.py)
    filed = client.post(
        "/api/v1/complaints",
        json={"complainant": "Pak Joko", "description": "lambat", "case_id": alert_case},
        headers=officer.headers,
    )
    assert filed.status_code == 201
    complaint_id = filed.get_json()["id"]
    clock.advance(minutes=30)
    responded = client.post(
        f"/api/v1/complaints/{complaint_id}/respond",
        json={"response": "sedang ditangani", "solved": False},
        headers=officer.headers,
    )
    assert responded.get_json()["response_working_seconds"] == 1800
    escalated = client.post(
        f"/api/v1/complaints/{complaint_id}/escalate",
        json={"official_name": "Kepala Bidang"},
        headers=officer.headers,
    ).get_json()
    assert escalated["state"] == "escalated"
    clock.advance(hours=1)
    resolved = client.post(
        f"/api/v1/complaints/{complaint_id}/resolve",
        json={"resolution": "selesai"},
        headers=staff["head"].headers,
    ).get_json()
    assert resolved["state"] == "resolved" and resolved["resolved_by"] == "official"
    assert resolved["resolution_working_seconds"] == 5400
    again = client.post(
        f"/api/v1/complaints/{complaint_id}/resolve", json={"resolution": "x"}, headers=staff["head"].headers
    )
    assert again.status_code == 409
    listed = client.get("/api/v1/complaints", query_string={"case_id": alert_case}, headers=HEADERS)
    assert [c["id"] for c in listed.get_json()["complaints"]] == [complaint_id]


def test_metrics_follow_the_cases(client: Any, clock: Any, staff: dict, alert_case: int) -> None:
    head, tech = staff["head"], staff["tech"]
    clock.advance(hours=1)
    act(client, head, alert_case, "dispose", technician_ids=[tech.id])
    act(client, tech, alert_case, "start-checks")
    for check in ("physical", "monitoring", "dns", "connectivity"):
        act(client, tech, alert_case, "checks", check=check, result="ok")
    act(client, tech, alert_case, "restore")
    client.post("/api/v1/cases", json={**LETTER, "opd": "kec-barat"}, headers=tech.headers)
    text = scrape(client)
    assert metric_value(text, "batiknet_cases", state="restored") == 1
    assert metric_value(text, "batiknet_cases", state="received") == 1
    assert metric_value(text, "batiknet_cases_opened_total", source="alert") == 1
    assert metric_value(text, "batiknet_cases_opened_total", source="letter") == 1
    assert metric_value(text, "batiknet_cases_closed_total") == 0
    assert (
        metric_value(
            text, "batiknet_case_open_info", case_id=str(alert_case), target="setda", state="restored"
        )
        == 1
    )
    assert metric_value(text, "batiknet_case_disposition_working_seconds_count") == 1
    assert metric_value(text, "batiknet_case_disposition_working_seconds_sum") == 3600
    assert metric_value(text, "batiknet_case_disposition_working_seconds_bucket", le="1800.0") == 0
    assert metric_value(text, "batiknet_case_disposition_working_seconds_bucket", le="3600.0") == 1
    assert metric_value(text, "batiknet_case_restore_working_seconds_count", isp="isp-telkom") == 1
    assert (
        metric_value(text, "batiknet_cases_restored_total", technician=tech.username, isp="isp-telkom") == 1
    )
    assert metric_value(text, "batiknet_cases_completed_total", technician=tech.username) is None
    assert metric_value(text, "batiknet_cases_overdue", deadline="target") == 0
    clock.advance(days=7)
    text = scrape(client)
    assert metric_value(text, "batiknet_cases_overdue", deadline="target") == 2
    assert metric_value(text, "batiknet_cases_overdue", deadline="maximum") == 2
    act(client, tech, alert_case, "report", cause="ISP", actions="Koordinasi")
    act(client, tech, alert_case, "close", reported_to="Operator Setda")
    text = scrape(client)
    # Restored within the hour, completed a week later: late, measured at the completion.
    completed = {"technician": tech.username, "isp": "isp-telkom"}
    assert metric_value(text, "batiknet_cases_completed_total", **completed, within="late") == 1
    assert metric_value(text, "batiknet_cases_overdue", deadline="target") == 1
