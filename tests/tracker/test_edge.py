"""Server errors where a 4xx is due (issue 11), and enumerations at the edge (issue 11 item 2), on SQLite and
PostgreSQL: each class of odd input is answered once, at the request's edge, for the API and the pages.

The API answers JSON of its one error shape, the pages their error page in the reader's language; nothing
is written by a refused request.
"""

from __future__ import annotations

import io
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from alert_webhook.core.instants import YEAR_PATTERN, YEARS, within_reach
from alert_webhook.extension import tracker_of
from alert_webhook.services import casework
from alert_webhook.store.models import Case, Complaint, User
from tests.tracker import test_cases_api
from tests.tracker.test_alerts_api import HEADERS, cases, deliver
from tests.tracker.test_cases_api import LETTER, PDF

staff = test_cases_api.staff  # the fixture: admin, head, technicians, viewer

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
BIG = 2**63
CALENDAR_EDGES = ("9999-12-31T23:59:59-10:00", "0001-01-01T00:00:00+10:00", "9999-12-31T23:30:00+00:00")


@pytest.fixture
def raw_client(app: Any) -> Any:
    """A client that does not check answers against the OpenAPI document (routes no document describes)."""
    from flask.testing import FlaskClient

    app.test_client_class = FlaskClient
    return app.test_client()


@pytest.fixture
def alert_case(client: Any) -> int:
    deliver(client, "firing")
    return cases(client)[0]["id"]


def signed_in(client: Any, login: Any, user: Any) -> str:
    """Sign in; returns a CSRF token of the session."""
    login(user)
    return CSRF.search(client.get("/cases").get_data(as_text=True))[1]


def is_page(answer: Any, status: int) -> bool:
    return answer.status_code == status and answer.mimetype == "text/html"


def is_json_error(answer: Any, status: int) -> bool:
    return (
        answer.status_code == status
        and answer.mimetype == "application/json"
        and "error" in answer.get_json()
    )


# --- JSON bodies ------------------------------------------------------------------------------------------


def test_deeply_nested_json_is_a_400(client: Any, staff: dict, alert_case: int) -> None:
    deep = "[" * 100_000 + "]" * 100_000
    for path, headers in (
        (f"/api/v1/cases/{alert_case}/comments", staff["tech"].headers),
        ("/api/v1/alerts", HEADERS),
    ):
        answer = client.post(path, data=deep, content_type="application/json", headers=headers)
        assert is_json_error(answer, 400) and answer.get_json()["field"] == "(body)", path


def test_a_lone_surrogate_in_a_json_body_is_a_400(client: Any, staff: dict, alert_case: int) -> None:
    body = '{"note": "rusak \\udc80"}'
    answer = client.post(
        f"/api/v1/cases/{alert_case}/comments",
        data=body,
        content_type="application/json",
        headers=staff["head"].headers,
    )
    assert is_json_error(answer, 400)
    assert len(client.get(f"/api/v1/cases/{alert_case}/timeline", headers=HEADERS).get_json()["events"]) == 2


# --- instants at the calendar's edges ---------------------------------------------------------------------


@pytest.mark.parametrize("instant", CALENDAR_EDGES)
def test_an_instant_the_calendar_cannot_hold_is_a_400_naming_the_field(
    client: Any, staff: dict, instant: str
) -> None:
    answer = client.post(
        "/api/v1/cases", json={**LETTER, "received_at": instant}, headers=staff["tech"].headers
    )
    assert is_json_error(answer, 400) and answer.get_json()["field"] == "received_at"
    assert cases(client) == []


def test_the_documented_years_are_the_years_within_reach() -> None:
    """The OpenAPI document's pattern and the edge's rule say the same; the edge's extremes, with the
    largest offsets, still convert to UTC and leave weeks for the clock."""
    pattern = re.compile(YEAR_PATTERN)
    for year in range(1, 10_000):
        written = datetime(year, 6, 1, tzinfo=UTC)
        assert bool(pattern.match(f"{year:04d}-06-01T00:00:00Z")) == within_reach(written), year
    utmost = timedelta(hours=23, minutes=59)
    first = datetime(YEARS[0], 1, 1, tzinfo=timezone(utmost))
    last = datetime(YEARS[1], 12, 31, 23, 59, tzinfo=timezone(-utmost))
    assert within_reach(first) and within_reach(last)
    assert first.astimezone(UTC) - timedelta(weeks=26) < last.astimezone(UTC) + timedelta(weeks=26)


