"""The OpenAPI 3.1 description of ``/api/v1`` (served at ``/api/v1/openapi.json``).

A test compares the paths here with the application's URL map, so no endpoint goes undescribed.
"""

from __future__ import annotations

from typing import Any

from .core.refusals import ENGLISH
from .core.workflow import CaseSource, CaseState, Check, CheckResult

JSON = "application/json"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _body(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "required": True,
        "content": {JSON: {"schema": {"type": "object", "properties": properties, "required": required}}},
    }


def _answer(description: str, schema: dict[str, Any] | None = None, status: str = "200") -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description}
    if schema is not None:
        answer["content"] = {JSON: {"schema": schema}}
    return {status: answer, **ERRORS}


ERRORS = {
    "400": {
        "description": "Invalid request; `field` names the culprit",
        "content": {JSON: {"schema": _ref("Error")}},
    },
    "401": {"description": "No valid bearer token", "content": {JSON: {"schema": _ref("Error")}}},
    "403": {
        "description": "Not allowed to this caller or role",
        "content": {JSON: {"schema": _ref("Error")}},
    },
}
NOTE = {"note": {"type": "string", "description": "Recorded on the timeline"}}
INSTANT = {"type": "string", "format": "date-time", "description": "ISO 8601 with offset"}
CASE_ID = {"name": "case_id", "in": "path", "required": True, "schema": {"type": "integer"}}
COMPLAINT_ID = {"name": "complaint_id", "in": "path", "required": True, "schema": {"type": "integer"}}
TECHNICIANS = {
    "technician_ids": {"type": "array", "items": {"type": "integer"}},
    "technicians": {"type": "array", "items": {"type": "string"}, "description": "usernames, instead of ids"},
}


def _action(summary: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [CASE_ID],
            "security": [{"personalToken": []}],
            "requestBody": _body({**properties, **NOTE}, required),
            "responses": {
                **_answer("The updated case", _ref("Case")),
                "409": {
                    "description": "Refused by the workflow; `error` says why",
                    "content": {JSON: {"schema": _ref("Error")}},
                },
            },
        }
    }


def _complaint_step(summary: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "post": {
            "summary": summary,
            "parameters": [COMPLAINT_ID],
            "security": [{"personalToken": []}],
            "requestBody": _body(properties, required),
            "responses": _answer("The complaint"),
        }
    }


LETTER_FIELDS = {
    "opd": {"type": "string", "description": "OPD id from the inventory"},
    "letter_number": {"type": "string"},
    "letter_date": {"type": "string", "format": "date"},
    "reporter": {"type": "string"},
    "description": {"type": "string"},
    "received_at": INSTANT,
}


