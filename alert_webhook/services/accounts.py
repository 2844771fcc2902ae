"""User accounts: creating them, passwords, personal API tokens, sessions, and the sign-in limit.

A personal token is a random 256-bit value of which only its SHA-256 is kept. The sign-in limit counts
failures in the database (``login_failures``), so it holds across the server's workers and restarts.

A session (the pages' signed cookie) names its user by id *and* the user's ``session_generation``, and
carries when it began; :func:`session_user` checks both on every request. Raising the generation
(:func:`end_sessions` at sign-out, a new password, deactivation) ends every session of that user at once,
on every device; and a session ends :data:`SESSION_LIFETIME` after sign-in, whatever is done meanwhile.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..core.refusals import Refusal
from ..core.workflow import USER_ROLES, Role
from ..store.db import SIGN_IN_LOCK_ID, serialize_writers
from ..store.models import LoginFailure, User
from .errors import Invalid, NotFound
from .tracker import Tracker

__all__ = [
    "LOGIN_FAILURES_PER_ACCOUNT",
    "LOGIN_FAILURES_PER_ADDRESS",
    "LOGIN_WINDOW",
    "MIN_PASSWORD_LENGTH",
    "SESSION_LIFETIME",
    "SignIn",
    "authenticate",
    "blocked_until",
    "change_password",
    "create_user",
    "end_sessions",
    "issue_api_token",
    "list_users",
    "load_user",
    "session_user",
    "set_active",
    "set_password",
    "sign_in",
    "user_by_api_token",
]

MIN_PASSWORD_LENGTH = 8


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(
    tracker: Tracker, username: str, display_name: str, role: str, password: str, email: str | None = None
) -> User:
    if role not in USER_ROLES:
        raise Invalid(f"role must be one of {', '.join(USER_ROLES)}", "role")
    _check_password(password)
    try:
        with tracker.db.write() as session:
            user = User(
                username=username,
                display_name=display_name or username,
                email=email,
                role=role,
                password_hash=generate_password_hash(password),
                active=True,
                created_at=tracker.now(),
            )
            session.add(user)
    except IntegrityError:
        raise Invalid(Refusal("user_exists", {"user": username}), "username") from None
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise Invalid(Refusal("password_short", {"length": MIN_PASSWORD_LENGTH}), "password")


def _user_named(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"no user {username!r}")
    return user


def set_password(tracker: Tracker, username: str, password: str) -> None:
    """A new password (by an admin, or on the server); every session of the user ends. The personal
    API token stays: it is issued on the server, never shown by the pages (``users token`` replaces it)."""
    _check_password(password)
    with tracker.db.write() as session:
        user = _user_named(session, username)
        user.password_hash = generate_password_hash(password)
        user.session_generation += 1


def change_password(tracker: Tracker, username: str, current: str, new: str, address: str) -> SignIn:
    """A user's own new password, given the current one, which is checked as at sign-in (the same limit,
    so that a session left open cannot be used to guess it). Every session of the user ends; the answer's
    user is the user to sign in again on the device that asked. Without a user, the current password
    was wrong (or, with ``retry_at``, not even checked)."""
    _check_password(new)
    attempt = sign_in(tracker, username, current, address)
    if attempt.user is None:
        return attempt
    set_password(tracker, username, new)
    return SignIn(load_user(tracker, attempt.user.id))


def set_active(tracker: Tracker, username: str, active: bool) -> None:
    """(De)activate an account. Deactivating ends its sessions and revokes its personal API token, so
    that activating it again revives neither."""
    with tracker.db.write() as session:
        user = _user_named(session, username)
        user.active = active
        if not active:
            user.session_generation += 1
            user.api_token_hash = None


def issue_api_token(tracker: Tracker, username: str) -> str:
    """A new personal API token for ``username`` (replacing the old one); only its hash is kept."""
    token = secrets.token_urlsafe(32)
    with tracker.db.write() as session:
        _user_named(session, username).api_token_hash = _hash_token(token)
    return token


# Brute-force protection of the login page. The failures are rows in the database, so the limit holds
# across the server's worker processes and restarts. While an account or an address is over its limit,
# attempts are refused without checking the password (and are not counted, so they do not extend it).
LOGIN_WINDOW = timedelta(minutes=15)
LOGIN_FAILURES_PER_ACCOUNT = 5
LOGIN_FAILURES_PER_ADDRESS = 20  # a whole office may share one address behind NAT


@dataclass(frozen=True)
class SignIn:
    user: User | None
    retry_at: datetime | None = None  # set: refused unchecked, too many failures; try again then


def sign_in(tracker: Tracker, username: str, password: str, address: str) -> SignIn:
    """The login page's check: :func:`authenticate`, limited per account and per client address.

    The attempt is counted *before* the password is checked, in one serialised transaction (count, then
    record it as a failure), and its record is removed only if the password was right. Checking first
    and counting after let parallel guesses all pass the count before any was recorded.
    """
    now = tracker.now()
    username, address = username[:64], address[:64]
    retry_at = _claim_attempt(tracker, username, address, now)
    if retry_at is not None:
        return SignIn(None, retry_at)
    user = authenticate(tracker, username, password)
    if user is not None:
        with tracker.db.write() as session:
            session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return SignIn(user)


def _claim_attempt(tracker: Tracker, username: str, address: str, now: datetime) -> datetime | None:
    """Record an attempt as a failure, unless the account or the address is over its limit: then
    record nothing and return until when. One attempt at a time (SQLite: BEGIN IMMEDIATE; PostgreSQL: an
    advisory lock), so that no two attempts count the same failures."""
    with tracker.db.write() as session:
        serialize_writers(session, SIGN_IN_LOCK_ID)
        session.execute(delete(LoginFailure).where(LoginFailure.at <= now - LOGIN_WINDOW))
        waits = [
            blocked_until(_recent_login_failures(session, condition, now, limit), limit, LOGIN_WINDOW)
            for condition, limit in (
                (LoginFailure.username == username, LOGIN_FAILURES_PER_ACCOUNT),
                (LoginFailure.address == address, LOGIN_FAILURES_PER_ADDRESS),
            )
        ]
        retry_at = max((wait for wait in waits if wait is not None), default=None)
        if retry_at is not None and retry_at > now:
            return retry_at
        session.add(LoginFailure(at=now, username=username, address=address))
    return None


def _recent_login_failures(session: Session, condition: Any, now: datetime, limit: int) -> list[datetime]:
    return list(
        session.scalars(
            select(LoginFailure.at)
            .where(condition, LoginFailure.at > now - LOGIN_WINDOW)
            .order_by(LoginFailure.at.desc())
            .limit(limit)
        )
    )


def blocked_until(failures: Sequence[datetime], limit: int, window: timedelta) -> datetime | None:
    """Until when ``limit`` failures (newest first, within the window) refuse sign-in; None if fewer."""
    if len(failures) < limit:
        return None
    return failures[limit - 1] + window


def authenticate(tracker: Tracker, username: str, password: str) -> User | None:
    """The active user with this username and password, else None (same work either way)."""
    with tracker.db.read() as session:
        user = session.scalar(select(User).where(User.username == username))
    if user is None:
        # Spend the same hashing time as a real check, so usernames cannot be probed by timing.
        check_password_hash(_dummy_hash(), password)
        return None
    if not check_password_hash(user.password_hash, password) or not user.active:
        return None
    return user


@functools.cache
def _dummy_hash() -> str:
    return generate_password_hash("not a real password")


def load_user(tracker: Tracker, user_id: str | int) -> User | None:
    """The active user of this id (the pages' session), else None."""
    try:
        key = int(user_id)
    except (TypeError, ValueError):
        return None
    with tracker.db.read() as session:
        user = session.get(User, key)
    return user if user is not None and user.active else None


# A session lasts this long from sign-in, whatever is done meanwhile (the cookie expires then too).
SESSION_LIFETIME = timedelta(hours=12)


def session_user(tracker: Tracker, session_id: str, signed_in_at: object) -> User | None:
    """The user a session names (``"<id>.<generation>"``, :meth:`User.get_id`), if that session still
    holds: begun (``signed_in_at``, Unix seconds) less than :data:`SESSION_LIFETIME` ago, the user
    active, and none of the user's sessions ended since it began. Else None: the session has ended."""
    if not isinstance(signed_in_at, int | float) or isinstance(signed_in_at, bool):
        return None
    if tracker.now().timestamp() - signed_in_at >= SESSION_LIFETIME.total_seconds():
        return None
    try:
        user_id, generation = (int(part) for part in str(session_id).split("."))
    except ValueError:  # not "<id>.<generation>": a cookie of an older version, or not ours
        return None
    with tracker.db.read() as session:
        user = session.get(User, user_id)
    if user is None or not user.active or user.session_generation != generation:
        return None
    return user


def end_sessions(tracker: Tracker, user_id: int) -> None:
    """End every session of this user, on every device (signing out)."""
    with tracker.db.write() as session:
        session.execute(
            update(User).where(User.id == user_id).values(session_generation=User.session_generation + 1)
        )


def user_by_api_token(tracker: Tracker, token: str) -> User | None:
    """The active user whose personal API token this is, else None."""
    with tracker.db.read() as session:
        user = session.scalar(select(User).where(User.api_token_hash == _hash_token(token)))
    return user if user is not None and user.active else None


def list_users(tracker: Tracker, role: Role | None = None) -> list[User]:
    with tracker.db.read() as session:
        query = select(User).order_by(User.username)
        if role:
            query = query.where(User.role == role)
        return list(session.scalars(query))
