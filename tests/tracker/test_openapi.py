"""The API's OpenAPI document: generated from the models, valid OpenAPI 3.1, complete, and true.

Every answer the API tests receive is also checked against the document as it arrives (the fixtures'
client is :class:`~tests.tracker.openapi_conformance.ConformingClient`); here: the document itself.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from tests.tracker.openapi_conformance import Conformance
from tests.tracker.test_alerts_api import HEADERS

PAYLOADS = Path(__file__).with_name("payloads")


@pytest.fixture
def document(client: Any) -> dict[str, Any]:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.get_json()


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_every_api_route_is_described(app: Any, document: dict[str, Any]) -> None:
    described = {(path, method) for path, item in document["paths"].items() for method in item}
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1") or rule.rule == "/healthz":
            path = re.sub(r"<(?:[^:>]+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == described


def test_every_case_field_is_described(client: Any, document: dict[str, Any]) -> None:
    """The case a client receives has exactly the fields the document names (34 of them)."""
    from tests.tracker.test_alerts_api import cases, deliver

    deliver(client, "firing")
    case = client.get(f"/api/v1/cases/{cases(client)[0]['id']}", headers=HEADERS).get_json()
    schema = document["components"]["schemas"]["CaseDetail"]
    assert set(case) == set(schema["properties"]) == set(schema["required"])
    assert len(case) == 34


def test_every_refusal_is_described_with_its_status(document: dict[str, Any]) -> None:
    """Secured operations describe 401; the workflow's describe 403, 404, 409, 413 and 415; all 503."""
    for path, item in document["paths"].items():
        for method, operation in item.items():
            statuses = set(operation["responses"])
            if operation.get("security"):
                assert "401" in statuses, (method, path)
            if "{case_id}/" in path and method == "post":
                assert {"400", "403", "404", "409", "413", "415", "503"} <= statuses, (method, path)
            error = operation["responses"].get("400", {}).get("content", {}).get("application/json", {})
            if error:
                assert error["schema"] == {"$ref": "#/components/schemas/ErrorBody"}


@pytest.mark.parametrize("name", sorted(p.stem for p in PAYLOADS.glob("*.json")))
def test_alertmanagers_payloads_fit_the_described_webhook_body(document: dict[str, Any], name: str) -> None:
    body = document["paths"]["/api/v1/alerts"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    registry = Registry().with_resource("urn:doc", Resource(contents=document, specification=DRAFT202012))
    pointer = body["$ref"].removeprefix("#")
    validator = Draft202012Validator({"$ref": f"urn:doc#{pointer}"}, registry=registry)
    assert list(validator.iter_errors(json.loads((PAYLOADS / f"{name}.json").read_text()))) == []


def test_an_undescribed_answer_is_caught(document: dict[str, Any]) -> None:
    """The conformance check that every API test goes through does refuse what the document does not say."""
    conformance = Conformance(document)
    conformance.check("GET", "/api/v1/cases/1", 404, "application/json", {"error": "case 1 does not exist"})
    with pytest.raises(AssertionError, match="not described"):
        conformance.check("GET", "/api/v1/cases/1", 418, "application/json", {"error": "teapot"})
    with pytest.raises(AssertionError, match="required property"):
        conformance.check("GET", "/api/v1/cases/1", 404, "application/json", {"message": "no error key"})
    with pytest.raises(AssertionError, match="is not of type"):
        many = {"cases": "many", "total": 0, "limit": 50, "offset": 0}
        conformance.check("GET", "/api/v1/cases", 200, "application/json", many)
    with pytest.raises(AssertionError, match="undescribed"):
        conformance.check("GET", "/api/v1/cases/1", 200, "text/html", "<p>a page</p>")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("comments", {"note": ""}, "note"),
        ("comments", {"note": "ok", "notes": "a typo"}, "notes"),
        ("rechecks", {"connected": "yes"}, "connected"),
        ("checks", {"check": "smell", "result": "ok"}, "check"),
        ("dispose", {"technician_ids": ["1"]}, "technician_ids[0]"),
        ("dispose", {}, "technician_ids"),
        ("restore", {"restored_at": "2026-11-30T10:30:00"}, "restored_at"),
        ("escalate-isp", {"ticket_number": "T-1", "estimate_at": "tomorrow"}, "estimate_at"),
    ],
)
def test_a_bad_body_field_is_a_400_naming_it(
    client: Any, make_user: Any, path: str, body: dict[str, Any], field: str
) -> None:
    from tests.tracker.test_alerts_api import cases, deliver

    deliver(client, "firing")
    head = make_user("head")
    answer = client.post(f"/api/v1/cases/{cases(client)[0]['id']}/{path}", json=body, headers=head.headers)
    assert answer.status_code == 400, answer.get_json()
    assert answer.get_json()["field"] == field


def test_the_order_of_refusals_tells_a_stranger_nothing(client: Any, make_user: Any) -> None:
    """Who is asking is checked before what is asked: no token is a 401 whatever the body."""
    assert client.post("/api/v1/cases/1/comments", data="not json").status_code == 401
    viewer = make_user("viewer")
    assert client.post("/api/v1/cases/1/comments", data="not json", headers=viewer.headers).status_code == 415
    broken = client.post(
        "/api/v1/cases/1/comments", data="{", headers={**viewer.headers, "Content-Type": "application/json"}
    )
    assert broken.status_code == 400 and broken.get_json()["field"] == "(body)"


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("get", "/api/v1/cases/-1", None, 400),  # an id is positive
        ("get", "/api/v1/cases/99999999999999999999", None, 400),  # and fits the database's integer
        ("get", "/api/v1/complaints?case_id=0", None, 400),
        ("get", "/api/v1/cases?opd=a%00b", None, 400),  # PostgreSQL's text holds no NUL: refused first
        ("post", "/api/v1/cases/1/comments", {"note": "a\x00b"}, 400),
    ],
)
def test_what_the_database_cannot_hold_is_a_4xx_not_a_5xx(
    client: Any, make_user: Any, method: str, path: str, body: Any, status: int
) -> None:
    head = make_user("head")
    answer = client.open(path, method=method.upper(), json=body, headers=head.headers)
    assert answer.status_code == status, answer.get_data(as_text=True)
    assert answer.mimetype == "application/json" and "error" in answer.get_json()


def test_a_path_no_view_takes_answers_the_apis_json(app: Any) -> None:
    from flask.testing import FlaskClient

    answer = FlaskClient(app, app.response_class).get("/api/v1/nothing-here", headers=HEADERS)
    assert answer.status_code == 404 and answer.get_json()["error"]
