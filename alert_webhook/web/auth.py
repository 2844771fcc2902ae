"""Sign-in for the pages: Flask-Login sessions, role checks, CSRF on every form, hardened cookies.

The JSON API is not served from here: it authenticates with a bearer token and its blueprint is exempt
from CSRF (a token in a header cannot be forged cross-site). Everything else needs a signed-in user.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta
from functools import wraps
from typing import TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, redirect, render_template, request, session, url_for
from flask_login import LoginManager, current_user, login_required, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from .. import i18n
from ..core.workflow import USER_ROLES, Actor, Role
from ..extension import current_tracker
from ..services import accounts, actor_of
from ..settings import Settings
from .forms import LoginForm

bp = Blueprint("auth", __name__)
login_manager = LoginManager()
csrf = CSRFProtect()

View = TypeVar("View", bound=Callable)


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


@bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    next_url = request.args.get("next")
    if form.validate_on_submit():
        tracker = current_tracker()
        attempt = accounts.sign_in(tracker, form.username.data, form.password.data, request.remote_addr or "")
        if attempt.retry_at is not None:
            wait = attempt.retry_at - tracker.now()
            minutes = max(1, math.ceil(wait.total_seconds() / 60))
            flash(i18n.ngettext("login.throttled", minutes), "error")
            page = render_template("login.html", form=form, next_url=next_url)
            return page, 429, {"Retry-After": str(math.ceil(wait.total_seconds()))}
        if attempt.user is not None:
            session.permanent = True  # the cookie expires after PERMANENT_SESSION_LIFETIME (12 hours)
            login_user(attempt.user)
            return redirect(_safe_next(next_url, attempt.user.role))
        flash(i18n.gettext("login.failed"), "error")
        return render_template("login.html", form=form, next_url=next_url), 401
    return render_template("login.html", form=form, next_url=next_url)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    logout_user()
    flash(i18n.gettext("login.logged_out"), "info")
    return redirect(url_for("auth.login"))


def _harden_session(app: Flask, settings: Settings) -> None:
    # Flask ships its own defaults for these, so they are set, not defaulted.
    secure = settings.secure_cookies  # behind TLS in production
    app.config.update(
        SESSION_COOKIE_NAME="batiknet_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=secure,
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SECURE=secure,
    )
    # A field technician may leave a form open for a long while; the token lives as long as the session.
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)

    @app.after_request
    def _security_headers(response):
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
    login_manager.session_protection = "strong"
    app.jinja_env.globals["has_role"] = has_role
    app.register_blueprint(bp)

    @app.errorhandler(CSRFError)
    def _csrf_failed(error):
        flash(i18n.gettext("error.csrf"), "error")
        return render_template("error.html", code=400, message=i18n.gettext("error.csrf")), 400


@login_manager.user_loader
def _load_user(user_id: str):
    return accounts.load_user(current_tracker(), user_id)
