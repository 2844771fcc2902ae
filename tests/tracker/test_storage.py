"""The schema: Alembic migrations produce exactly the models, on SQLite and PostgreSQL; SQLite runs in WAL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from alert_webhook.db import Database
from alert_webhook.migrate import schema_drift


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

    from alert_webhook import services

    with app.app_context():
        services.create_user("clock", "Clock", "viewer", "password-123")
        user = services.load_user(1)
    assert user is not None and user.created_at.tzinfo is UTC
