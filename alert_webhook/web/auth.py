"""Sign-in for the pages: Flask-Login sessions, role checks, CSRF on every form, hardened cookies.

The JSON API is not served from here: it authenticates with a bearer token and its blueprint is exempt
from CSRF (a token in a header cannot be forged cross-site). Everything else needs a signed-in user.

A session is a signed cookie naming the user and the user's session generation, and when it began; on
every request :func:`..services.accounts.session_user` checks that the generation is still the user's
(signing out, a new password and deactivation raise it: every session of that user ends) and that 12
hours have not passed since sign-in. The cookie's own expiry is that same instant: it is never pushed
back by activity, and an unchanged session is not sent again with each response.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface, SessionMixin
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from .. import i18n
from ..core.workflow import USER_ROLES, Actor, Role
from ..extension import current_tracker
from ..services import ServiceError, accounts, actor_of
from ..settings import Settings
from .formatting import flash_refused
from .forms import LoginForm, OwnPasswordForm

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

View = TypeVar("View", bound=Callable)
SIGNED_IN_AT = "signed_in_at"  # in the session: when it began, Unix seconds of the tracker's clock
LOGIN_KEYS = ("_user_id", "_fresh", "_id", SIGNED_IN_AT)  # Flask-Login's keys and ours


def roles_required(*roles: str) -> Callable[[View], View]:
    """Let signed-in users with one of ``roles`` through; admin may do everything; others get 403."""
    unknown = set(roles) - set(USER_ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(view: View) -> View:
        @wraps(view)
        @login_required
        def guarded(*args, **kwargs):
            if current_user.role != Role.ADMIN and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def has_role(*roles: str) -> bool:
    """For templates: may the current user take an action reserved to ``roles``?"""
    return current_user.is_authenticated and (current_user.role == Role.ADMIN or current_user.role in roles)


def current_actor() -> Actor:
    """The signed-in user, as the services know who acts."""
    return actor_of(current_user)


def _safe_next(target: str | None, role: str) -> str:
    """Where to go after sign-in: the page asked for if it is on this site (no open redirect), else the
    NOC screen for a viewer and the case list for everyone else."""
    if target:
        parts = urlsplit(target)
        # Browsers read "/\host" like "//host", so a backslash is refused as well.
        if (
            not parts.scheme
            and not parts.netloc
            and target.startswith("/")
            and not target.startswith("//")
            and "\\" not in target
        ):
            return target
    return url_for("noc.noc_screen" if role == Role.VIEWER else "cases.case_list")


def _throttled(retry_at: datetime, template: str, **context: Any):
    """The answer to an attempt refused unchecked: 429, when to try again, and the page saying so."""
    wait = retry_at - current_tracker().now()
    flash(i18n.ngettext("login.throttled", max(1, math.ceil(wait.total_seconds() / 60))), "error")
    page = render_template(template, **context)
    return page, 429, {"Retry-After": str(math.ceil(wait.total_seconds()))}


def _begin_session(user) -> None:
    """A new session for ``user`` on this device: nothing of the one before is carried into it."""
    session.clear()
    session.permanent = True  # the cookie expires SESSION_LIFETIME after this instant
    session[SIGNED_IN_AT] = current_tracker().now().timestamp()
    login_user(user)


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    next_url = request.args.get("next")
    if form.validate_on_submit():
        address = request.remote_addr or ""
        attempt = accounts.sign_in(current_tracker(), form.username.data, form.password.data, address)
        if attempt.retry_at is not None:
            return _throttled(attempt.retry_at, "login.html", form=form, next_url=next_url)
        if attempt.user is not None:
            _begin_session(attempt.user)
            return redirect(_safe_next(next_url, attempt.user.role))
        flash(i18n.gettext("login.failed"), "error")
        return render_template("login.html", form=form, next_url=next_url), 401
    return render_template("login.html", form=form, next_url=next_url)


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
def own_password():
    """Change one's own password: every other session of this person ends, this one starts anew."""
    form = OwnPasswordForm()
    if not form.validate_on_submit():
        return render_template("account.html", form=form), 400 if form.is_submitted() else 200
    if form.new_password.data != form.new_password_again.data:
        flash(i18n.gettext("account.mismatch"), "error")
        return render_template("account.html", form=form), 400
    try:
        attempt = accounts.change_password(
            current_tracker(),
            current_user.username,
            form.current_password.data,
            form.new_password.data,
            request.remote_addr or "",
        )
    except ServiceError as error:
        flash_refused(error)
        return render_template("account.html", form=form), error.status
    if attempt.retry_at is not None:
        return _throttled(attempt.retry_at, "account.html", form=form)
    if attempt.user is None:
        flash(i18n.gettext("account.wrong_password"), "error")
        return render_template("account.html", form=form), 400
    _begin_session(attempt.user)
    flash(i18n.gettext("account.changed"), "success")
    return redirect(_safe_next(None, attempt.user.role))


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    """Sign out here and on every other device of this user (a cookie saved meanwhile ends too)."""
    accounts.end_sessions(current_tracker(), current_user.id)
    logout_user()
    session.clear()
    flash(i18n.gettext("login.logged_out"), "info")
    return redirect(url_for("auth.login"))


