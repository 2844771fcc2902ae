"""The Batik.Net case tracker: every disruption carried through the SOP, from alert or letter to report.

``create_app`` is a Flask application factory. The settings come from the ``BATIKNET_*`` environment
variables (:mod:`alert_webhook.settings`), checked in full before anything starts. The per-application
state (settings, database, working calendar, inventory, Prometheus client, message senders, clock) is a
:class:`~alert_webhook.services.Tracker`, reached by the views through :mod:`alert_webhook.extension`
and passed explicitly to every service.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_openapi3 import Info, OpenAPI
from werkzeug.middleware.proxy_fix import ProxyFix

CLOCK = "BATIKNET_CLOCK"  # tests only: a callable answering "now"


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """The application. ``test_config`` holds settings by their variable names (they win over the
    environment), Flask's own keys (``TESTING``), and ``BATIKNET_CLOCK``. Raises
    :class:`~alert_webhook.settings.SettingsError` naming a variable whose value is wrong."""
    from . import api, edge, i18n, web
    from .api.document import SECURITY_SCHEMES
    from .api.errors import invalid_request
    from .api.schemas import ErrorBody
    from .extension import install
    from .metrics import register_metrics
    from .services import Tracker
    from .settings import PREFIX, load_settings

    overrides = dict(test_config or {})
    clock = overrides.pop(CLOCK, None)
    settings = load_settings({k: v for k, v in overrides.items() if k.startswith(PREFIX)})
    # A deployment points the instance folder at its state directory: the package's own folder is
    # read-only under systemd's ProtectSystem=strict and in the container.
    app = OpenAPI(
        __name__,
        info=Info(title="Batik.Net case tracker", version="1"),
        security_schemes=SECURITY_SCHEMES,
        validation_error_status=400,
        validation_error_model=ErrorBody,
        validation_error_callback=invalid_request,
        doc_ui=False,  # the document is served at /api/v1/openapi.json (alert_webhook.api.document)
        instance_path=str(settings.instance_path.resolve()) if settings.instance_path else None,
        instance_relative_config=True,
    )
    app.config.from_mapping({k: v for k, v in overrides.items() if not k.startswith(PREFIX)})
    instance = Path(app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    app.config["SECRET_KEY"] = settings.secret_key or _instance_secret(instance)
    app.config["MAX_CONTENT_LENGTH"] = max(settings.max_notification_bytes, settings.max_letter_bytes)
    install(app, Tracker.from_settings(settings, instance, clock))

    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    edge.init_app(app)  # first: its id converter applies to the routes added after it
    i18n.init_app(app)
    web.init_app(app, settings)
    api.init_app(app, web.csrf)
    register_metrics(app)
    return app


def _instance_secret(instance: Path) -> str:
    """A session-signing key kept in the instance folder, shared by all workers and kept across restarts."""
    path = instance / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()
