"""The API fuzzed from its own OpenAPI document with schemathesis (issue 12 item 6), on SQLite and
PostgreSQL, through the WSGI application (no network).

Every operation of ``/api/v1/openapi.json`` (the webhook, the heartbeat, the API under ``/api/v1``, the
health check) is called with requests generated from the document — valid ones, and ones just outside it —
a bounded number per operation, the same ones at every run, each with a credential the operation accepts
(the shared token of Alertmanager, a personal token), against a database holding an alert case, a letter
case and a complaint. Every answer must pass schemathesis' checks: never a 5xx, a documented status, a
documented content type, a body valid against its schema, a request outside the document refused. And
every notification the webhook accepted is then applied: none is set aside, none stays queued.
"""

from __future__ import annotations

from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import positive_data_acceptance

from alert_webhook.extension import tracker_of
from alert_webhook.services import notifications, set_aside
from tests.tracker.conftest import API_TOKEN
from tests.tracker.test_cases_api import LETTER, PDF

PAYLOADS = Path(__file__).with_name("payloads")
# Examples per operation and kind (valid, invalid): 28 operations in ~20 s per database on 2 busy cores.
EXAMPLES = 12
SHARED = {"Authorization": f"Bearer {API_TOKEN}"}
# What the document cannot say: which users exist, which targets and ISP uplinks the inventory holds,
# where a time lies against now and the case (core/time_rules.py), how long all of a group's labels are
# together (the case's key). A valid request asking for another is refused with 400 naming that field.
NOT_LISTED = {
    *("opd", "isp", "technicians", "technician_ids", "groupLabels"),
    *("received_at", "letter_date", "called_at", "estimate_at", "restored_at"),
}
# Where a request says what it wants (its credentials, in headers and cookies, are given by the test).
INPUT = (ParameterLocation.PATH, ParameterLocation.QUERY)


@dataclass(frozen=True)
class Setting:
    """What the fuzzed requests find: credentials by security scheme, ids of things that exist by path
    parameter."""

    credentials: dict[str, dict[str, str]]
    ids: dict[str, list[int]]


@pytest.fixture
def setting(app: Any, client: Any, make_user: Any) -> Setting:
    """An alert case, a letter case with its scan, a complaint; the headers of each security scheme the
    document names that a script can send (the pages' session cookie is the browser's)."""
    admin = make_user("admin")
    firing = (PAYLOADS / "firing.json").read_text()
    client.post("/api/v1/alerts", data=firing, content_type="application/json", headers=SHARED)
    notifications.apply_pending(tracker_of(app))
    letter = client.post(
        "/api/v1/letters",
        data={**LETTER, "file": (BytesIO(PDF), "surat.pdf")},
        headers=admin.headers,
        content_type="multipart/form-data",
    )
    assert letter.status_code == 201, letter.get_json()
    complaint = {"complainant": "Budi", "description": "lambat"}
    complained = client.post("/api/v1/complaints", json=complaint, headers=admin.headers)
    assert complained.status_code == 201, complained.get_json()
    return Setting(
        credentials={"sharedToken": SHARED, "personalToken": admin.headers},
        ids={
            "case_id": [
                case["id"] for case in client.get("/api/v1/cases", headers=SHARED).get_json()["cases"]
            ],
            "letter_id": [letter.get_json()["letters"][0]["id"]],
            "complaint_id": [complained.get_json()["id"]],
        },
    )


def accepted(operation: Any, setting: Setting) -> list[dict[str, str]]:
    """The headers of every credential the operation accepts; none when it needs none."""
    requirements = operation.definition.raw.get("security")
    if not requirements:
        return [{}]
    known = setting.credentials
    return [known[name] for requirement in requirements for name in requirement if name in known]


def existing(operation: Any, setting: Setting) -> st.SearchStrategy[dict[str, int] | None]:
    """Path parameters naming things that exist, or None to let schemathesis choose (mostly not found)."""
    names = [p.name for p in operation.iter_parameters() if p.location == ParameterLocation.PATH]
    if not names:
        return st.none()
    ids = st.fixed_dictionaries({name: st.sampled_from(setting.ids[name]) for name in names})
    return st.one_of(st.none(), ids)


def requests(operation: Any, mode: GenerationMode, setting: Setting) -> st.SearchStrategy[Any]:
    """Requests of the operation, with a credential it accepts; half of the valid ones name what exists."""
    paths = existing(operation, setting) if mode == GenerationMode.POSITIVE else st.none()
    return st.tuples(st.sampled_from(accepted(operation, setting)), paths).flatmap(
        lambda chosen: operation.as_strategy(mode, headers=chosen[0], path_parameters=chosen[1])
    )


def refused_only_for_what_the_document_cannot_list(ctx: Any, response: Any, case: Any) -> None:
    """Schemathesis' ``positive_data_acceptance``, but knowing that a valid request may name what does not
    exist (404), ask what the case's state forbids (409) or name something :data:`NOT_LISTED` (400)."""
    if case.meta.generation.mode.is_positive and response.status_code == 400:
        field = response.json().get("field")
        assert field in NOT_LISTED, f"a request valid by the document refused: {response.text}"


def modes(operation: Any) -> list[GenerationMode]:
    """Valid requests, and invalid ones where the operation takes something to get wrong (a path or query
    parameter, a body of some shape: the heartbeat takes any body)."""
    taken = any(body.definition.get("schema") != {} for body in operation.body) or any(
        parameter.location in INPUT for parameter in operation.iter_parameters()
    )
    return [GenerationMode.POSITIVE, GenerationMode.NEGATIVE] if taken else [GenerationMode.POSITIVE]


def test_every_operation_answers_as_its_document_says(app: Any, setting: Setting) -> None:
    """One property per operation and kind of request (schemathesis' pytest plugin is not used: its
    fixtures would not see the application's); a failure names the operation and the request."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    described = {
        f"{method.upper()} {path}" for path, item in schema.raw_schema["paths"].items() for method in item
    }
    # schemathesis leaves out the operation that serves the document it reads.
    assert {operation.label for operation in operations} == described - {"GET /api/v1/openapi.json"}
    for operation in operations:
        for mode in modes(operation):

            @given(case=requests(operation, mode, setting))
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,  # the same examples at every run: a failure is a defect, not bad luck
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def answers_as_documented(case: Any) -> None:
                case.call_and_validate(
                    excluded_checks=[positive_data_acceptance],
                    additional_checks=[refused_only_for_what_the_document_cannot_list],
                )

            answers_as_documented()

    tracker = tracker_of(app)
    while notifications.apply_pending(tracker):  # a round applies what its time budget allows
        pass
    assert tracker.spool.names() == [], "every accepted notification is applied"
    # The webhook accepted only what the database can store.
    assert [(entry.kind, entry.error) for entry in set_aside.entries(tracker)] == []
