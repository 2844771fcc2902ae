"""Rules that used to be computed twice, now one function each and seen the same from the API and the
pages: the chart window, the scanned letter's type and size, who may act on a complaint. And a bad query
parameter is a 400 that names it."""

from __future__ import annotations

import io
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

import pytest

from alert_webhook import create_app
from alert_webhook.core import complaints as policy
from alert_webhook.core.chart import window_around
from alert_webhook.extension import tracker_of
from alert_webhook.services import cases
from tests.tracker.test_alerts_api import HEADERS, deliver
from tests.tracker.test_pages import (
    CSRF,
    PDF,
    FakePrometheus,
    fake_prometheus,  # noqa: F401 (a fixture)
    letter_form,
    submit,
)

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def sign_in(client: Any, user: Any) -> None:
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    data = {"username": user.username, "password": user.password, "csrf_token": token}
    assert client.post("/login", data=data).status_code == 302


# --- the chart window --------------------------------------------------------------------------------


@pytest.fixture
def app_config(app_config: dict[str, Any], fake_prometheus: str) -> dict[str, Any]:  # noqa: F811
    return {**app_config, "BATIKNET_PROMETHEUS_URL": fake_prometheus}


def test_the_api_and_the_page_chart_the_same_window(app, client, clock, make_user):
    deliver(client, "firing")
    clock.advance(hours=1)
    deliver(client, "resolved")
    clock.advance(hours=3)  # long after the recovery: the window ends half an hour after it
    [summary] = cases.list_cases(tracker_of(app)).items
    case = cases.get_case(tracker_of(app), summary.id)
    start, end = window_around(case.received_at, case.network_restored_at, clock())
    assert end == case.network_restored_at + timedelta(minutes=30)

    chart = client.get(f"/api/v1/cases/{case.id}/chart", headers=HEADERS).get_json()
    assert (chart["start"], chart["end"]) == (start.isoformat(), end.isoformat())

    FakePrometheus.query_strings.clear()
    sign_in(client, make_user("viewer"))
    assert '<svg class="chart"' in client.get(f"/cases/{case.id}").get_data(as_text=True)
    asked = {
        (float(params["start"][0]), float(params["end"][0]))
        for params in map(parse_qs, FakePrometheus.query_strings)
        if "step" in params
    }
    assert asked == {(start.timestamp(), end.timestamp())}


# --- the scanned letter ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "claimed", "kept_as"),
    [
        (PDF, "application/pdf", "application/pdf"),
        (PDF, "application/octet-stream", "application/pdf"),  # a browser that does not know the type
        (PNG, "application/pdf", "image/png"),  # the content decides, not the claim
        (b"MZ\x90\x00 a program", "application/pdf", None),
    ],
)
def test_a_scan_is_judged_by_its_content_alike_on_the_page_and_the_api(
    app, client, make_user, content, claimed, kept_as
):
    tech = make_user("technician")
    sign_in(client, tech)
    page = submit(
        client, "/letters/new", {**letter_form(), "scan": (io.BytesIO(content), "surat.pdf", claimed)}
    )
    fields = {k: v for k, v in letter_form(number="2/API").items() if k != "csrf_token"}
    api = client.post(
        "/api/v1/letters",
        data={
            "opd": fields["opd"],
            "letter_number": fields["number"],
            "letter_date": fields["letter_date"],
            "reporter": fields["reporter"],
            "description": fields["description"],
            "file": (io.BytesIO(content), "surat.pdf", claimed),
        },
        headers=tech.headers,
        content_type="multipart/form-data",
    )
    if kept_as is None:
        assert page.status_code == 400 and api.status_code == 415
        assert cases.list_cases(tracker_of(app), count_total=True).total == 0
        return
    assert page.status_code == 302 and api.status_code == 201, api.get_json()
    kept = [letter["file_mime"] for letter in api.get_json()["letters"]]
    assert kept == [kept_as, kept_as]  # the page's letter and the API's joined one case


def test_the_size_limit_is_the_same_on_the_page_and_the_api(app_config, make_user):
    app = create_app({**app_config, "BATIKNET_MAX_LETTER_BYTES": len(PDF) + 10})
    try:
        from alert_webhook.services import accounts

        accounts.create_user(tracker_of(app), "andi", "Andi", "technician", "pw-andi-secret")
        token = accounts.issue_api_token(tracker_of(app), "andi")
        client = app.test_client()
        user = type("U", (), {"username": "andi", "password": "pw-andi-secret"})
        sign_in(client, user)
        for size, ok in ((len(PDF) + 10, True), (len(PDF) + 11, False)):
            scan = PDF + b" " * (size - len(PDF))
            page = submit(client, "/letters/new", {**letter_form(), "scan": (io.BytesIO(scan), "s.pdf")})
            api = client.post(
                "/api/v1/letters",
                data={
                    "opd": "dinkes",
                    "letter_number": "9/2026",
                    "letter_date": "2026-11-30",
                    "reporter": "x",
                    "description": "y",
                    "file": (io.BytesIO(scan), "s.pdf"),
                },
                headers={"Authorization": f"Bearer {token}"},
                content_type="multipart/form-data",
            )
            assert (page.status_code == 302) is ok and (api.status_code == 201) is ok
            if not ok:
                assert page.status_code == 400 and api.status_code == 413
    finally:
        tracker_of(app).db.dispose()


# --- who may act on a complaint ------------------------------------------------------------------------


def test_one_complaint_policy_for_the_api_and_the_pages(app, client, make_user):
    head, tech, viewer, admin = (make_user(role) for role in ("head", "technician", "viewer", "admin"))
    complaint = {"complainant": "Pak Joko", "description": "lambat"}
    for user in (tech, viewer):
        assert not policy.may_handle(user.role)
        refused = client.post("/api/v1/complaints", json=complaint, headers=user.headers)
        assert refused.status_code == 403, refused.get_json()
    filed = client.post("/api/v1/complaints", json=complaint, headers=head.headers)
    assert filed.status_code == 201
    step = client.post(
        f"/api/v1/complaints/{filed.get_json()['id']}/respond",
        json={"response": "sedang dicek", "solved": False},
        headers=tech.headers,
    )
    assert step.status_code == 403 and step.get_json()["code"] == "head_only"
    assert client.post("/api/v1/complaints", json=complaint, headers=admin.headers).status_code == 201
    for user, status in ((tech, 403), (viewer, 403), (head, 200), (admin, 200)):
        page_client = app.test_client()
        sign_in(page_client, user)
        assert page_client.get("/complaints").status_code == status


# --- a bad query parameter -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/complaints?case_id=abc", "case_id"),
        ("/api/v1/cases?limit=many", "limit"),
        ("/api/v1/cases?overdue=perhaps", "overdue"),
    ],
)
def test_a_bad_query_parameter_is_a_400_naming_it(client, path, field):
    answer = client.get(path, headers=HEADERS)
    assert answer.status_code == 400 and answer.get_json()["field"] == field
