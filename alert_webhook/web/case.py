"""The case page (blueprint ``case``): everything about one case, and the forms of what the reader may
do next. Every change goes through :mod:`..services.casework`, the same functions the JSON API calls,
so the workflow's rules hold however a person acts; a refusal comes back as a flash message."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import partial

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..core import chart as chart_layout
from ..core.workflow import CaseState, Check, CheckResult, Role
from ..extension import current_tracker
from ..i18n import gettext
from ..services import NotFound, ServiceError, accounts, cases, casework, evidence
from ..services.views import CaseDetail
from . import forms
from .auth import current_actor
from .formatting import (
    checklist,
    event_detail,
    event_label,
    flash_refused,
    grafana_url,
    target_contact,
    target_label,
)

bp = Blueprint("case", __name__)


def _technicians() -> list[tuple[int, str]]:
    users = accounts.list_users(current_tracker(), Role.TECHNICIAN)
    return [(u.id, u.display_name) for u in users if u.active]


@dataclass(frozen=True)
class ISPSupport:
    """Whom to call at an ISP (SOP step 8), from the inventory: shown before the call is logged."""

    provider: str
    name: str
    circuit_id: str
    phone: str
    email: str

    @property
    def tel(self) -> str:
        """The phone number as a ``tel:`` link: a tap on a phone calls it."""
        return "tel:" + re.sub(r"[^0-9+]", "", self.phone)


def _isp_support(case: CaseDetail) -> list[ISPSupport]:
    """The case's ISP uplink (per the inventory's topology) and its support contacts; every ISP of the
    inventory when the case's is unknown."""
    inventory = current_tracker().inventory
    if inventory is None:
        return []
    uplinks = [isp for isp in inventory.isps if isp.id == case.isp] or list(inventory.isps)
    return [
        ISPSupport(isp.provider, isp.name, isp.circuit_id, isp.support_phone, isp.support_email)
        for isp in uplinks
    ]


def _chart(case_id: int) -> tuple[chart_layout.Chart | None, str | None, datetime, datetime]:
    """Reachability and RTT of the case's target around the disruption (:func:`evidence.case_chart`).

    Returns the chart, or why there is none (Prometheus not configured or unreachable: the page still
    renders), and the window shown.
    """
    tracker = current_tracker()
    series = evidence.case_chart(tracker, case_id)
    if tracker.prometheus is None:
        return None, gettext("monitoring.not_configured"), series.start, series.end
    if series.error is not None:
        return None, series.error, series.start, series.end
    markers = [(series.received_at, "case.chart.received")]
    if series.restored_at is not None:
        markers.append((series.restored_at, "case.chart.restored"))
    chart = chart_layout.layout(series.up, series.rtt, series.start, series.end, markers)
    return chart, None, series.start, series.end


def _render_case(case_id: int, bound: dict[str, forms.Form] | None = None, status: int = 200):
    bound = bound or {}
    tracker = current_tracker()
    case = cases.get_case(tracker, case_id)
    allowed = cases.allowed_actions(tracker, case_id, current_actor())
    technicians = _technicians() if {"dispose", "assign"} & set(allowed) else []
    action_forms = {
        name: bound.get(name) or forms.action_form(name, case, technicians)
        for name in forms.ACTION_FORMS
        if name in allowed
    }
    check_forms, prefill = {}, {}
    if "record_check" in allowed:
        prefill = evidence.check_prefill(tracker, case_id)
        recorded = {item.check: item.recorded for item in checklist(case)}
        check_forms = {
            c: bound.get(f"check-{c}")
            or forms.check_form(c, suggested=prefill.get(c, {}).get("suggested"), recorded=recorded[c])
            for c in Check
        }
    comment_form = None
    if current_user.role != Role.VIEWER:
        comment_form = bound.get("comment") or forms.CommentForm(prefix="comment")
    chart, chart_error, chart_start, chart_end = _chart(case_id)
    return render_template(
        "case.html",
        case=case,
        target_name=case.target_name,
        affected=[target_label(t) for t in case.affected_targets],
        contact=target_contact(case.target),
        technicians=[a.display_name for a in case.assignees],
        forms=action_forms,
        comment_form=comment_form,
        hinted_fields=forms.HINTED_FIELDS,
        checklist=checklist(case, prefill, check_forms),
        isp_support=_isp_support(case) if case.state != CaseState.CLOSED else [],
        chart=chart,
        chart_error=chart_error,
        chart_start=chart_start,
        chart_end=chart_end,
        grafana_url=grafana_url,
        target_label=target_label,
        event_label=event_label,
        event_detail=partial(event_detail, people={a.username: a.display_name for a in case.assignees}),
    ), status


