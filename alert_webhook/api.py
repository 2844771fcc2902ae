"""The JSON API (``/api/v1``), plus ``/healthz`` at the root.

Authentication (see docs/tracker.md):

* ``Authorization: Bearer <BATIKNET_API_TOKEN>`` — the shared token of Alertmanager and automation. It
  may post alerts and heartbeats and read everything; it is nobody, so it cannot act in the workflow.
* ``Authorization: Bearer <personal token>`` — a user's own API token (``batiknet-cases users token``),
  kept only as a hash. The workflow knows who acts and with which role.
* The pages' session cookie — for reading only (GET). Changes through the API always carry a bearer
  token, so no cross-site form can make a signed-in browser change a case.

Every refusal is JSON: ``{"error": "...", "field": "..."}``; a refusal of the rules also carries its
``code`` (see :mod:`.refusals`), the same one the pages translate.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, g, jsonify, request
from flask_login import current_user
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from .applier import wake_applier
from .core.alertmanager import PayloadError, parse_notification
from .core.workflow import Actor, Role
from .extension import current_tracker
from .openapi import openapi_document
from .services import (
    Invalid,
    ServiceError,
    accounts,
    actor_of,
    cases,
    casework,
    complaints,
    evidence,
    letters,
    notifications,
)
from .services.letters import LetterInput

log = logging.getLogger(__name__)

bp = Blueprint("api", __name__, url_prefix="/api/v1")
root = Blueprint("root", __name__)

AUTOMATION = Actor(user_id=None, username="automation", role=Role.SYSTEM)


class APIError(Exception):
    def __init__(
        self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers or {}


def _error(
    status: int,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> Response:
    body: dict[str, Any] = {"error": message}
    if field:
        body["field"] = field
    if code:
        body["code"] = code
    response = jsonify(body)
    response.status_code = status
    response.headers.update(headers or {})
    return response


@bp.errorhandler(APIError)
def _api_error(error: APIError) -> Response:
    return _error(error.status, error.message, error.field, error.headers)


@bp.errorhandler(ServiceError)
def _service_error(error: ServiceError) -> Response:
    return _error(error.status, error.message, error.field, code=error.refusal and error.refusal.code)


@bp.errorhandler(HTTPException)
def _http_error(error: HTTPException) -> Response:
    return _error(error.code or 500, error.description or error.name)


@bp.errorhandler(DBAPIError)
def _database_error(error: DBAPIError) -> Response:
    log.error("database unavailable: %s", error)
    return _error(503, "the database cannot be written now; retry later", headers={"Retry-After": "5"})


# --- who is asking -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    actor: Actor
    automation: bool  # the shared token: Alertmanager or a script, not a person


def _bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def _identify() -> Caller | None:
    token = _bearer()
    if token is not None:
        shared = current_tracker().settings.api_token
        if shared and hmac.compare_digest(token.encode(), shared.encode()):
            return Caller(AUTOMATION, automation=True)
        user = accounts.user_by_api_token(current_tracker(), token)
        return Caller(actor_of(user), automation=False) if user is not None else None
    if request.method in ("GET", "HEAD") and current_user.is_authenticated:
        return Caller(actor_of(current_user), automation=False)
    return None


def authenticated(view: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        caller = _identify()
        if caller is None:
            raise APIError(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
        g.caller = caller
        return view(*args, **kwargs)

    return guarded


def person(view: Callable[..., Any]) -> Callable[..., Any]:
    """Workflow actions need to know who acts: a personal token, not the shared one."""

    @authenticated
    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if g.caller.automation:
            raise APIError(403, "this action is taken by a person: use a personal API token")
        return view(*args, **kwargs)

    return guarded


# --- request bodies ----------------------------------------------------------------------------------


def _json_object() -> dict[str, Any]:
    if not request.is_json:
        raise APIError(415, "the body must be JSON (Content-Type: application/json)")
    try:
        document = json.loads(request.get_data(cache=False) or b"null")
    except ValueError as error:
        raise APIError(400, f"the body is not valid JSON: {error}", "(body)") from None
    if not isinstance(document, dict):
        raise APIError(400, "the body must be a JSON object", "(body)")
    return document


def _text(document: dict[str, Any], name: str, required: bool = False, default: str = "") -> str:
    value = document.get(name)
    if value is None or value == "":
        if required:
            raise Invalid(f"{name} is required", name)
        return default
    if not isinstance(value, str):
        raise Invalid(f"{name} must be a string", name)
    return value


def _instant(document: dict[str, Any], name: str) -> datetime | None:
    value = document.get(name)
    if value in (None, ""):
        return None
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise Invalid(f"{name} must be ISO 8601 (e.g. 2026-01-05T09:30:00+07:00)", name) from None
    if parsed.tzinfo is None:
        raise Invalid(f"{name} needs a time zone offset (e.g. +07:00)", name)
    return parsed


def _day(document: dict[str, Any], name: str) -> date:
    value = _text(document, name, required=True)
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(f"{name} must be a date (YYYY-MM-DD)", name) from None


def _user_ids(document: dict[str, Any]) -> list[int]:
    """Technicians by id (``technician_ids``) or by username (``technicians``)."""
    if "technicians" in document:
        names = document["technicians"]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise Invalid("technicians must be a list of usernames", "technicians")
        known = {u.username: u.id for u in accounts.list_users(current_tracker())}
        unknown = [n for n in names if n not in known]
        if unknown:
            raise Invalid(f"no user {unknown[0]!r}", "technicians")
        return [known[n] for n in names]
    ids = document.get("technician_ids")
    if not isinstance(ids, list) or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise Invalid("technician_ids must be a list of user ids", "technician_ids")
    return ids


# --- Alertmanager --------------------------------------------------------------------------------------


def _reject(
    status: int, reason: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    notifications.record_rejection(current_tracker(), reason)
    return _error(status, message, field, headers)


@bp.post("/alerts")
def receive_alerts() -> Response:
    """Alertmanager's webhook (payload version 4): validated, spooled and answered; applied exactly once,
    in order, by the applier right after (:mod:`alert_webhook.spool`, :mod:`alert_webhook.applier`)."""
    tracker = current_tracker()
    token = _bearer()
    shared = tracker.settings.api_token
    if token is None or not shared or not hmac.compare_digest(token.encode(), shared.encode()):
        return _reject(
            401, "unauthorized", "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"}
        )
    if request.mimetype != "application/json":
        return _reject(415, "content_type", "the body must be JSON (Content-Type: application/json)")
    limit = tracker.settings.max_notification_bytes
    if request.content_length is not None and request.content_length > limit:
        return _reject(413, "too_large", f"a notification may be at most {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return _reject(413, "too_large", f"a notification may be at most {limit} bytes")
    try:
        text_body = body.decode("utf-8")
        document = json.loads(text_body)
    except ValueError as error:
        return _reject(400, "invalid_json", f"the body is not valid JSON: {error}", "(body)")
    try:
        parse_notification(document)  # refuses what the applier could not apply; it parses the body again
    except PayloadError as error:
        return _reject(400, "invalid_payload", error.message, error.field)
    try:
        spool_name = notifications.store_notification(tracker, text_body)
    except OSError:
        log.exception("cannot keep a notification in the spool")
        return _error(503, "the notification cannot be stored now; retry later", headers={"Retry-After": "5"})
    wake_applier(current_app._get_current_object())
    return jsonify({"status": "queued", "id": spool_name})


@bp.post("/heartbeat")
@authenticated
def heartbeat() -> Response:
    """Alertmanager's always-firing Watchdog, routed here; the pages warn when it goes silent."""
    if not g.caller.automation:
        raise APIError(403, "heartbeats come from Alertmanager with the shared token")
    source = "alertmanager"
    if request.is_json:
        document = request.get_json(silent=True)
        if isinstance(document, dict) and isinstance(document.get("receiver"), str):
            source = document["receiver"][:200]
    at = notifications.record_heartbeat(current_tracker(), source)
    return jsonify({"status": "ok", "source": source, "at": at.isoformat()})


