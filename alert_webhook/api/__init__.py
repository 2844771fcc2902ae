"""The JSON API (``/api/v1``) and ``/healthz``: one blueprint per resource, flask-openapi3 on pydantic.

    alerts       Alertmanager's webhook and heartbeat       cases       reading cases, the workflow
    letters      OPD letters and their scans                complaints  complaints (SOP 6)
    document     the OpenAPI document, the health check

:mod:`.schemas` is the one typed model of what the API speaks: flask-openapi3 validates each request
with it (a 400 naming the field), the views answer with it and the services' views, and the OpenAPI
document is generated from the same models. :mod:`.access` says who may call what; :mod:`.errors` gives
every refusal one shape. The pages' CSRF protection does not apply here: the API authenticates every
change with a bearer token, never a cookie.
"""

from __future__ import annotations

from typing import Any

from flask_openapi3 import OpenAPI

from . import alerts, cases, complaints, document, letters

__all__ = ["BLUEPRINTS", "init_app"]

BLUEPRINTS = (alerts.bp, cases.bp, letters.bp, complaints.bp, document.bp)


def init_app(app: OpenAPI, csrf: Any) -> None:
    for bp in (*BLUEPRINTS, document.root):
        csrf.exempt(bp)
        app.register_api(bp)
