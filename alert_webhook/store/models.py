"""The case tracker's database schema (SQLAlchemy 2 typed ORM).

Nothing is ever deleted: a case keeps every alert episode, letter, check, ISP call, recheck and report it
ever had, and every change is also written to the append-only ``case_events`` timeline. Instants are
stored as UTC and always come back time-zone aware (:class:`UTCDateTime`), on SQLite as on PostgreSQL.

Columns holding a word of the workflow (state, role, check, result, channel) are plain strings; their
values are the enumerations of :mod:`alert_webhook.core.workflow` and :mod:`alert_webhook.core.complaints`.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator

# Stable constraint names, so that Alembic migrations are the same on SQLite and PostgreSQL.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out; stored as naive UTC (SQLite keeps no offsets)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(254))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(256))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # SHA-256 of the personal API token (tokens are random, so a fast hash is enough); shown once.
    api_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    # Carried in every session cookie of this user and compared on each request: raising it (sign-out,
    # a new password, deactivation) ends all of them at once (alert_webhook.services.accounts).
    session_generation: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    # Flask-Login's user protocol, so the pages can log a User in directly.
    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What the session cookie names its user by: the id and the session generation."""
        return f"{self.id}.{self.session_generation}"


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_state_received", "state", "received_at"),
        Index("ix_cases_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(8))
    # The stable key built from the alert group labels; None for a case opened from a letter.
    group_key: Mapped[str | None] = mapped_column(String(512), index=True)
    # Equal to group_key while the disruption is ongoing (not yet network-restored), else None. Unique,
    # so that two deliveries racing each other can never open two cases for one disruption.
    active_key: Mapped[str | None] = mapped_column(String(512), unique=True)
    target: Mapped[str] = mapped_column(String(64), index=True)
    title: Mapped[str] = mapped_column(String(300))
    state: Mapped[str] = mapped_column(String(16), index=True)
    received_at: Mapped[datetime]
    target_deadline: Mapped[datetime]
    maximum_deadline: Mapped[datetime]
    dispositioned_at: Mapped[datetime | None]
    network_restored_at: Mapped[datetime | None]  # from the resolved alerts; the workflow may confirm it
    restored_at: Mapped[datetime | None]  # when the case reached the restored state's recovery time
    report_written_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    # Working seconds from receipt to disposition and to restore, fixed when those happen (for metrics).
    disposition_working_seconds: Mapped[float | None] = mapped_column(Float)
    restore_working_seconds: Mapped[float | None] = mapped_column(Float)
    flap_count: Mapped[int] = mapped_column(Integer, default=0)
    incomplete: Mapped[bool] = mapped_column(Boolean, default=False)
    check_round: Mapped[int] = mapped_column(Integer, default=1)
    previous_case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    isp: Mapped[str | None] = mapped_column(String(64))

    targets: Mapped[list[CaseTarget]] = relationship(back_populates="case", order_by="CaseTarget.id")
    assignments: Mapped[list[CaseAssignment]] = relationship(
        back_populates="case", order_by="CaseAssignment.id"
    )
    episodes: Mapped[list[AlertEpisode]] = relationship(back_populates="case", order_by="AlertEpisode.id")
    events: Mapped[list[CaseEvent]] = relationship(back_populates="case", order_by="CaseEvent.id")
    checks: Mapped[list[RecordedCheck]] = relationship(back_populates="case", order_by="RecordedCheck.id")
    isp_contacts: Mapped[list[ISPContact]] = relationship(back_populates="case", order_by="ISPContact.id")
    rechecks: Mapped[list[Recheck]] = relationship(back_populates="case", order_by="Recheck.id")
    letters: Mapped[list[Letter]] = relationship(back_populates="case", order_by="Letter.id")
    reports: Mapped[list[Report]] = relationship(back_populates="case", order_by="Report.id")


class CaseTarget(Base):
    """A target a case covers: its own, and the OPDs that joined it from behind a failed upstream."""

    __tablename__ = "case_targets"
    # (target, case_id) answers "the cases of this OPD" from the index alone, for the case list filter.
    __table_args__ = (
        UniqueConstraint("case_id", "target"),
        Index("ix_case_targets_target_case", "target", "case_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    target: Mapped[str] = mapped_column(String(64))
    added_at: Mapped[datetime]
    case: Mapped[Case] = relationship(back_populates="targets")


class CaseAssignment(Base):
    __tablename__ = "case_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    assigned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    assigned_at: Mapped[datetime]
    case: Mapped[Case] = relationship(back_populates="assignments")
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class CaseEvent(Base):
    """One line of a case's timeline. Rows are only ever inserted."""

    __tablename__ = "case_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    at: Mapped[datetime]
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    actor_name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    case: Mapped[Case] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()  # None: the system (Alertmanager, the mailer)


class OutboxMessage(Base):
    """A message to one person or chat (core/outbox.py), written in the transaction of what it tells and
    sent afterwards by the dispatcher; kept after it is sent or given up, like every row here."""

    __tablename__ = "outbox"
    # The dispatcher's question: what is due now?
    __table_args__ = (Index("ix_outbox_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    notice: Mapped[str] = mapped_column(String(32))  # case_waiting, disposition_reminder, assignment
    channel: Mapped[str] = mapped_column(String(16))  # email, telegram
    recipient: Mapped[str] = mapped_column(String(254))  # an e-mail address or a chat id
    recipient_name: Mapped[str] = mapped_column(String(200), default="")
    subject: Mapped[str] = mapped_column(Text, default="")
    body: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # pending, sending, sent, given_up, cancelled
    queued_at: Mapped[datetime]
    due_at: Mapped[datetime]  # the next attempt (pending), or when the claim of a dispatcher ends (sending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    sent_at: Mapped[datetime | None]


class Notification(Base):
    """An Alertmanager webhook delivery, stored raw with the effects derived from it."""

    __tablename__ = "notifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(index=True)
    body: Mapped[str] = mapped_column(Text)
    body_sha256: Mapped[str] = mapped_column(String(64))
    # ingest.content_digest: equal for repeats and for the HA peer's copy, which then skip planning.
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    receiver: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    group_key: Mapped[str] = mapped_column(Text)
    truncated_alerts: Mapped[int] = mapped_column(Integer, default=0)
    effects: Mapped[int] = mapped_column(Integer, default=0)  # changes it caused; 0 = duplicate
    # The spool file it came from (alert_webhook.spool): applied exactly once even if the server stopped
    # between the commit and the removal of the file. NULL for notifications applied before the spool.
    spool_name: Mapped[str | None] = mapped_column(String(64), unique=True)
    # Why applying failed, for notifications skipped by versions before the spool's set-aside folder
    # (alert_webhook.spool): one that cannot be applied is now set aside there, not stored.
    apply_error: Mapped[str | None] = mapped_column(Text)


class AlertEpisode(Base):
    """One firing of one alert: Alertmanager's fingerprint plus the startsAt of that firing."""

    __tablename__ = "alert_episodes"
    __table_args__ = (UniqueConstraint("fingerprint", "starts_at", name="uq_alert_episodes_identity"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime]
    ends_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(16))
    alertname: Mapped[str] = mapped_column(String(200))
    target: Mapped[str | None] = mapped_column(String(64))
    labels: Mapped[dict[str, Any]] = mapped_column(default=dict)
    annotations: Mapped[dict[str, Any]] = mapped_column(default=dict)
    generator_url: Mapped[str] = mapped_column(Text, default="")
    first_notification_id: Mapped[int] = mapped_column(ForeignKey("notifications.id"))
    last_seen_at: Mapped[datetime]
    case: Mapped[Case | None] = relationship(back_populates="episodes")


class Letter(Base):
    """An OPD's written notice of a disruption (surat pemberitahuan gangguan), with its scan."""

    __tablename__ = "letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    number: Mapped[str] = mapped_column(String(100))
    letter_date: Mapped[date] = mapped_column(Date)
    opd: Mapped[str] = mapped_column(String(64))
    reporter: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime]
    entered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    file_name: Mapped[str | None] = mapped_column(String(255))
    file_mime: Mapped[str | None] = mapped_column(String(100))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_data: Mapped[bytes | None] = mapped_column(LargeBinary)
    case: Mapped[Case] = relationship(back_populates="letters")


class RecordedCheck(Base):
    """One of the four checks of SOP steps 4–7, in a check round (a round restarts after an ISP call)."""

    __tablename__ = "check_results"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    check: Mapped[str] = mapped_column(String(16))
    result: Mapped[str] = mapped_column(String(16))
    note: Mapped[str] = mapped_column(Text, default="")
    evidence: Mapped[dict[str, Any]] = mapped_column(default=dict)  # the pre-filled snapshot
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]
    case: Mapped[Case] = relationship(back_populates="checks")
    user: Mapped[User | None] = relationship()


class ISPContact(Base):
    """A call to the ISP (SOP step 8): who, its ticket number, when, and its recovery estimate."""

    __tablename__ = "isp_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    isp: Mapped[str] = mapped_column(String(64))
    isp_name: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(300))
    ticket_number: Mapped[str] = mapped_column(String(100))
    called_at: Mapped[datetime]
    estimate_at: Mapped[datetime | None]
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]  # when the case left isp_escalated
    case: Mapped[Case] = relationship(back_populates="isp_contacts")
    user: Mapped[User | None] = relationship()


class Recheck(Base):
    __tablename__ = "rechecks"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    isp_contact_id: Mapped[int | None] = mapped_column(ForeignKey("isp_contacts.id"))
    connected: Mapped[bool] = mapped_column(Boolean)
    note: Mapped[str] = mapped_column(Text, default="")
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    at: Mapped[datetime]
    case: Mapped[Case] = relationship(back_populates="rechecks")
    user: Mapped[User | None] = relationship()


class Report(Base):
    """The disruption resolution report (laporan penyelesaian gangguan jaringan, SOP step 9)."""

    __tablename__ = "reports"
    __table_args__ = (UniqueConstraint("number_year", "number_sequence"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    # Its letter number, issued when it was written and kept (core/documents.py): the sequence runs per
    # year. None for a report written before the tracker numbered them.
    number: Mapped[str | None] = mapped_column(String(100), unique=True)
    number_year: Mapped[int | None] = mapped_column(Integer)
    number_sequence: Mapped[int | None] = mapped_column(Integer)
    cause: Mapped[str] = mapped_column(Text)
    actions: Mapped[str] = mapped_column(Text)
    parts_replaced: Mapped[str] = mapped_column(Text, default="")
    isp_part: Mapped[str] = mapped_column(Text, default="")
    duration_working_seconds: Mapped[float] = mapped_column(Float)
    isp_wait_working_seconds: Mapped[float] = mapped_column(Float, default=0.0)
    written_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    written_at: Mapped[datetime]
    case: Mapped[Case] = relationship(back_populates="reports")


class Complaint(Base):
    """A complaint (SOP section 6b): officer first, forwarded to an official if unsolved; each step timed."""

    __tablename__ = "complaints"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"), index=True)
    received_at: Mapped[datetime]
    channel: Mapped[str] = mapped_column(String(32))  # direct, telephone, email, website, social
    complainant: Mapped[str] = mapped_column(String(200))
    contact: Mapped[str] = mapped_column(String(200), default="")
    description: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))  # received, responded, escalated, resolved
    officer_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who responded
    officer_response: Mapped[str] = mapped_column(Text, default="")
    responded_at: Mapped[datetime | None]
    escalated_at: Mapped[datetime | None]
    escalated_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))  # who forwarded it
    official_name: Mapped[str] = mapped_column(String(200), default="")  # to whom
    resolution: Mapped[str] = mapped_column(Text, default="")
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[str] = mapped_column(String(16), default="")  # officer or official
    # Who wrote the resolution down: the officer who solved it, or whoever recorded the official's.
    resolution_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    officer: Mapped[User | None] = relationship(foreign_keys=[officer_id])
    escalated_by: Mapped[User | None] = relationship(foreign_keys=[escalated_by_id])
    resolution_recorded_by: Mapped[User | None] = relationship(foreign_keys=[resolution_recorded_by_id])


class RejectionCount(Base):
    """How many webhook requests were refused, per reason. The refused requests themselves are not kept."""

    __tablename__ = "rejection_counts"

    reason: Mapped[str] = mapped_column(String(32), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_at: Mapped[datetime]


class Heartbeat(Base):
    """The last Watchdog delivery per Alertmanager receiver."""

    __tablename__ = "heartbeats"

    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_at: Mapped[datetime]


class LoginFailure(Base):
    """A failed sign-in on the login page, kept while it counts towards the brute-force limit."""

    __tablename__ = "login_failures"
    __table_args__ = (
        Index("ix_login_failures_username_at", "username", "at"),
        Index("ix_login_failures_address_at", "address", "at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    username: Mapped[str] = mapped_column(String(64))  # as typed (it need not exist)
    address: Mapped[str] = mapped_column(String(64))  # the client's IP address