# --- cases -------------------------------------------------------------------------------------------


def _flag(name: str) -> bool | None:
    value = request.args.get(name)
    if value is None or value == "":
        return None
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise Invalid(f"{name} must be true or false", name)


def _bounded_int(name: str, default: int, low: int, high: int) -> int:
    value = request.args.get(name)
    if value is None:
        return default
    try:
        number = int(value)
    except ValueError:
        raise Invalid(f"{name} must be a whole number", name) from None
    if not low <= number <= high:
        raise Invalid(f"{name} must be from {low} to {high}", name)
    return number


@bp.get("/cases")
@authenticated
def list_cases() -> Response:
    page = cases.list_cases(
        current_tracker(),
        state=request.args.get("state") or None,
        target=request.args.get("target") or request.args.get("opd") or None,
        technician=request.args.get("technician") or None,
        overdue=_flag("overdue"),
        source=request.args.get("source") or None,
        open_only=bool(_flag("open")),
        limit=_bounded_int("limit", 50, 1, 500),
        offset=_bounded_int("offset", 0, 0, 10**9),
        count_total=True,
    )
    items = [case.model_dump(mode="json") for case in page.items]
    return jsonify({"cases": items, "total": page.total, "limit": page.limit, "offset": page.offset})


@bp.post("/cases")
@person
def create_case() -> Response:
    """An OPD's letter from JSON; it joins an open alert case of the OPD or its upstream."""
    document = _json_object()
    letter = LetterInput(
        opd=_text(document, "opd", required=True),
        number=_text(document, "letter_number", required=True),
        letter_date=_day(document, "letter_date"),
        reporter=_text(document, "reporter", required=True),
        description=_text(document, "description", required=True),
        received_at=_instant(document, "received_at"),
    )
    case = letters.open_letter_case(current_tracker(), g.caller.actor, letter)
    return jsonify(case.model_dump(mode="json")), 201


