"""The outbox: messages to people queued with the action that owes them, sent afterwards by a dispatcher.

Queueing (:func:`queue_case_waiting`, :func:`queue_assignment`, :func:`cancel_reminders`) runs inside the
action's own transaction: the new case and the head's message, the disposition and the technicians' are
committed together or not at all, and nothing is sent while the action runs. Each message is one row per
recipient and channel, its text written then (``services.notices``), and one line on the case's timeline
says what was queued for whom.

:func:`dispatch_due` is the dispatcher's round, run beside the server in the applier process
(:mod:`alert_webhook.dispatcher`) and by the tests directly:

1. **claim**: in one short transaction, take up to a batch of due messages (pending and due, or claimed
   by a dispatcher whose claim has run out) and mark them ``sending`` with a claim of
   :data:`CLAIM_SECONDS` (on PostgreSQL ``FOR UPDATE SKIP LOCKED``, so servers sharing the database take
   different rows; SQLite has one writer at a time);
2. **send**, outside any transaction, through the pure :func:`..core.outbox.deliver`;
3. **record** each outcome in a transaction of its own: sent; failed and due again after the back-off;
   or given up. Each is a line on the timeline by the system.

Delivery is at least once: a dispatcher that dies between a server's "accepted" and its own record leaves
the row claimed, and once the claim runs out it is sent again. The repeat is the same text with the same
``Message-ID`` (mail programs show it once); a chat shows it twice. Nothing is sent twice otherwise: a row
is claimed by one dispatcher at a time, and an outcome is recorded only by the dispatcher whose claim it
still is.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.orm import Session

from ..core.outbox import Channel, GiveUp, Message, MessageState, Notice, Outcome, Retry, Sent, deliver
from ..core.outbox import reminder_due as reminder_time
from ..core.workflow import Actor, CaseSource, EventKind, Role
from ..store.models import Case, CaseEvent, Letter, OutboxMessage, User
from . import notices
from .cases import add_event, load_case
from .tracker import Tracker

log = logging.getLogger(__name__)

__all__ = [
    "CLAIM_SECONDS",
    "SENDER",
    "Dispatched",
    "cancel_reminders",
    "dispatch_due",
    "queue_assignment",
    "queue_case_waiting",
]

# Who the timeline says sent a message: the tracker itself (the pages say "oleh sistem").
SENDER = Actor(user_id=None, username="system", role=Role.SYSTEM)
# A claim outlasts the slowest batch: each message may take the senders' 10 s timeout.
CLAIM_SECONDS = 300
DISPATCH_BATCH = 10
# Table statements built once, as ingestion's (the applier opens cases by the hundred during a storm).
_INSERT_MESSAGES = OutboxMessage.__table__.insert()
_INSERT_EVENT = CaseEvent.__table__.insert()
_ACTIVE_HEADS = (
    select(User.email, User.display_name)
    .where(User.role == Role.HEAD, User.active.is_(True), User.email.is_not(None))
    .order_by(User.id)
)
_DISPLAY_NAME = select(User.display_name).where(User.id == bindparam("id"))
_CASE_FACTS = select(
    Case.id,
    Case.title,
    Case.target,
    Case.source,
    Case.received_at,
    Case.target_deadline,
    Case.maximum_deadline,
).where(Case.id == bindparam("id"))
_FIRST_LETTER_NUMBER = (
    select(Letter.number).where(Letter.case_id == bindparam("id")).order_by(Letter.id).limit(1)
)


@dataclass(frozen=True)
class Recipient:
    channel: Channel
    address: str  # an e-mail address or a chat id
    name: str  # the person's; empty for a chat


@dataclass(frozen=True)
class Dispatched:
    message_id: int
    case_id: int
    outcome: Outcome


# --- queueing, inside the action's transaction ---------------------------------------------------------


def queue_case_waiting(session: Session, tracker: Tracker, case_id: int) -> None:
    """Tell the heads that the new case ``case_id`` waits for disposition, and remind them a working hour
    later unless it has been disposed by then (:func:`cancel_reminders`)."""
    if not tracker.senders:
        return
    session.flush()  # what the action added so far comes first on the timeline
    connection = session.connection()
    recipients = _recipients(tracker, connection.execute(_ACTIVE_HEADS).all())
    if not recipients:
        return
    now = tracker.now()
    facts = _facts(connection, tracker, case_id)
    reminder_at = reminder_time(tracker.calendar, now)
    _queue(connection, facts, Notice.CASE_WAITING, recipients, now, now,
           lambda r: notices.case_waiting(facts, r.channel, r.name))  # fmt: skip
    _queue(connection, facts, Notice.DISPOSITION_REMINDER, recipients, now, reminder_at,
           lambda r: notices.disposition_reminder(facts, now, r.channel, r.name))  # fmt: skip


def queue_assignment(
    session: Session, tracker: Tracker, case_id: int, actor: Actor, technicians: Sequence[User], note: str
) -> None:
    """Tell the technicians just assigned to case ``case_id`` (and the team's chat) who disposed it, when,
    and the disposition's note."""
    if not tracker.senders or not technicians:
        return
    recipients = _recipients(tracker, [(t.email, t.display_name) for t in technicians])
    if not recipients:
        return
    session.flush()  # the disposition's line comes first on the timeline
    connection = session.connection()
    now = tracker.now()
    facts = _facts(connection, tracker, case_id)
    by = connection.scalar(_DISPLAY_NAME, {"id": actor.user_id}) or actor.username
    names = [t.display_name for t in technicians]
    _queue(connection, facts, Notice.ASSIGNMENT, recipients, now, now,
           lambda r: notices.assignment(facts, by, now, note, names, r.channel, r.name))  # fmt: skip


def cancel_reminders(session: Session, case_id: int) -> None:
    """The case was disposed: its disposition reminders that have not gone out are not needed."""
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.case_id == case_id,
            OutboxMessage.notice == Notice.DISPOSITION_REMINDER,
            OutboxMessage.state == MessageState.PENDING,
        )
        .values(state=MessageState.CANCELLED)
    )