@pytest.mark.parametrize("typed", ["0001-01-01T00:00", "9999-12-31T23:59"])
def test_a_time_the_calendar_cannot_hold_is_refused_on_the_page(
    client: Any, login: Any, staff: dict, typed: str
) -> None:
    token = signed_in(client, login, staff["tech"])
    form = {"number": "1/2026", "letter_date": "2026-11-29", "opd": "setda", "reporter": "Sari"}
    answer = client.post(
        "/letters/new?lang=en",
        data={**form, "description": "mati", "received_at": typed, "csrf_token": token},
    )
    assert is_page(answer, 400)
    assert "This time lies outside the range that can be processed." in answer.get_data(as_text=True)
    assert cases(client) == []


# --- ids too large for the database ---------------------------------------------------------------------


@pytest.mark.parametrize("path", [f"/cases/{BIG}", f"/cases/{BIG}/report", f"/letters/{2**64}/scan"])
def test_an_id_beyond_the_databases_integer_is_a_404_page(
    client: Any, login: Any, staff: dict, path: str
) -> None:
    signed_in(client, login, staff["head"])
    assert is_page(client.get(path), 404)


def test_a_number_beyond_the_databases_integer_in_a_query_is_a_4xx_page(
    client: Any, login: Any, staff: dict
) -> None:
    signed_in(client, login, staff["head"])
    assert is_page(client.get("/cases?page=" + "9" * 20), 400)


def test_a_complaint_about_a_case_id_beyond_the_integer_is_refused_on_the_page(
    client: Any, login: Any, staff: dict
) -> None:
    token = signed_in(client, login, staff["head"])
    form = {"new-complainant": "Pak Budi", "new-description": "lambat", "new-channel": "direct"}
    answer = client.post("/complaints", data={**form, "new-case_id": str(BIG), "csrf_token": token})
    assert is_page(answer, 400)
    assert client.get("/api/v1/complaints", headers=HEADERS).get_json()["complaints"] == []


# --- text the database cannot hold ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"letter_number": "n" * 101}, "letter_number"),
        ({"reporter": "r" * 201}, "reporter"),
        ({"opd": "o" * 65}, "opd"),
    ],
)
def test_a_text_longer_than_its_column_is_a_400_naming_it(
    client: Any, staff: dict, change: dict, field: str
) -> None:
    answer = client.post("/api/v1/cases", json={**LETTER, **change}, headers=staff["tech"].headers)
    assert is_json_error(answer, 400) and answer.get_json()["field"] == field


def test_a_complainant_longer_than_its_column_is_refused_on_both_edges(
    client: Any, login: Any, staff: dict
) -> None:
    answer = client.post(
        "/api/v1/complaints",
        json={"complainant": "a" * 201, "description": "b"},
        headers=staff["head"].headers,
    )
    assert is_json_error(answer, 400) and answer.get_json()["field"] == "complainant"
    token = signed_in(client, login, staff["head"])
    form = {
        "new-complainant": "a" * 201,
        "new-description": "b",
        "new-channel": "direct",
        "csrf_token": token,
    }
    assert is_page(client.post("/complaints", data=form), 400)
    assert client.get("/api/v1/complaints", headers=HEADERS).get_json()["complaints"] == []


def test_a_nul_in_a_form_field_is_a_400_page_and_nothing_is_written(
    client: Any, login: Any, staff: dict, alert_case: int
) -> None:
    token = signed_in(client, login, staff["head"])
    answer = client.post(
        f"/cases/{alert_case}/comments", data={"comment-note": "a\x00b", "csrf_token": token}
    )
    assert is_page(answer, 400)
    assert len(client.get(f"/api/v1/cases/{alert_case}/timeline", headers=HEADERS).get_json()["events"]) == 2


def test_a_form_field_without_a_readable_name_is_a_400(client: Any, login: Any, staff: dict) -> None:
    """A part named by a bare CR (found by the schemathesis fuzz): werkzeug reads its name as None."""
    body = b'--XX\r\nContent-Disposition: form-data; name="\r"\r\n\r\nnull\r\n--XX--\r\n'
    multipart = "multipart/form-data; boundary=XX"
    headers = {**staff["tech"].headers, "Content-Type": multipart}
    answer = client.post("/api/v1/letters", data=body, headers=headers)
    assert is_json_error(answer, 400) and answer.get_json()["field"] == "(form)"
    signed_in(client, login, staff["tech"])
    assert is_page(client.post("/letters/new", data=body, headers={"Content-Type": multipart}), 400)
    assert cases(client) == []


