"""Messages to people (e-mail, chat) as pure rules: what is sent, when it is retried, when it is given up.

The tracker never sends a message inside the action that causes it. The action writes the message to the
outbox, in its own transaction (a disposition and the e-mail it owes the technicians are committed
together, or neither is); a dispatcher beside the server sends what is due (``services.outbox``). So a
mail server that is down, slow or refusing can never turn a done action into an error, and a message is
never lost with the process that would have sent it.

What happens after an attempt is decided here, from the attempt's number and what the sender said:
:func:`deliver` calls the sender it is given and answers :class:`Sent`, :class:`Retry` (when) or
:class:`GiveUp` (why). Retries back off exponentially, from ``first_delay`` doubling up to
``longest_delay``, for at most ``max_attempts`` attempts in all; a refusal that no retry can change (an
address the mail server does not know, a chat the bot may not write to) gives up at once.

The head is reminded of a case still waiting for disposition one working hour after being told of it
(:func:`reminder_due`), once: a second reminder would repeat what the case list and the first reminder
already say, and the overdue alerts take over from there.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from .clock import WorkingCalendar, add_working_seconds

__all__ = [
    "REMINDER_AFTER_WORKING_SECONDS",
    "Channel",
    "DeliveryError",
    "GiveUp",
    "Message",
    "MessageState",
    "Notice",
    "Retry",
    "RetryPolicy",
    "Sent",
    "deliver",
    "one_line",
    "reminder_due",
]

# One working hour: the head has had the time a disposition takes, and the case is still waiting.
REMINDER_AFTER_WORKING_SECONDS = 3600.0


class Channel(StrEnum):
    EMAIL = "email"
    TELEGRAM = "telegram"


class Notice(StrEnum):
    """What a message tells its reader."""

    CASE_WAITING = "case_waiting"  # to the head: a new case waits for disposition (SOP step 2)
    DISPOSITION_REMINDER = "disposition_reminder"  # to the head: still waiting after a working hour
    ASSIGNMENT = "assignment"  # to the technicians: the head disposed the case to them


class MessageState(StrEnum):
    PENDING = "pending"  # waiting for its due time (the first attempt, or a retry)
    SENDING = "sending"  # claimed by a dispatcher until its claim expires
    SENT = "sent"
    GIVEN_UP = "given_up"  # every attempt failed, or the refusal was final
    CANCELLED = "cancelled"  # a reminder whose case was disposed before it was due


@dataclass(frozen=True)
class Message:
    """One message to one recipient, as the outbox keeps it; the text is written when it is queued."""

    id: int
    channel: Channel
    recipient: str  # an e-mail address or a chat id
    recipient_name: str  # the person's name for an e-mail's To; empty for a chat
    subject: str  # empty for a chat, whose text is all in the body
    body: str
    attempt: int  # the number of this attempt, from 1


class DeliveryError(Exception):
    """A sender could not deliver; ``permanent`` when no later attempt can succeed."""

    def __init__(self, reason: str, permanent: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.permanent = permanent


@dataclass(frozen=True)
class Sent:
    pass


@dataclass(frozen=True)
class Retry:
    at: datetime
    error: str


@dataclass(frozen=True)
class GiveUp:
    error: str


Outcome = Sent | Retry | GiveUp
Send = Callable[[Message], None]


@dataclass(frozen=True)
class RetryPolicy:
    first_delay: timedelta = timedelta(minutes=1)
    max_attempts: int = 8
    longest_delay: timedelta = timedelta(hours=1)

    def delay(self, attempt: int) -> timedelta:
        """The wait after failed attempt number ``attempt`` (1, 2, ...): 1, 2, 4 ... minutes, at most an
        hour; with the defaults the eighth attempt comes about two hours after the first."""
        return min(self.first_delay * 2 ** (attempt - 1), self.longest_delay)

    def after_failure(self, attempt: int, error: str, now: datetime, permanent: bool = False) -> Outcome:
        if permanent or attempt >= self.max_attempts:
            return GiveUp(error)
        return Retry(now + self.delay(attempt), error)


# A reason is kept on the timeline and in the table: the gist, not a whole server transcript.
MAX_REASON_CHARS = 500


def deliver(
    message: Message, senders: Mapping[Channel, Send], policy: RetryPolicy, now: Callable[[], datetime]
) -> Outcome:
    """One attempt to deliver ``message`` with the sender of its channel, and what follows from it.

    Any error of the sender is a failed attempt, never an exception of the dispatcher: a message the
    sender cannot even build (a bug, a value no header may carry) must not hold up the others.
    """
    send = senders.get(message.channel)
    if send is None:
        return GiveUp(f"no {message.channel} sender is configured any more")
    try:
        send(message)
    except DeliveryError as error:
        return policy.after_failure(message.attempt, _short(error.reason), now(), error.permanent)
    except Exception as error:  # any failure of one message is that message's alone
        return policy.after_failure(message.attempt, _short(f"{type(error).__name__}: {error}"), now())
    return Sent()


def one_line(value: str) -> str:
    """``value`` with every line break and control character made a space, runs of spaces made one: what a
    header, a chat's first line or a timeline entry may carry of a title that came from outside."""
    return " ".join("".join(c if c.isprintable() else " " for c in value).split())


def _short(reason: str) -> str:
    reason = one_line(reason)
    return reason if len(reason) <= MAX_REASON_CHARS else reason[: MAX_REASON_CHARS - 1] + "…"


def reminder_due(calendar: WorkingCalendar, told_at: datetime) -> datetime:
    """When the head is reminded of a case told of at ``told_at`` if it still waits for disposition: one
    working hour later (a case told of at 15:30 on a Monday is reminded at 08:45 on Tuesday)."""
    return add_working_seconds(calendar, told_at, REMINDER_AFTER_WORKING_SECONDS)
