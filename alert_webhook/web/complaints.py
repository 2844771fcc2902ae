"""Complaints (blueprint ``complaints``, SOP section 6): recorded, answered, forwarded, resolved.

Who may see this page and act on a complaint is :mod:`..core.complaints`' one policy, the API's too.
"""

from __future__ import annotations

from datetime import datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..core import complaints as policy
from ..core.service_level import Duration
from ..extension import current_tracker
from ..i18n import gettext
from ..services import ServiceError
from ..services import complaints as complaint_service
from . import forms
from .auth import current_actor, roles_required
from .formatting import duration, flash_refused

bp = Blueprint("complaints", __name__)


def _after_receipt(start: datetime, end: datetime | None) -> str:
    """How long after the complaint's receipt a step came: on the clock, and its working hours."""
    if end is None:
        return "—"
    return duration(Duration((end - start).total_seconds(), current_tracker().working_seconds(start, end)))


def _render(new_form: forms.ComplaintForm | None = None, bound: dict | None = None, status: int = 200):
    bound = bound or {}
    items = []
    for c in complaint_service.list_complaints(current_tracker()):
        step = policy.next_step(c.state)
        step_forms = {}
        if step:
            step_forms[step.name] = bound.get((c.id, step.name)) or forms.complaint_form(step.name, c.id)
        items.append(
            {
                "complaint": c,
                "forms": step_forms,
                "response_after": _after_receipt(c.received_at, c.responded_at),
                "escalation_after": _after_receipt(c.received_at, c.escalated_at),
                "resolution_after": _after_receipt(c.received_at, c.resolved_at),
            }
        )
    new_form = new_form or forms.new_complaint_form()
    return render_template("complaints.html", complaints=items, new_form=new_form), status


@bp.route("/complaints", methods=["GET", "POST"])
@roles_required(*policy.HANDLERS)
def complaints():
    if request.method == "GET":
        return _render()
    form = forms.new_complaint_form(request.form)
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render(form, status=400)
    try:
        complaint_service.file_complaint(
            current_tracker(),
            current_actor(),
            form.complainant.data.strip(),
            form.description.data.strip(),
            policy.ComplaintChannel(form.channel.data),
            (form.contact.data or "").strip(),
            form.case_number(),
        )
    except ServiceError as error:
        flash_refused(error)
        return _render(form, status=error.status)
    flash(gettext("action.done"), "success")
    return redirect(url_for("complaints.complaints"))


@bp.route("/complaints/<int:complaint_id>/<action>", methods=["POST"])
@roles_required(*policy.HANDLERS)
def complaint_action(complaint_id: int, action: str):
    if action not in forms.COMPLAINT_STEPS:
        abort(404)
    form = forms.complaint_form(action, complaint_id, request.form)
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render(bound={(complaint_id, action): form}, status=400)
    tracker, actor = current_tracker(), current_actor()
    try:
        if action == "respond":
            solved = form.solved.data == "yes"
            complaint_service.respond_complaint(
                tracker, actor, complaint_id, form.response.data.strip(), solved
            )
        elif action == "escalate":
            complaint_service.escalate_complaint(
                tracker, actor, complaint_id, form.official_name.data.strip()
            )
        else:
            complaint_service.resolve_complaint(tracker, actor, complaint_id, form.resolution.data.strip())
    except ServiceError as error:
        flash_refused(error)
        return _render(bound={(complaint_id, action): form}, status=error.status)
    flash(gettext("action.done"), "success")
    return redirect(url_for("complaints.complaints", _anchor=f"complaint-{complaint_id}"))
