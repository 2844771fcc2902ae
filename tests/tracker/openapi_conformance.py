"""Check a real answer of the tracker against its own OpenAPI document (test helper).

:class:`ConformingClient` is the test client of the tracker's fixtures: every answer under ``/api/v1``
and ``/healthz`` is checked as it arrives — its status is documented for that path and method, and a JSON
body validates against the documented schema — so every API test is also a test of the document.
"""

from __future__ import annotations

import re
from typing import Any

from flask.testing import FlaskClient
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

DOCUMENT_URI = "urn:batiknet:openapi"


def _escaped(part: str) -> str:
    return part.replace("~", "~0").replace("/", "~1")


class Conformance:
    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource = Resource(contents=document, specification=DRAFT202012)
        self.registry = Registry().with_resource(DOCUMENT_URI, resource)
        self.templates = [
            (re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", path) + "$"), path) for path in document["paths"]
        ]

    def template(self, path: str) -> str:
        for pattern, template in self.templates:
            if pattern.match(path):
                return template
        raise AssertionError(f"{path} is not described")

    def check(self, method: str, path: str, status: int, mimetype: str, body: Any) -> None:
        """Raise AssertionError unless the answer is one the document describes."""
        template, method = self.template(path), method.lower()
        operation = self.document["paths"][template].get(method)
        assert operation is not None, f"{method.upper()} {template} is not described"
        answer = operation["responses"].get(str(status))
        assert answer is not None, f"{method.upper()} {path}: status {status} is not described"
        content = answer.get("content") or {}
        assert not content or mimetype in content, f"{method.upper()} {path} {status}: {mimetype} undescribed"
        if mimetype != "application/json":
            return  # a scanned letter: its type is described, its bytes are what was uploaded
        location = ["paths", template, method, "responses", str(status), "content", mimetype, "schema"]
        pointer = "/".join(_escaped(part) for part in location)
        validator = Draft202012Validator({"$ref": f"{DOCUMENT_URI}#/{pointer}"}, registry=self.registry)
        errors = sorted(validator.iter_errors(body), key=lambda e: list(e.path))
        assert not errors, f"{method.upper()} {path} {status}: {errors[0].message} at {list(errors[0].path)}"


class ConformingClient(FlaskClient):
    """A Flask test client that checks each API answer against the application's OpenAPI document."""

    def open(self, *args: Any, **kwargs: Any) -> Any:
        response = super().open(*args, **kwargs)
        request = response.request
        if request.path.startswith("/api/v1/") or request.path == "/healthz":
            conformance = self.application.extensions.get("test_conformance")
            if conformance is None:
                from alert_webhook.api.document import document

                with self.application.app_context():
                    conformance = self.application.extensions["test_conformance"] = Conformance(document())
            body = response.get_json(silent=True) if response.mimetype == "application/json" else None
            conformance.check(request.method, request.path, response.status_code, response.mimetype, body)
        return response
