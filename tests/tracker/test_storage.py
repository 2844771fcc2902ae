"""The schema: Alembic migrations produce exactly the models, on SQLite and PostgreSQL; SQLite runs in WAL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from alert_webhook.store.db import Database
from alert_webhook.store.migrate import schema_drift


def test_migrated_schema_equals_the_models(database_url: str) -> None:
    assert schema_drift(database_url) == []


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Any) -> None:
    db = Database.connect(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with db.read() as session:
            assert session.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        db.dispose()


def test_instants_come_back_aware_in_utc(app: Any, client: Any) -> None:
    from datetime import UTC

    from alert_webhook.extension import tracker_of
    from alert_webhook.services import accounts

    accounts.create_user(tracker_of(app), "clock", "Clock", "viewer", "password-123")
    user = accounts.load_user(tracker_of(app), 1)
    assert user is not None and user.created_at.tzinfo is UTC


def test_the_instance_folder_comes_from_the_environment(tmp_path: Any, monkeypatch: Any) -> None:
    from alert_webhook import create_app

    state = tmp_path / "state"
    monkeypatch.setenv("BATIKNET_INSTANCE_PATH", str(state))
    monkeypatch.delenv("BATIKNET_DATABASE_URL", raising=False)
    monkeypatch.delenv("BATIKNET_SECRET_KEY", raising=False)
    app = create_app({"TESTING": True})
    try:
        assert app.instance_path == str(state)
        assert app.extensions["batiknet"].database_url == f"sqlite:///{state / 'cases.db'}"
        assert (state / "secret_key").is_file()
    finally:
        app.extensions["batiknet"].db.dispose()
