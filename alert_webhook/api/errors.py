"""Every refusal of the API is JSON of one shape, :class:`~.schemas.ErrorBody`: ``{"error", "field",
"code"}``, with the status the refusal calls for (400, 401, 403, 404, 409, 413, 415, 503). The handlers
that answer with it, for every route, are the request's edge (:mod:`alert_webhook.edge`)."""

from __future__ import annotations

from typing import Any

from flask import Response
from pydantic import ValidationError

from ..core.refusals import ENGLISH
from .schemas import ErrorBody

__all__ = ["APIError", "error_response", "invalid_request"]


class APIError(Exception):
    """A refusal of the API layer itself (authentication, content type, size)."""

    def __init__(
        self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.message, self.field, self.headers = status, message, field, headers or {}


def error_response(
    status: int,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
    code: str | None = None,
) -> Response:
    body = ErrorBody(error=message, field=field or None, code=code)
    response = Response(body.model_dump_json(exclude_none=True), status=status, mimetype="application/json")
    response.headers.update(headers or {})
    return response


def _where(location: tuple[Any, ...]) -> str:
    """A pydantic error location as the field a client sent: ``alerts[3].startsAt``, ``technician_ids``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(body)"


def invalid_request(error: ValidationError) -> Response:
    """flask-openapi3's callback for a request that does not fit its model: 400 naming the first field.

    A rule of the core that refused the value (a time out of bounds) gives its code, and its sentence
    already names the field."""
    problem = error.errors(include_url=False)[0]
    field = _where(problem["loc"])
    if problem["type"] in ENGLISH:
        return error_response(400, problem["msg"], field, code=problem["type"])
    return error_response(400, f"{field}: {problem['msg']}", field)