def _apply(action: str, case_id: int, form: forms.Form) -> None:
    """Call the service function behind ``action`` with the form's data."""
    tracker, actor, data = current_tracker(), current_actor(), form.data
    note = data.get("note") or ""
    match action:
        case "dispose" | "assign":
            getattr(casework, action)(tracker, actor, case_id, data["technician_ids"], note=note)
        case "start_checks" | "return_to_checking":
            getattr(casework, action)(tracker, actor, case_id, note=note)
        case "escalate_isp":
            casework.escalate_isp(
                tracker,
                actor,
                case_id,
                data["ticket_number"].strip(),
                called_at=forms.local_input(data["called_at"]),
                estimate_at=forms.local_input(data["estimate_at"]),
                isp=data["isp"] or None,
                contact=(data["contact"] or "").strip() or None,
                note=note,
            )
        case "record_recheck":
            casework.record_recheck(tracker, actor, case_id, data["connected"] == "yes", note=note)
        case "restore":
            casework.restore(tracker, actor, case_id, forms.local_input(data["restored_at"]), note=note)
        case "write_report":
            casework.write_report(
                tracker,
                actor,
                case_id,
                data["cause"],
                data["actions"],
                data["parts_replaced"] or "",
                data["isp_part"] or "",
            )
        case "close":
            casework.close(tracker, actor, case_id, data["reported_to"].strip(), note=note)


@bp.route("/cases/<int:case_id>")
@login_required
def case_page(case_id: int):
    try:
        return _render_case(case_id)
    except NotFound:
        abort(404)


@bp.route("/cases/<int:case_id>/actions/<action>", methods=["POST"])
@login_required
def case_action(case_id: int, action: str):
    if action not in forms.ACTION_FORMS:
        abort(404)
    try:
        case = cases.get_case(current_tracker(), case_id)
    except NotFound:
        abort(404)
    technicians = _technicians() if action in ("dispose", "assign") else []
    form = forms.action_form(action, case, technicians, formdata=request.form)
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render_case(case_id, {action: form}, 400)
    try:
        _apply(action, case_id, form)
    except ServiceError as error:
        forms.show_refusal(form, error)
        return _render_case(case_id, {action: form}, error.status)
    flash(gettext("action.done"), "success")
    return redirect(url_for("case.case_page", case_id=case_id))


@bp.route("/cases/<int:case_id>/checks/<check>", methods=["POST"])
@login_required
def case_check(case_id: int, check: str):
    if check not in tuple(Check):
        abort(404)
    form = forms.check_form(Check(check), formdata=request.form)
    if not form.validate() or form.result.data not in tuple(CheckResult):
        flash(gettext("form.invalid"), "error")
        return _render_case(case_id, {f"check-{check}": form}, 400)
    try:
        result = CheckResult(form.result.data)
        casework.record_check(
            current_tracker(), current_actor(), case_id, Check(check), result, form.note.data or ""
        )
    except NotFound:
        abort(404)
    except ServiceError as error:
        flash_refused(error)
        return _render_case(case_id, {f"check-{check}": form}, error.status)
    flash(gettext("action.done"), "success")
    return redirect(url_for("case.case_page", case_id=case_id, _anchor="checklist"))


@bp.route("/cases/<int:case_id>/comments", methods=["POST"])
@login_required
def case_comment(case_id: int):
    form = forms.CommentForm(prefix="comment")
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render_case(case_id, {"comment": form}, 400)
    try:
        casework.add_comment(current_tracker(), current_actor(), case_id, form.note.data)
    except NotFound:
        abort(404)
    except ServiceError as error:
        flash_refused(error)
        return _render_case(case_id, {"comment": form}, error.status)
    return redirect(url_for("case.case_page", case_id=case_id, _anchor="timeline"))