def test_a_nul_in_a_query_is_a_400_page(client: Any, login: Any, staff: dict) -> None:
    signed_in(client, login, staff["head"])
    assert is_page(client.get("/cases?opd=set%00da"), 400)


def test_a_file_name_with_a_nul_is_a_400(client: Any, staff: dict) -> None:
    form = {**LETTER, "file": (io.BytesIO(PDF), "surat\x00.pdf")}
    answer = client.post(
        "/api/v1/letters", data=form, content_type="multipart/form-data", headers=staff["tech"].headers
    )
    assert is_json_error(answer, 400) and answer.get_json()["field"] == "file"
    assert cases(client) == []


def test_a_file_name_beyond_latin_1_is_kept_and_served(client: Any, login: Any, staff: dict) -> None:
    name = "surat ḍaerah 公文.pdf"
    form = {**LETTER, "file": (io.BytesIO(PDF), name)}
    created = client.post(
        "/api/v1/letters", data=form, content_type="multipart/form-data", headers=staff["tech"].headers
    )
    assert created.status_code == 201, created.get_json()
    letter_id = created.get_json()["letters"][0]["id"]
    api = client.get(f"/api/v1/letters/{letter_id}/file", headers=HEADERS)
    assert api.status_code == 200 and api.data == PDF
    assert "filename*=UTF-8''" in api.headers["Content-Disposition"]
    signed_in(client, login, staff["tech"])
    page = client.get(f"/letters/{letter_id}/scan")
    assert (
        page.status_code == 200 and page.headers["Content-Disposition"] == api.headers["Content-Disposition"]
    )


# --- the pages: a missing case, a body too large, the database away ---------------------------------------


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/cases/424242/comments", {"comment-note": "halo"}),
        ("/cases/424242/actions/start_checks", {}),
        ("/cases/424242/checks/dns", {"check-dns-result": "ok"}),
        ("/complaints/424242/resolve", {"c424242-resolve-resolution": "selesai"}),
    ],
)
def test_a_form_posted_to_a_missing_case_is_a_404_page(
    client: Any, login: Any, staff: dict, path: str, form: dict
) -> None:
    token = signed_in(client, login, staff["head"])
    assert is_page(client.post(path, data={**form, "csrf_token": token}), 404)


def test_a_body_over_the_limit_is_json_on_the_api_and_a_page_elsewhere(
    raw_client: Any, login: Any, staff: dict
) -> None:
    big = b"x" * (11 << 20)  # over the letter limit, the largest body the tracker takes
    for path in ("/api/v1/letters", "/api/v1/no-such-path"):
        answer = raw_client.post(
            path, data=big, content_type="multipart/form-data; boundary=x", headers=staff["tech"].headers
        )
        assert is_json_error(answer, 413), path
    answer = raw_client.post("/letters/new", data=big, content_type="application/x-www-form-urlencoded")
    assert is_page(answer, 413)


def test_unknown_api_paths_and_methods_answer_json(raw_client: Any) -> None:
    assert is_json_error(raw_client.get("/api/v1/nothing", headers=HEADERS), 404)
    assert is_json_error(raw_client.put("/api/v1/cases", headers=HEADERS), 405)