@bp.post("/letters")
@person
def create_letter() -> Response:
    """The letter form as multipart: the fields of POST /cases plus the scanned letter (``file``)."""
    if request.mimetype != "multipart/form-data":
        raise APIError(415, "send the letter as multipart/form-data")
    tracker = current_tracker()
    form = request.form.to_dict()
    upload = request.files.get("file")
    scan = None
    if upload is not None and upload.filename:
        data = upload.stream.read(tracker.settings.max_letter_bytes + 1)
        scan = letters.check_scan(tracker, upload.filename, data)
    letter = LetterInput(
        opd=_text(form, "opd", required=True),
        number=_text(form, "letter_number", required=True),
        letter_date=_day(form, "letter_date"),
        reporter=_text(form, "reporter", required=True),
        description=_text(form, "description", required=True),
        received_at=_instant(form, "received_at"),
        scan=scan,
    )
    return jsonify(letters.open_letter_case(tracker, g.caller.actor, letter).model_dump(mode="json")), 201


@bp.get("/letters/<int:letter_id>/file")
@authenticated
def letter_file(letter_id: int) -> Response:
    scan = letters.letter_file(current_tracker(), letter_id)
    response = Response(scan.data, mimetype=scan.mime)
    response.headers["Content-Disposition"] = f'inline; filename="{scan.name.replace(chr(34), "")}"'
    return response


@bp.get("/cases/<int:case_id>")
@authenticated
def get_case(case_id: int) -> Response:
    return jsonify(cases.get_case(current_tracker(), case_id).model_dump(mode="json"))


@bp.get("/cases/<int:case_id>/timeline")
@authenticated
def case_timeline(case_id: int) -> Response:
    events = cases.timeline(current_tracker(), case_id)
    return jsonify({"case_id": case_id, "events": [e.model_dump(mode="json") for e in events]})


@bp.get("/cases/<int:case_id>/actions")
@authenticated
def case_actions(case_id: int) -> Response:
    return jsonify(
        {"case_id": case_id, "actions": cases.allowed_actions(current_tracker(), case_id, g.caller.actor)}
    )


@bp.get("/cases/<int:case_id>/evidence")
@authenticated
def case_evidence(case_id: int) -> Response:
    return jsonify({"case_id": case_id, "evidence": evidence.check_prefill(current_tracker(), case_id)})


@bp.get("/cases/<int:case_id>/chart")
@authenticated
def case_chart(case_id: int) -> Response:
    chart = evidence.case_chart(current_tracker(), case_id)
    return jsonify(
        {
            "target": chart.target,
            "start": chart.start.isoformat(),
            "end": chart.end.isoformat(),
            "up": chart.up,
            "rtt": chart.rtt,
            "error": chart.error,
        }
    )