def openapi_document() -> dict[str, Any]:
    case_path = "/api/v1/cases/{case_id}"
    paths: dict[str, Any] = {
        "/api/v1/alerts": {
            "post": {
                "summary": "Alertmanager webhook (payload version 4)",
                "security": [{"sharedToken": []}],
                "requestBody": {"required": True, "content": {JSON: {"schema": _ref("AlertmanagerPayload")}}},
                "responses": {
                    **_answer(
                        "Validated and spooled (`{status: queued, id}`); applied right after, exactly once",
                        {"type": "object"},
                    ),
                    "413": {"description": "Body above the size limit"},
                    "415": {"description": "Not application/json"},
                    "503": {"description": "The notification cannot be stored; Alertmanager retries"},
                },
            }
        },
        "/api/v1/heartbeat": {
            "post": {
                "summary": "Alertmanager's Watchdog heartbeat",
                "security": [{"sharedToken": []}],
                "responses": _answer("Recorded", {"type": "object"}),
            }
        },
        "/api/v1/cases": {
            "get": {
                "summary": "Cases, newest first",
                "parameters": [
                    {"name": n, "in": "query", "schema": s}
                    for n, s in (
                        ("state", {"type": "string", "enum": [str(s) for s in CaseState]}),
                        ("target", {"type": "string"}),
                        ("opd", {"type": "string"}),
                        ("technician", {"type": "string"}),
                        ("overdue", {"type": "boolean"}),
                        ("source", {"type": "string", "enum": [str(s) for s in CaseSource]}),
                        ("open", {"type": "boolean"}),
                        ("limit", {"type": "integer", "maximum": 500}),
                        ("offset", {"type": "integer"}),
                    )
                ],
                "responses": _answer(
                    "A page of cases",
                    {
                        "type": "object",
                        "properties": {
                            "cases": {"type": "array", "items": _ref("Case")},
                            "total": {"type": "integer"},
                            "limit": {"type": "integer"},
                            "offset": {"type": "integer"},
                        },
                    },
                ),
            },
            "post": {
                "summary": "Enter an OPD's letter; joins an open alert case of the OPD or its upstream",
                "security": [{"personalToken": []}],
                "requestBody": _body(
                    LETTER_FIELDS, ["opd", "letter_number", "letter_date", "reporter", "description"]
                ),
                "responses": _answer("The case", _ref("Case"), "201"),
            },
        },
        "/api/v1/letters": {
            "post": {
                "summary": "Enter a letter with its scan (PDF, PNG or JPEG)",
                "security": [{"personalToken": []}],
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    **LETTER_FIELDS,
                                    "file": {"type": "string", "contentMediaType": "application/pdf"},
                                },
                                "required": [
                                    "opd",
                                    "letter_number",
                                    "letter_date",
                                    "reporter",
                                    "description",
                                ],
                            }
                        }
                    },
                },
                "responses": {
                    **_answer("The case", _ref("Case"), "201"),
                    "413": {"description": "Scan too large"},
                    "415": {"description": "Not PDF/PNG/JPEG"},
                },
            }
        },
        "/api/v1/letters/{letter_id}/file": {
            "get": {
                "summary": "The scanned letter",
                "parameters": [
                    {"name": "letter_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "responses": {"200": {"description": "The file"}, "404": {"description": "No scan"}},
            }
        },
        case_path: {
            "get": {
                "summary": "One case with checks, ISP log, letters, report and timeline",
                "parameters": [CASE_ID],
                "responses": _answer("The case", _ref("Case")),
            }
        },
        case_path + "/timeline": {
            "get": {
                "summary": "The append-only timeline",
                "parameters": [CASE_ID],
                "responses": _answer("Events", {"type": "object"}),
            }
        },
        case_path + "/actions": {
            "get": {
                "summary": "Workflow actions the caller may take now",
                "parameters": [CASE_ID],
                "responses": _answer("Action names"),
            }
        },
        case_path + "/evidence": {
            "get": {
                "summary": "Prometheus evidence for the checks, right now",
                "parameters": [CASE_ID],
                "responses": _answer("Evidence"),
            }
        },
        case_path + "/chart": {
            "get": {
                "summary": "Reachability and RTT of the target around the disruption",
                "parameters": [CASE_ID],
                "responses": _answer("Series"),
            }
        },
        case_path + "/dispose": _action(
            "Disposition by the head: assign technicians (received → dispositioned)", TECHNICIANS, []
        ),
        case_path + "/assign": _action("Add technicians", TECHNICIANS, []),
        case_path + "/start-checks": _action("Begin the checks (dispositioned → checking)", {}, []),
        case_path + "/checks": _action(
            "Record one of the four checks",
            {
                "check": {"type": "string", "enum": [str(c) for c in Check]},
                "result": {"type": "string", "enum": [str(r) for r in CheckResult]},
            },
            ["check", "result"],
        ),
        case_path + "/escalate-isp": _action(
            "Contact the ISP (checking → isp_escalated)",
            {
                "ticket_number": {"type": "string"},
                "called_at": INSTANT,
                "estimate_at": INSTANT,
                "isp": {"type": "string"},
                "contact": {"type": "string"},
            },
            ["ticket_number"],
        ),
        case_path + "/rechecks": _action(
            "Recheck while waiting on the ISP; connected → restored",
            {"connected": {"type": "boolean"}},
            ["connected"],
        ),
        case_path + "/return-to-checking": _action("Back to a new round of checks", {}, []),
        case_path + "/restore": _action("Network connected again (→ restored)", {"restored_at": INSTANT}, []),
        case_path + "/report": _action(
            "Write the resolution report (restored → report_written)",
            {
                "cause": {"type": "string"},
                "actions": {"type": "string"},
                "parts_replaced": {"type": "string"},
                "isp_part": {"type": "string"},
            },
            ["cause", "actions"],
        ),
        case_path + "/close": _action(
            "Completion reported to the OPD (→ closed)", {"reported_to": {"type": "string"}}, ["reported_to"]
        ),
        case_path + "/comments": _action("A note on the timeline", {}, ["note"]),
        "/api/v1/complaints": {
            "get": {
                "summary": "Complaints",
                "parameters": [{"name": "case_id", "in": "query", "schema": {"type": "integer"}}],
                "responses": _answer("Complaints"),
            },
            "post": {
                "summary": "Record a complaint",
                "security": [{"personalToken": []}],
                "requestBody": _body(
                    {
                        "complainant": {"type": "string"},
                        "description": {"type": "string"},
                        "channel": {"type": "string"},
                        "contact": {"type": "string"},
                        "case_id": {"type": "integer"},
                    },
                    ["complainant", "description"],
                ),
                "responses": _answer("The complaint", None, "201"),
            },
        },
        "/api/v1/complaints/{complaint_id}/respond": _complaint_step(
            "The officer's response",
            {"response": {"type": "string"}, "solved": {"type": "boolean"}},
            ["response", "solved"],
        ),
        "/api/v1/complaints/{complaint_id}/escalate": _complaint_step(
            "Forward to an official", {"official_name": {"type": "string"}}, ["official_name"]
        ),
        "/api/v1/complaints/{complaint_id}/resolve": _complaint_step(
            "The official's resolution", {"resolution": {"type": "string"}}, ["resolution"]
        ),
        "/api/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "security": [],
                "responses": {"200": {"description": "OpenAPI 3.1"}},
            }
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Batik.Net case tracker",
            "version": "1",
            "description": "Disruption cases from Alertmanager and OPD letters, carried through the SOP.",
        },
        "servers": [{"url": "/"}],
        "security": [{"sharedToken": []}, {"personalToken": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "sharedToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "BATIKNET_API_TOKEN: Alertmanager and automation",
                },
                "personalToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A user's own API token; needed to act in the workflow",
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string", "description": "Why, in English"},
                        "field": {"type": "string", "description": "The request field at fault"},
                        "code": {
                            "type": "string",
                            "enum": sorted(ENGLISH),
                            "description": "Which rule refused (the pages translate it)",
                        },
                    },
                },
                "AlertmanagerPayload": {
                    "type": "object",
                    "required": ["version", "status", "receiver", "groupKey", "alerts"],
                    "properties": {
                        "version": {"const": "4"},
                        "status": {"enum": ["firing", "resolved"]},
                        "truncatedAlerts": {"type": "integer", "minimum": 0},
                        "groupLabels": {"type": "object"},
                        "alerts": {"type": "array"},
                    },
                },
                "Case": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "state": {"enum": [str(s) for s in CaseState]},
                        "source": {"enum": [str(s) for s in CaseSource]},
                        "target": {"type": "string"},
                        "affected_targets": {"type": "array", "items": {"type": "string"}},
                        "received_at": INSTANT,
                        "restored_at": {**INSTANT, "type": ["string", "null"]},
                        "network_restored_at": {**INSTANT, "type": ["string", "null"]},
                        "closed_at": {**INSTANT, "type": ["string", "null"]},
                        "target_deadline": INSTANT,
                        "maximum_deadline": INSTANT,
                        "working_seconds_elapsed": {"type": "number"},
                        "overdue": {"type": "boolean"},
                        "past_maximum": {"type": "boolean"},
                        "isp_wait_seconds": {"type": "number"},
                        "flap_count": {"type": "integer"},
                        "incomplete": {"type": "boolean"},
                        "episodes": {"type": "array"},
                        "assignees": {"type": "array"},
                    },
                },
            },
        },
    }
