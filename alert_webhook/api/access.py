"""Who is asking, and what a request must carry, checked before a view validates its parameters.

* ``Authorization: Bearer <BATIKNET_API_TOKEN>`` — the shared token of Alertmanager and automation. It
  may post heartbeats and read everything; it is nobody, so it cannot act in the workflow.
* ``Authorization: Bearer <personal token>`` — a user's own API token (``batiknet-cases users token``),
  kept only as a hash. The workflow knows who acts and with which role.
* The pages' session cookie — for reading only (GET). Changes through the API always carry a bearer
  token, so no cross-site form can make a signed-in browser change a case.

Each view declares who may call it and what body it takes (:func:`access`); :func:`check_request`, run
before the view, answers 401/403/415/400 in that order, so a stranger learns nothing about the body.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Response, current_app, g, request
from flask_login import current_user
from flask_openapi3 import APIBlueprint, Tag
from pydantic import BaseModel
from werkzeug.exceptions import BadRequest

from ..core.workflow import Actor, Role
from ..extension import current_tracker
from ..services import accounts, actor_of
from .errors import APIError
from .schemas import ErrorBody

__all__ = [
    "AUTOMATION",
    "PEOPLE",
    "READERS",
    "Caller",
    "access",
    "answer",
    "bearer",
    "blueprint",
    "caller",
    "check_request",
    "is_shared_token",
    "same_secret",
]

AUTOMATION = Actor(user_id=None, username="automation", role=Role.SYSTEM)
# The OpenAPI security requirements: reading (any credential, the pages' cookie too) and acting.
READERS = [{"sharedToken": []}, {"personalToken": []}, {"session": []}]
PEOPLE = [{"personalToken": []}]
Who = Literal["anyone", "person", "automation"]  # any credential / a personal token / the shared token
Body = Literal["none", "json", "multipart"]


@dataclass(frozen=True)
class Caller:
    actor: Actor
    automation: bool  # the shared token: Alertmanager or a script, not a person


@dataclass(frozen=True)
class Access:
    who: Who
    body: Body


def access(who: Who, body: Body = "none") -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Declare who may call a view and the body it reads (kept on the function, read before it runs)."""

    def mark(view: Callable[..., Any]) -> Callable[..., Any]:
        view.access = Access(who, body)  # type: ignore[attr-defined]
        return view

    return mark


def bearer() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def same_secret(given: str | None, expected: str | None) -> bool:
    """Whether a token given is the one configured (never when none is), compared in constant time."""
    return bool(given and expected and hmac.compare_digest(given.encode(), expected.encode()))


def is_shared_token(token: str | None) -> bool:
    return same_secret(token, current_tracker().settings.api_token)


def _identify() -> Caller | None:
    token = bearer()
    if token is not None:
        if is_shared_token(token):
            return Caller(AUTOMATION, automation=True)
        user = accounts.user_by_api_token(current_tracker(), token)
        return Caller(actor_of(user), automation=False) if user is not None else None
    if request.method in ("GET", "HEAD") and current_user.is_authenticated:
        return Caller(actor_of(current_user), automation=False)
    return None


def caller() -> Caller:
    return g.caller


def answer(model: BaseModel, status: int = 200) -> Response:
    """A model as the JSON answer (pydantic writes it; the OpenAPI document describes the same model)."""
    return Response(model.model_dump_json(), status=status, mimetype="application/json")


def check_request() -> None:
    """Before every view of the API that declared its :func:`access`."""
    view = current_app.view_functions.get(request.endpoint or "")
    rule: Access | None = getattr(view, "access", None)
    if rule is None:
        return
    found = _identify()
    if found is None:
        raise APIError(401, "a valid bearer token is required", headers={"WWW-Authenticate": "Bearer"})
    if rule.who == "person" and found.automation:
        raise APIError(403, "this action is taken by a person: use a personal API token")
    if rule.who == "automation" and not found.automation:
        raise APIError(403, "heartbeats come from Alertmanager with the shared token")
    g.caller = found
    if rule.body == "json":
        if not request.is_json:
            raise APIError(415, "the body must be JSON (Content-Type: application/json)")
        try:
            request.get_json()  # parsed once here; the view's model validates the cached document
        except BadRequest as error:
            raise APIError(400, f"the body is not valid JSON: {error.description}", "(body)") from None
    if rule.body == "multipart" and request.mimetype != "multipart/form-data":
        raise APIError(415, "send the letter as multipart/form-data")


def blueprint(name: str, tag: str, url_prefix: str = "/api/v1", **options: Any) -> APIBlueprint:
    """A blueprint of the API, with :func:`check_request` before every view (its errors are answered in
    one shape by the request's edge, :mod:`alert_webhook.edge`).

        Every operation describes 400, 401 and 503 (a refusal, no credential, the database away) unless
        ``abp_responses`` says otherwise.
    """
    options.setdefault("abp_responses", {400: ErrorBody, 401: ErrorBody, 503: ErrorBody})
    bp = APIBlueprint(name, __name__, url_prefix=url_prefix, abp_tags=[Tag(name=tag)], **options)
    bp.before_request(check_request)
    return bp