class SessionFromSignIn(SecureCookieSessionInterface):
    """Flask's signed cookie, expiring when its session does: SESSION_LIFETIME after sign-in (Flask's own
    would expire it SESSION_LIFETIME after the last response that sent it)."""

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        began = session.get(SIGNED_IN_AT)
        if not session.permanent or not isinstance(began, float | int):
            return super().get_expiration_time(app, session)
        return datetime.fromtimestamp(began, UTC) + app.permanent_session_lifetime


def _harden_session(app: Flask, settings: Settings) -> None:
    # Flask ships its own defaults for these, so they are set, not defaulted.
    secure = settings.secure_cookies  # behind TLS in production
    app.config.update(
        SESSION_COOKIE_NAME="batiknet_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=accounts.SESSION_LIFETIME,
        # Sent again only when the session changes, and then with the same expiry (SessionFromSignIn).
        SESSION_REFRESH_EACH_REQUEST=False,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
    )
    app.session_interface = SessionFromSignIn()
    # A field technician may leave a form open for a long while; the token lives as long as the session.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)

    @app.after_request
    def _security_headers(response):
        if request.endpoint != "static":
            # Pages and API answers name people, cases and OPDs: no browser history, disk cache or proxy
            # keeps a copy for the next person at a shared computer. One rule for every answer but the
            # style sheets and scripts, so that no page needing sign-in can be forgotten.
            response.headers["Cache-Control"] = "no-store"
            response.vary.add("Cookie")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if response.mimetype == "text/html":
            response.headers.setdefault(
                "Content-Security-Policy",
                "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
            )
        return response


def init_app(app: Flask, settings: Settings) -> None:
    """Wire sessions, CSRF and the sign-in page into ``app`` (called by ``create_app``)."""
    _harden_session(app, settings)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "login.required"
    login_manager.login_message_category = "info"
    login_manager.localize_callback = i18n.gettext
    # Not bound to the client's address and browser (Flask-Login's session protection): a technician's
    # phone changes address between Wi-Fi and mobile data. A session ends by sign-out, a new password,
    # deactivation or its 12 hours instead (see the module's docstring).
    login_manager.session_protection = None
    app.jinja_env.globals["has_role"] = has_role
    app.register_blueprint(bp)

    @app.errorhandler(CSRFError)
    def _csrf_failed(error):
        flash(i18n.gettext("error.csrf"), "error")
        return render_template("error.html", code=400, message=i18n.gettext("error.csrf")), 400


@login_manager.user_loader
def _load_user(session_id: str):
    user = accounts.session_user(current_tracker(), session_id, session.get(SIGNED_IN_AT))
    if user is None:  # the session has ended: forget it (the CSRF token of a form being filled stays)
        for key in LOGIN_KEYS:
            session.pop(key, None)
    return user