def _recipients(tracker: Tracker, people: Sequence[tuple[str | None, str]]) -> list[Recipient]:
    """Each person with an address (address, name) by e-mail, and the chats, as far as configured."""
    recipients = []
    if Channel.EMAIL in tracker.senders:
        recipients += [Recipient(Channel.EMAIL, email, name) for email, name in people if email]
    if Channel.TELEGRAM in tracker.senders:
        recipients += [Recipient(Channel.TELEGRAM, chat, "") for chat in tracker.settings.telegram_chat_ids]
    return recipients


def _facts(connection: Connection, tracker: Tracker, case_id: int) -> notices.CaseFacts:
    case = connection.execute(_CASE_FACTS, {"id": case_id}).one()
    letter_number = None
    if case.source == CaseSource.LETTER:
        letter_number = connection.scalar(_FIRST_LETTER_NUMBER, {"id": case_id})
    return notices.CaseFacts(
        id=case.id,
        title=case.title,
        target_name=tracker.target_name(case.target),
        source=CaseSource(case.source),
        letter_number=letter_number,
        received_at=case.received_at,
        target_deadline=case.target_deadline,
        maximum_deadline=case.maximum_deadline,
        url=f"{tracker.settings.public_url.rstrip('/')}/cases/{case.id}",
        zone=tracker.calendar.timezone,
    )


