"""Database engine and sessions, one set per application.

SQLite (the embedded default) runs in WAL mode so that pages keep reading while a notification is
written; write transactions start with ``BEGIN IMMEDIATE`` so that two writers queue on the busy
timeout instead of failing half-way. On PostgreSQL, writers that must not interleave (ingestion, issuing
report numbers) take a transaction-scoped advisory lock (:func:`serialize_writers`).
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constants; they name the advisory locks of PostgreSQL that serialise one kind of writer each.
INGEST_LOCK_ID = 0x42A71C  # applying notifications
SIGN_IN_LOCK_ID = 0x42A71D  # counting and claiming sign-in attempts
REPORT_NUMBER_LOCK_ID = 0x42A71E  # issuing report numbers, one at a time


def make_engine(url: str, **kwargs: Any) -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)
        _configure_sqlite(engine)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event decide how a transaction starts (pysqlite's own BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk before the applier removes its spool file (alert_webhook.spool), so
        # a notification answered 200 survives a power cut. In WAL mode that is one fsync per write
        # transaction, and the applier writes in batches.
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("batiknet_write", False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


class WriterQueue:
    """SQLite has one writer at a time: writers wait here rather than in SQLite's busy handler.

    The busy handler sleeps ever longer between retries, which turns a short queue of writers into long
    tail latencies. Threads of one process queue on a lock; processes (gunicorn workers) on an ``flock``
    of a file next to the database, opened per process so that forked workers do not share it.
    """

    def __init__(self, database_path: str | None) -> None:
        self.lock_path = f"{database_path}.writer-lock" if database_path else None
        self.thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid: int | None = None

    @contextmanager
    def held(self) -> Iterator[None]:
        with self.thread_lock:
            if self.lock_path is None:
                yield
                return
            if self._pid != os.getpid():
                self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


@dataclass
class Database:
    engine: Engine
    reader: sessionmaker[Session]
    writer: sessionmaker[Session]
    writers: WriterQueue | None = field(default=None)  # SQLite only

    @classmethod
    def connect(cls, url: str, **kwargs: Any) -> Database:
        engine = make_engine(url, **kwargs)
        write_engine = engine.execution_options(batiknet_write=True)
        return cls(
            engine=engine,
            reader=sessionmaker(engine, expire_on_commit=False),
            writer=sessionmaker(write_engine, expire_on_commit=False),
            writers=WriterQueue(_sqlite_file(engine)) if engine.dialect.name == "sqlite" else None,
        )

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self.reader() as session, session.begin():
            yield session

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A write transaction: committed when the block ends, rolled back on any exception."""
        with (
            self.writers.held() if self.writers else nullcontext(),
            self.writer() as session,
            session.begin(),
        ):
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_file(engine: Engine) -> str | None:
    """The database file of a SQLite engine (plain path or ``file:PATH?...`` URI); None in memory."""
    database = engine.url.database or ""
    if database.startswith("file:"):
        database = database.removeprefix("file:").split("?", 1)[0]
    return None if database in ("", ":memory:") else database


def serialize_writers(session: Session, lock: int = INGEST_LOCK_ID) -> None:
    """Make this transaction the only one of its kind (``lock``: ingesting by default) until it ends.
    SQLite's write transactions already are, through BEGIN IMMEDIATE."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock})
