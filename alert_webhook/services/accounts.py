"""User accounts: creating them, passwords and personal API tokens, and the login page's sign-in limit.

A personal token is a random 256-bit value of which only its SHA-256 is kept. The sign-in limit counts
failures in the database (``login_failures``), so it holds across the server's workers and restarts.
"""

from __future__ import annotations

import functools
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from ..core.refusals import Refusal
from ..core.workflow import USER_ROLES, Role
from ..store.models import LoginFailure, User
from .errors import Invalid, NotFound
from .tracker import Tracker

__all__ = [
    "LOGIN_FAILURES_PER_ACCOUNT",
    "LOGIN_FAILURES_PER_ADDRESS",
    "LOGIN_WINDOW",
    "MIN_PASSWORD_LENGTH",
    "SignIn",
    "authenticate",
    "blocked_until",
    "create_user",
    "issue_api_token",
    "list_users",
    "load_user",
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
    _check_password(password)
    with tracker.db.write() as session:
        user = _user_named(session, username)
        user.password_hash = generate_password_hash(password)


def set_active(tracker: Tracker, username: str, active: bool) -> None:
    with tracker.db.write() as session:
        _user_named(session, username).active = active


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
    """The login page's check: :func:`authenticate`, limited per account and per client address."""
    now = tracker.now()
    username, address = username[:64], address[:64]
    with tracker.db.read() as session:
        waits = [
            blocked_until(_recent_login_failures(session, condition, now, limit), limit, LOGIN_WINDOW)
            for condition, limit in (
                (LoginFailure.username == username, LOGIN_FAILURES_PER_ACCOUNT),
                (LoginFailure.address == address, LOGIN_FAILURES_PER_ADDRESS),
            )
        ]
    retry_at = max((wait for wait in waits if wait is not None), default=None)
    if retry_at is not None and retry_at > now:
        return SignIn(None, retry_at)
    user = authenticate(tracker, username, password)
    with tracker.db.write() as session:
        if user is None:
            session.execute(delete(LoginFailure).where(LoginFailure.at <= now - LOGIN_WINDOW))
            session.add(LoginFailure(at=now, username=username, address=address))
        else:
            session.execute(delete(LoginFailure).where(LoginFailure.username == username))
    return SignIn(user)


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
