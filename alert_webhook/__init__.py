"""The Batik.Net case tracker: every disruption carried through the SOP, from alert or letter to report.

``create_app`` is a Flask application factory. Configuration comes from the ``BATIKNET_*`` environment
variables (see :mod:`alert_webhook.config`), overridden by ``test_config``. The per-application state
(database, working calendar, inventory, Prometheus client, mail settings) is a
:class:`~alert_webhook.services.Tracker` in ``app.extensions["batiknet"]``.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    from . import api, auth, i18n, pages, reports
    from .config import from_environment, smtp_settings, working_calendar
    from .db import Database
    from .metrics import register_metrics
    from .promquery import PrometheusClient
    from .services import Tracker
    from .spool import Spool

    settings = {**from_environment(), **(test_config or {})}
    # A deployment points the instance folder at its state directory: the package's own folder is
    # read-only under systemd's ProtectSystem=strict and in the container.
    instance_path = settings["BATIKNET_INSTANCE_PATH"]
    app = Flask(
        __name__,
        instance_path=str(Path(instance_path).resolve()) if instance_path else None,
        instance_relative_config=True,
    )
    app.config.from_mapping(settings)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    database_url = app.config["BATIKNET_DATABASE_URL"] or f"sqlite:///{Path(app.instance_path) / 'cases.db'}"
    app.config["BATIKNET_DATABASE_URL"] = database_url
    app.config["SECRET_KEY"] = app.config.get("BATIKNET_SECRET_KEY") or _instance_secret(app)
    app.config["MAX_CONTENT_LENGTH"] = max(
        int(app.config["BATIKNET_MAX_NOTIFICATION_BYTES"]), int(app.config["BATIKNET_MAX_LETTER_BYTES"])
    )

    inventory = app.config["BATIKNET_INVENTORY"]
    if isinstance(inventory, str | Path):
        from batiknet.inventory import load_inventory

        inventory = load_inventory(inventory)
    prometheus_url = app.config["BATIKNET_PROMETHEUS_URL"]
    app.extensions["batiknet"] = Tracker(
        db=Database.connect(database_url),
        calendar=working_calendar(app.config),
        inventory=inventory,
        config=dict(app.config),
        spool=Spool(Path(app.instance_path) / "spool"),
        now=app.config.get("BATIKNET_CLOCK") or (lambda: datetime.now(UTC)),
        prometheus=PrometheusClient(prometheus_url) if prometheus_url else None,
        smtp=smtp_settings(app.config),
        reopen_window_seconds=float(app.config["BATIKNET_REOPEN_WINDOW_HOURS"]) * 3600,
    )

    proxies = int(app.config["BATIKNET_TRUSTED_PROXIES"])
    if proxies:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies)  # type: ignore[method-assign]
    i18n.init_app(app)
    auth.init_app(app)
    auth.csrf.exempt(api.bp)  # the API authenticates every change with a bearer token, never a cookie
    app.register_blueprint(api.bp)
    app.register_blueprint(api.root)
    app.register_blueprint(auth.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(reports.bp)
    register_metrics(app)
    return app


def _instance_secret(app: Flask) -> str:
    """A session-signing key kept in the instance folder, shared by all workers and kept across restarts."""
    path = Path(app.instance_path) / "secret_key"
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(48), encoding="utf-8")
    return path.read_text(encoding="utf-8").strip()
