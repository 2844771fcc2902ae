"""The tracker's storage: SQLAlchemy models, engines and sessions, and the Alembic migrations."""
