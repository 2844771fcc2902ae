"""The request's edge: what every route shares, the API's and the pages' alike.

Each class of odd or hostile input is dealt with here once, for every route, rather than in the views:

* **ids in paths**: the pages' ``int`` converter takes at most :data:`~.store.limits.MAX_ID`; a larger
  number names no row (404), where it would overflow the database's integer (a 500);
* **JSON bodies**: decoded by :func:`.core.jsontext.decode` (deep nesting, lone surrogates: a 400);
* **text in form fields, query strings, file names and headers**: a NUL (PostgreSQL's text holds none) or
  a lone surrogate is a 400 naming the field, before any view reads it;
* **errors**, one handler per class: JSON of one shape on ``/api/`` (:func:`.api.errors.error_response`),
  the error page in the reader's language elsewhere. A value the database refuses (PostgreSQL's
  ``DataError``) or the arithmetic cannot hold (``OverflowError``: a number or an instant too large) is a
  400; a constraint the data breaks a 409; the database away or locked a 503 with ``Retry-After``;
  anything else the 500 it is, logged.

Refusals of the API's own rules (authentication, bodies, the services' refusals) keep their handlers in
:mod:`.api.errors`; the schemas (:mod:`.api.schemas`) and the forms name the field at fault before any of
this is needed.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, NoReturn

from flask import Flask, g, render_template, request
from flask.json.provider import DefaultJSONProvider
from flask_login import AnonymousUserMixin
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from werkzeug.exceptions import BadRequest, HTTPException, InternalServerError
from werkzeug.routing import IntegerConverter

from . import i18n
from .api.errors import APIError, error_response
from .core import jsontext
from .core.alertmanager import text_problem
from .services import ServiceError
from .store.limits import MAX_ID
from .web.forms import max_letter_mb

log = logging.getLogger(__name__)

__all__ = ["init_app", "is_api"]

RETRY_AFTER_SECONDS = 5
FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")
# The error page's sentence for each status a page may answer with; other 4xx say "not valid".
PAGE_MESSAGES = {
    403: "error.forbidden",
    404: "error.not_found",
    500: "error.internal",
    503: "error.unavailable",
}


class IdConverter(IntegerConverter):
    """``<int:...>`` of the pages: a row id, at most :data:`MAX_ID` (a 32-bit integer on PostgreSQL). The
    API's routes take any integer (``<int(signed=True):...>``) and its schemas answer 400 naming the id."""

    def __init__(
        self,
        map: Any,
        fixed_digits: int = 0,
        min: int | None = None,
        max: int | None = None,
        signed: bool = False,
    ) -> None:
        super().__init__(map, fixed_digits, min, MAX_ID if max is None and not signed else max, signed)


class JSONBodies(DefaultJSONProvider):
    """Flask's JSON, with request bodies decoded by :func:`.core.jsontext.decode` (a ``ValueError``,
    which Flask answers as 400, for deep nesting and lone surrogates)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return jsontext.decode(s)


def is_api() -> bool:
    """Whether this request is the API's (JSON answers) rather than a page's."""
    return request.path.startswith("/api/") or request.path == "/healthz"


def _texts() -> Iterator[tuple[str | None, str]]:
    """Every text of the request a view may read: query, form fields, file names (a form field's name is
    None where werkzeug could not read it)."""
    yield from request.args.items(multi=True)
    if request.mimetype in FORMS:
        yield from request.form.items(multi=True)
        for name, upload in request.files.items(multi=True):
            yield name, upload.filename or ""


def _check_text() -> None:
    """Refuse a NUL or a lone surrogate in any text of the request before a view reads it."""
    for name, value in _texts():
        if name is None:  # a part of a multipart body whose Content-Disposition names nothing readable
            _refuse("(form)", "every form field needs a name")
        problem = text_problem(name) or text_problem(value)
        if problem:
            _refuse(name, problem)
    for name, value in request.headers.items():
        if "\x00" in value:
            _refuse(f"header {name}", "must not contain a NUL character")


def _refuse(field: str, problem: str) -> NoReturn:
    if is_api():
        raise APIError(400, f"{field}: {problem}", field)
    raise BadRequest(f"{field}: {problem}")


def _page(status: int, headers: dict[str, str] | None = None) -> tuple[str, int, dict[str, str]]:
    if status in (500, 503):
        # The database may be the reason: the page must not ask it who is signed in.
        g._login_user = AnonymousUserMixin()
    if status == 413:  # the only body a page takes that can be that large is a scanned letter
        message = i18n.gettext("letter.scan_size", max_mb=max_letter_mb())
    else:
        message = i18n.gettext(PAGE_MESSAGES.get(status, "error.bad_request"))
    return render_template("error.html", code=status, message=message), status, headers or {}


def _answer(
    status: int,
    message: str,
    headers: dict[str, str] | None = None,
    field: str | None = None,
    code: str | None = None,
) -> Any:
    if is_api():
        return error_response(status, message, field, headers, code)
    return _page(status, headers)


def _http_error(error: HTTPException) -> Any:
    return _answer(error.code or 500, error.description or error.name)


def _api_error(error: APIError) -> Any:
    return _answer(error.status, error.message, error.headers, error.field)


def _service_error(error: ServiceError) -> Any:
    """A refusal of the services that no view turned into a page of its own (a page catches the ones it
    shows in its form)."""
    return _answer(error.status, error.message, field=error.field, code=error.refusal and error.refusal.code)


def _refused_value(error: Exception) -> Any:
    log.warning("a value of the request could not be stored or computed with: %s", error)
    return _answer(400, "a value of the request is out of the range the tracker can store or compute with")


def _constraint(error: IntegrityError) -> Any:
    log.warning("a change conflicts with what is stored: %s", error.orig)
    return _answer(409, "the change conflicts with what is stored")


def _database_away(error: DBAPIError) -> Any:
    log.error("database unavailable: %s", error)
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return _answer(503, "the database cannot be written now; retry later", headers)


def _internal(error: InternalServerError) -> Any:
    return _answer(500, "internal error")


def init_app(app: Flask) -> None:
    """Install the edge on ``app``, before any blueprint (the converter applies to the rules added after)."""
    app.url_map.converters["int"] = IdConverter
    app.json = JSONBodies(app)
    app.before_request(_check_text)
    app.register_error_handler(APIError, _api_error)
    app.register_error_handler(ServiceError, _service_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(DataError, _refused_value)
    app.register_error_handler(OverflowError, _refused_value)
    app.register_error_handler(IntegrityError, _constraint)
    app.register_error_handler(DBAPIError, _database_away)
    app.register_error_handler(InternalServerError, _internal)