# Every workflow action: POST /cases/<id>/<path> with a JSON object; answers the updated case.
def _workflow_actions() -> dict[str, Callable[[Actor, int, dict[str, Any]], Any]]:
    t = current_tracker
    return {
        "dispose": lambda a, c, d: casework.dispose(t(), a, c, _user_ids(d), _text(d, "note")),
        "assign": lambda a, c, d: casework.assign(t(), a, c, _user_ids(d), _text(d, "note")),
        "start-checks": lambda a, c, d: casework.start_checks(t(), a, c, _text(d, "note")),
        "checks": lambda a, c, d: casework.record_check(
            t(), a, c, _text(d, "check", required=True), _text(d, "result", required=True), _text(d, "note")
        ),
        "escalate-isp": lambda a, c, d: casework.escalate_isp(
            t(),
            a,
            c,
            _text(d, "ticket_number", required=True),
            called_at=_instant(d, "called_at"),
            estimate_at=_instant(d, "estimate_at"),
            isp=_text(d, "isp") or None,
            contact=_text(d, "contact") or None,
            note=_text(d, "note"),
        ),
        "rechecks": lambda a, c, d: casework.record_recheck(t(), a, c, _connected(d), _text(d, "note")),
        "return-to-checking": lambda a, c, d: casework.return_to_checking(t(), a, c, _text(d, "note")),
        "restore": lambda a, c, d: casework.restore(t(), a, c, _instant(d, "restored_at"), _text(d, "note")),
        "report": lambda a, c, d: casework.write_report(
            t(),
            a,
            c,
            _text(d, "cause", required=True),
            _text(d, "actions", required=True),
            _text(d, "parts_replaced"),
            _text(d, "isp_part"),
            _text(d, "note"),
        ),
        "close": lambda a, c, d: casework.close(
            t(), a, c, _text(d, "reported_to", required=True), _text(d, "note")
        ),
        "comments": lambda a, c, d: casework.add_comment(t(), a, c, _text(d, "note", required=True)),
    }


WORKFLOW_PATHS = tuple(_workflow_actions())


def _connected(document: dict[str, Any]) -> bool:
    value = document.get("connected")
    if not isinstance(value, bool):
        raise Invalid("connected must be true or false", "connected")
    return value


@bp.post("/cases/<int:case_id>/<any(" + ",".join(repr(p) for p in WORKFLOW_PATHS) + "):action>")
@person
def case_action(case_id: int, action: str) -> Response:
    document = _json_object()
    return jsonify(_workflow_actions()[action](g.caller.actor, case_id, document).model_dump(mode="json"))


# --- complaints ----------------------------------------------------------------------------------------


@bp.get("/complaints")
@authenticated
def list_complaints() -> Response:
    case_id = _bounded_int("case_id", 0, 1, 2**31 - 1) if request.args.get("case_id") else None
    found = complaints.list_complaints(current_tracker(), case_id)
    return jsonify({"complaints": [c.model_dump(mode="json") for c in found]})


@bp.post("/complaints")
@person
def file_complaint() -> Response:
    d = _json_object()
    case_id = d.get("case_id")
    if case_id is not None and (not isinstance(case_id, int) or isinstance(case_id, bool)):
        raise Invalid("case_id must be a case number", "case_id")
    return jsonify(
        complaints.file_complaint(
            current_tracker(),
            g.caller.actor,
            _text(d, "complainant", required=True),
            _text(d, "description", required=True),
            _text(d, "channel", default="direct"),
            _text(d, "contact"),
            case_id,
        ).model_dump(mode="json")
    ), 201


@bp.post("/complaints/<int:complaint_id>/respond")
@person
def respond_complaint(complaint_id: int) -> Response:
    d = _json_object()
    solved = d.get("solved")
    if not isinstance(solved, bool):
        raise Invalid("solved must be true or false", "solved")
    response = _text(d, "response", required=True)
    done = complaints.respond_complaint(current_tracker(), g.caller.actor, complaint_id, response, solved)
    return jsonify(done.model_dump(mode="json"))


@bp.post("/complaints/<int:complaint_id>/escalate")
@person
def escalate_complaint(complaint_id: int) -> Response:
    d = _json_object()
    official = _text(d, "official_name", required=True)
    done = complaints.escalate_complaint(current_tracker(), g.caller.actor, complaint_id, official)
    return jsonify(done.model_dump(mode="json"))


@bp.post("/complaints/<int:complaint_id>/resolve")
@person
def resolve_complaint(complaint_id: int) -> Response:
    d = _json_object()
    resolution = _text(d, "resolution", required=True)
    done = complaints.resolve_complaint(current_tracker(), g.caller.actor, complaint_id, resolution)
    return jsonify(done.model_dump(mode="json"))


# --- description and health ----------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())


@root.get("/healthz")
def healthz() -> Response:
    try:
        with current_tracker().db.read() as session:
            session.execute(text("SELECT 1"))
    except DBAPIError as error:
        return _error(503, f"database unavailable: {error.__class__.__name__}")
    return jsonify({"status": "ok", "alertmanager_silent": notifications.heartbeat_stale(current_tracker())})