def _queue(
    connection: Connection,
    facts: notices.CaseFacts,
    notice: Notice,
    recipients: Sequence[Recipient],
    now: datetime,
    due: datetime,
    write: Callable[[Recipient], notices.Text],
) -> None:
    rows = []
    for recipient in recipients:
        text = write(recipient)
        rows.append(
            {
                "case_id": facts.id,
                "notice": notice,
                "channel": recipient.channel,
                "recipient": recipient.address,
                "recipient_name": recipient.name,
                "subject": text.subject,
                "body": text.body,
                "state": MessageState.PENDING,
                "queued_at": now,
                "due_at": due,
                "attempts": 0,
                "failures": 0,
            }
        )
    data: dict[str, Any] = {
        "notice": notice,
        "recipients": [{"channel": r.channel, "to": r.address, "name": r.name} for r in recipients],
    }
    if due > now:
        data["due_at"] = due.isoformat()
    connection.execute(_INSERT_MESSAGES, rows)
    connection.execute(
        _INSERT_EVENT,
        {
            "case_id": facts.id,
            "at": now,
            "actor_id": SENDER.user_id,
            "actor_name": SENDER.username,
            "kind": EventKind.NOTICE_QUEUED,
            "from_state": None,
            "to_state": None,
            "note": "",
            "data": data,
        },
    )


# --- the dispatcher's round ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Claimed:
    message: Message
    case_id: int
    notice: str


def dispatch_due(tracker: Tracker, limit: int = DISPATCH_BATCH) -> list[Dispatched]:
    """Send the messages due now (at most ``limit``) and record what became of each."""
    done = []
    for claimed in _claim(tracker, limit):
        outcome = deliver(claimed.message, tracker.senders, tracker.retry_policy, tracker.now)
        _record(tracker, claimed, outcome)
        done.append(Dispatched(claimed.message.id, claimed.case_id, outcome))
    return done


def _claim(tracker: Tracker, limit: int) -> list[_Claimed]:
    with tracker.db.write() as session:
        now = tracker.now()
        rows = session.scalars(
            select(OutboxMessage)
            .where(
                OutboxMessage.state.in_((MessageState.PENDING, MessageState.SENDING)),
                OutboxMessage.due_at <= now,
            )
            .order_by(OutboxMessage.due_at, OutboxMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        claimed = []
        for row in rows:
            row.state = MessageState.SENDING
            row.attempts += 1
            row.due_at = now + timedelta(seconds=CLAIM_SECONDS)
            message = Message(
                id=row.id,
                channel=Channel(row.channel),
                recipient=row.recipient,
                recipient_name=row.recipient_name,
                subject=row.subject,
                body=row.body,
                attempt=row.attempts,
            )
            claimed.append(_Claimed(message, row.case_id, row.notice))
        return claimed


def _record(tracker: Tracker, claimed: _Claimed, outcome: Outcome) -> None:
    message = claimed.message
    about = {
        "outbox_id": message.id,
        "notice": claimed.notice,
        "channel": message.channel,
        "to": message.recipient,
        "name": message.recipient_name,
    }
    with tracker.db.write() as session:
        row = session.get(OutboxMessage, message.id, with_for_update=True)
        if row is None or row.state != MessageState.SENDING or row.attempts != message.attempt:
            return  # our claim ran out and another dispatcher has taken the message over
        now = tracker.now()
        match outcome:
            case Sent():
                row.state, row.sent_at = MessageState.SENT, now
                kind, data = EventKind.NOTICE_SENT, {**about, "attempt": message.attempt}
            case Retry(at=at, error=error):
                row.state, row.due_at = MessageState.PENDING, at
                kind = EventKind.NOTICE_FAILED
                data = {**about, "attempt": message.attempt, "error": error, "retry_at": at.isoformat()}
                log.warning("message %d of case %d (%s) failed, retrying at %s: %s",
                            message.id, claimed.case_id, message.channel, at.isoformat(), error)  # fmt: skip
            case GiveUp(error=error):
                row.state = MessageState.GIVEN_UP
                kind = EventKind.NOTICE_GIVEN_UP
                data = {**about, "attempts": message.attempt, "error": error}
                log.error("message %d of case %d (%s) given up after %d attempt(s): %s",
                          message.id, claimed.case_id, message.channel, message.attempt, error)  # fmt: skip
        if not isinstance(outcome, Sent):
            row.failures += 1
            row.last_error = data["error"]
        add_event(session, load_case(session, claimed.case_id), SENDER, kind, now, data=data)
