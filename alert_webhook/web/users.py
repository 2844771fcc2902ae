"""User accounts (blueprint ``users``, admins only): add one, set a password, (de)activate.

Accounts are never deleted: the timelines name their authors.
"""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..extension import current_tracker
from ..i18n import gettext
from ..services import ServiceError, accounts
from . import forms
from .auth import roles_required
from .formatting import flash_refused

bp = Blueprint("users", __name__)


def _render(new_form: forms.NewUserForm | None = None, status: int = 200):
    users = accounts.list_users(current_tracker())
    password_forms = {u.username: forms.PasswordForm(formdata=None, prefix=f"pw-{u.id}") for u in users}
    new_form = new_form or forms.new_user_form()
    return render_template(
        "users.html", users=users, password_forms=password_forms, new_form=new_form
    ), status


def _user_id(username: str) -> int:
    found = next((u.id for u in accounts.list_users(current_tracker()) if u.username == username), None)
    if found is None:
        abort(404)
    return found


@bp.route("/admin/users", methods=["GET", "POST"])
@roles_required()
def users():
    if request.method == "GET":
        return _render()
    form = forms.new_user_form(request.form)
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render(form, 400)
    username = form.username.data.strip()
    try:
        accounts.create_user(
            current_tracker(),
            username,
            form.display_name.data.strip(),
            form.role.data,
            form.password.data,
            (form.email.data or "").strip() or None,
        )
    except ServiceError as error:
        flash_refused(error)
        return _render(form, error.status)
    flash(gettext("users.created", username=username), "success")
    return redirect(url_for("users.users"))


@bp.route("/admin/users/<username>/password", methods=["POST"])
@roles_required()
def user_password(username: str):
    form = forms.PasswordForm(prefix=f"pw-{_user_id(username)}")
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render(status=400)
    try:
        accounts.set_password(current_tracker(), username, form.password.data)
    except ServiceError as error:
        flash_refused(error)
        return _render(status=error.status)
    flash(gettext("users.password_set", username=username), "success")
    return redirect(url_for("users.users"))


@bp.route("/admin/users/<username>/active", methods=["POST"])
@roles_required()
def user_active(username: str):
    _user_id(username)
    if username == current_user.username:
        flash(gettext("users.not_yourself"), "error")
        return _render(status=409)
    active = request.form.get("active") == "1"
    accounts.set_active(current_tracker(), username, active)
    message = (
        gettext("users.activated", username=username)
        if active
        else gettext("users.deactivated", username=username)
    )
    flash(message, "success")
    return redirect(url_for("users.users"))
