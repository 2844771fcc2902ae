"""Alertmanager (blueprint ``api_alerts``): the webhook and the Watchdog heartbeat.

The webhook is the storm path: it checks the token, the type and the size, validates the payload with
:func:`..core.alertmanager.parse_notification` (the rules the applier applies; a 400 names the field),
spools it and answers. No database lock, no transaction; refusals are only counted.
"""

from __future__ import annotations

import logging

from flask import Response, current_app, request
from pydantic import BaseModel

from ..applier import wake_applier
from ..core.alertmanager import PayloadError
from ..extension import current_tracker
from ..services import notifications
from ..store.limits import fit
from ..store.models import Heartbeat
from .access import access, bearer, blueprint, is_shared_token
from .errors import error_response
from .schemas import ErrorBody, HeartbeatRecorded, Queued

log = logging.getLogger(__name__)

# The webhook counts its refusals itself; the heartbeat needs the shared token.
bp = blueprint("api_alerts", "alertmanager", abp_responses={})

SHARED = [{"sharedToken": []}]


def _reject(
    status: int, reason: str, message: str, field: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    notifications.record_rejection(current_tracker(), reason)
    return error_response(status, message, field, headers)


@bp.post(
    "/alerts",
    summary="Alertmanager's webhook (payload version 4)",
    security=SHARED,
    responses={
        200: Queued,
        400: ErrorBody,
        401: ErrorBody,
        413: ErrorBody,
        415: ErrorBody,
        503: ErrorBody,
    },
)
def receive_alerts() -> Response:
    """Validated, spooled and answered; applied exactly once, in order, by the applier right after."""
    tracker = current_tracker()
    if not is_shared_token(bearer()):
        headers = {"WWW-Authenticate": "Bearer"}
        return _reject(401, "unauthorized", "a valid bearer token is required", headers=headers)
    if request.mimetype != "application/json":
        return _reject(415, "content_type", "the body must be JSON (Content-Type: application/json)")
    limit = tracker.settings.max_notification_bytes
    if request.content_length is not None and request.content_length > limit:
        return _reject(413, "too_large", f"a notification may be at most {limit} bytes")
    body = request.stream.read(limit + 1)
    if len(body) > limit:
        return _reject(413, "too_large", f"a notification may be at most {limit} bytes")
    try:
        text = body.decode("utf-8")
        # Refuses what the applier could not apply, up to the lengths of the columns; it reads it again.
        notifications.read_notification(text)
    except PayloadError as error:
        return _reject(400, "invalid_payload", error.message, error.field)
    except ValueError as error:
        return _reject(400, "invalid_json", f"the body is not valid JSON: {error}", "(body)")
    try:
        spool_name = notifications.store_notification(tracker, text)
    except OSError:
        log.exception("cannot keep a notification in the spool")
        return error_response(
            503, "the notification cannot be stored now; retry later", headers={"Retry-After": "5"}
        )
    wake_applier(current_app._get_current_object())
    return Response(Queued(status="queued", id=spool_name).model_dump_json(), mimetype="application/json")


class WatchdogNotification(BaseModel):
    """Alertmanager's notification of its always-firing Watchdog; only ``receiver`` is read."""

    receiver: str | None = None


@bp.post(
    "/heartbeat",
    summary="Alertmanager's Watchdog heartbeat; the pages warn when it goes silent",
    security=SHARED,
    responses={200: HeartbeatRecorded, 401: ErrorBody, 403: ErrorBody, 503: ErrorBody},
)
@access("automation")
def heartbeat() -> Response:
    document = request.get_json(silent=True) if request.is_json else None
    source = "alertmanager"
    if isinstance(document, dict) and isinstance(document.get("receiver"), str):
        source = fit(Heartbeat.source, document["receiver"])
    at = notifications.record_heartbeat(current_tracker(), source)
    recorded = HeartbeatRecorded(status="ok", source=source, at=at)
    return Response(recorded.model_dump_json(), mimetype="application/json")