def _database_locked(monkeypatch: Any) -> None:
    def locked(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("UPDATE cases ...", {}, Exception("database is locked"))

    monkeypatch.setattr(casework, "add_comment", locked)


def test_the_database_locked_is_a_503_page_in_the_readers_language(
    client: Any, login: Any, staff: dict, alert_case: int, monkeypatch: Any
) -> None:
    token = signed_in(client, login, staff["head"])
    _database_locked(monkeypatch)
    answer = client.post(
        f"/cases/{alert_case}/comments?lang=id", data={"comment-note": "x", "csrf_token": token}
    )
    assert is_page(answer, 503) and answer.headers["Retry-After"]
    assert "Basis data sedang tidak dapat diakses" in answer.get_data(as_text=True)
    api = client.post(
        f"/api/v1/cases/{alert_case}/comments", json={"note": "x"}, headers=staff["head"].headers
    )
    assert is_json_error(api, 503) and api.headers["Retry-After"]


def test_a_sqlite_database_held_by_another_writer_is_a_503_page(
    client: Any, login: Any, staff: dict, alert_case: int, monkeypatch: Any, database_url: str
) -> None:
    """The real thing on SQLite: another process holds the write lock past the busy timeout."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's write lock; PostgreSQL's unavailability is the test above")
    import sqlite3

    token = signed_in(client, login, staff["head"])
    tracker = tracker_of(client.application)
    tracker.db.dispose()
    monkeypatch.setattr("alert_webhook.store.db.SQLITE_BUSY_TIMEOUT_MS", 200)
    from alert_webhook.store.db import Database

    tracker.db = Database.connect(database_url)
    holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        answer = client.post(f"/cases/{alert_case}/comments", data={"comment-note": "x", "csrf_token": token})
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert is_page(answer, 503) and answer.headers["Retry-After"]


# --- enumerations at the edge; a stored value never breaks a page ---------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/complaints", {"complainant": "a", "description": "b", "channel": "pigeon"}, "channel"),
        ("/api/v1/cases/{case}/checks", {"check": "smell", "result": "ok"}, "check"),
        ("/api/v1/cases/{case}/checks", {"check": "dns", "result": "meh"}, "result"),
    ],
)
def test_an_unknown_word_in_a_body_is_a_400_naming_it(
    client: Any, staff: dict, alert_case: int, path: str, body: dict, field: str
) -> None:
    answer = client.post(path.format(case=alert_case), json=body, headers=staff["head"].headers)
    assert is_json_error(answer, 400) and answer.get_json()["field"] == field


@pytest.mark.parametrize(("name", "value"), [("state", "limbo"), ("source", "pigeon")])
def test_an_unknown_word_in_a_query_is_a_400_naming_it(client: Any, name: str, value: str) -> None:
    answer = client.get("/api/v1/cases", query_string={name: value}, headers=HEADERS)
    assert is_json_error(answer, 400) and answer.get_json()["field"] == name


@pytest.mark.parametrize(
    ("path", "form"),
    [
        ("/complaints", {"new-complainant": "a", "new-description": "b", "new-channel": "pigeon"}),
        ("/cases/{case}/checks/dns", {"check-dns-result": "meh"}),
        (
            "/admin/users",
            {"new-username": "x", "new-display_name": "X", "new-role": "king", "new-password": "12345678"},
        ),
    ],
)
def test_an_unknown_word_in_a_page_form_is_a_400_and_nothing_is_written(
    client: Any, login: Any, staff: dict, alert_case: int, path: str, form: dict
) -> None:
    token = signed_in(client, login, staff["admin"])
    answer = client.post(path.format(case=alert_case), data={**form, "csrf_token": token})
    assert is_page(answer, 400)
    assert client.get("/api/v1/complaints", headers=HEADERS).get_json()["complaints"] == []


def test_an_unknown_stored_word_is_shown_as_itself_never_a_500(
    app: Any, client: Any, login: Any, staff: dict, alert_case: int
) -> None:
    """Values written by an older or newer version, or by hand: every page still renders."""
    head = staff["head"]
    client.post(
        "/api/v1/complaints", json={"complainant": "Pak Budi", "description": "lambat"}, headers=head.headers
    )
    with tracker_of(app).db.write() as session:
        session.execute(update(Complaint).values(channel="merpati", state="ditunda", resolved_by="lurah"))
        session.execute(update(Case).values(state="menunggu", source="sms"))
        session.execute(update(User).where(User.id == staff["viewer"].id).values(role="auditor"))
    signed_in(client, login, staff["admin"])
    for path in (
        "/complaints",
        "/cases",
        f"/cases/{alert_case}",
        "/noc",
        f"/cases/{alert_case}/report",
        "/admin/users",
    ):
        answer = client.get(path)
        assert answer.status_code in (200, 302), path  # the report page sends back a case without one
    text = client.get("/complaints").get_data(as_text=True)
    assert "merpati" in text and "ditunda" in text
    assert "menunggu" in client.get(f"/cases/{alert_case}").get_data(as_text=True)
    assert "auditor" in client.get("/admin/users").get_data(as_text=True)
