"""Notifications set aside (blueprint ``set_aside``, admins only): what the applier could not apply, and
why; each can be put back in the queue or discarded (:mod:`..services.set_aside`, as ``batiknet-cases
spool rejected`` does)."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_login import current_user

from ..extension import current_tracker
from ..i18n import gettext
from ..services import set_aside
from .auth import roles_required
from .forms import Form

bp = Blueprint("set_aside", __name__)

ACTIONS = {"retry": set_aside.retry, "discard": set_aside.discard}


@bp.route("/admin/notifications")
@roles_required()
def set_aside_list():
    tracker = current_tracker()
    entries = set_aside.entries(tracker)
    excerpts = {entry.name: set_aside.excerpt(tracker, entry.name) for entry in entries}
    return render_template("set_aside.html", entries=entries, excerpts=excerpts, form=Form())


@bp.route("/admin/notifications/<name>/<action>", methods=["POST"])
@roles_required()
def set_aside_action(name: str, action: str):
    if action not in ACTIONS or not Form().validate():
        abort(400 if action in ACTIONS else 404)
    if not ACTIONS[action](current_tracker(), name, current_user.username):
        abort(404)
    flash(gettext(f"set_aside.{action}_done", name=name), "success")
    return redirect(url_for("set_aside.set_aside_list"))
