"""The server-rendered pages of the case tracker (blueprint ``cases``).

Every page needs a signed-in user. Pages only read and present; every change goes through
:mod:`alert_webhook.services`, the same functions the JSON API calls, so the workflow's rules and
permissions hold however a person acts. A refused action comes back as a flash message with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from io import BytesIO
from itertools import groupby
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from flask_wtf.file import FileField
from sqlalchemy import func, select
from wtforms import (
    DateField,
    DateTimeLocalField,
    HiddenField,
    PasswordField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from . import chart as chart_layout
from . import services
from .auth import Form, roles_required
from .evaluation import CaseFacts, Technician, TechnicianScore, evaluate, quarter_bounds, quarter_of
from .i18n import current_language, gettext, has_message
from .models import CHECK_RESULTS, CHECKS, ROLES, STATES, Case, CaseAssignment, Complaint, User

bp = Blueprint("cases", __name__)

PAGE_SIZE = 25  # a phone screen or two; each row costs a case summary from the services
NOC_LIMIT = 200
LETTER_TYPES = {"application/pdf": b"%PDF-", "image/jpeg": b"\xff\xd8\xff", "image/png": b"\x89PNG\r\n\x1a\n"}
COMPLAINT_CHANNELS = ("direct", "telephone", "email", "website", "social")


# --- presentation helpers (also used by the report pages) --------------------------------------------


def parse_instant(value: datetime | str | None) -> datetime | None:
    """The services speak ISO 8601 (the API's JSON); the pages show local time."""
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value)


def local_time(value: datetime | str | None) -> str:
    instant = parse_instant(value)
    if instant is None:
        return "—"
    # %Z names the zone as people say it: WIB for Asia/Jakarta.
    return instant.astimezone(services.current_tracker().calendar.timezone).strftime("%d-%m-%Y %H:%M %Z")


def long_date(value: date | datetime | str | None) -> str:
    """``30 November 2026``, the month named in the page's language (Desember / December)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else parse_instant(value)
    if isinstance(value, datetime):
        value = value.astimezone(services.current_tracker().calendar.timezone).date()
    return f"{value.day} {gettext(f'month.{value.month}')} {value.year}"


def hours(seconds: float | None) -> str:
    return "—" if seconds is None else number(seconds / 3600)


def number(value: float) -> str:
    text = f"{value:,.1f}"
    if current_language() == "id":  # 1.234,5 in Indonesian
        text = text.replace(",", "_").replace(".", ",").replace("_", ".")
    return text


def percent(share: float) -> str:
    return f"{round(share * 100)}%"


EVIDENCE_KEYS = ("queried_at", "firing_alerts", "suggested", "lookups", "up", "rtt_seconds", "down", "error")


def evidence_text(evidence: dict[str, Any]) -> str:
    """A check's Prometheus snapshot as ``label: value`` lines in the page's language."""

    def label(key: str) -> str:
        return gettext(f"evidence.{key}") if key in EVIDENCE_KEYS else key

    lines = []
    for key, value in evidence.items():
        if key == "queried_at":
            value = local_time(value)
        elif key == "suggested":
            value = gettext(f"check.{value}") if value in CHECK_RESULTS else "—"
        if isinstance(value, dict):
            lines.extend(f"{label(key)} {k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            lines.append(f"{label(key)}: " + (", ".join(str(v) for v in value) or "—"))
        else:
            lines.append(f"{label(key)}: {value}")
    return "\n".join(lines)


def event_label(event: dict[str, Any]) -> str:
    key = f"event.{event['kind']}"
    return gettext(key) if key in EVENT_KINDS else event["kind"]


def event_detail(event: dict[str, Any]) -> str:
    """The gist of an event's data, for the timeline: which check and its result, who was assigned..."""
    data, kind = event.get("data") or {}, event["kind"]
    if kind == "record_check" and data.get("check") in CHECKS and data.get("result") in CHECK_RESULTS:
        return f"{gettext('check.' + data['check'])}: {gettext('check.' + data['result'])}"
    if kind in ("dispose", "assign") and data.get("technicians"):
        return ", ".join(data["technicians"])
    if kind == "escalate_isp" and data.get("ticket_number"):
        return f"{gettext('case.isp.ticket')} {data['ticket_number']}"
    if kind == "record_recheck" and isinstance(data.get("connected"), bool):
        return gettext("case.isp.connected") if data["connected"] else gettext("case.isp.not_connected")
    if kind == "target_joined" and data.get("target"):
        return target_label(data["target"])
    if kind == "letter_added" and data.get("number"):
        return data["number"]
    if kind == "close" and data.get("reported_to"):
        return data["reported_to"]
    return ""


EVENT_KINDS = {
    f"event.{kind}"
    for kind in (
        "opened", "reopened", "alert_firing", "alert_resolved", "target_joined", "network_restored",
        "incomplete", "letter_added", "comment", "email_sent", "email_failed", "dispose", "assign",
        "start_checks", "record_check", "restore", "escalate_isp", "record_recheck", "return_to_checking",
        "write_report", "close",
    )
}  # fmt: skip


@bp.app_template_filter("local")
def _local_filter(value):
    return local_time(value)


@bp.app_template_filter("long_date")
def _long_date_filter(value):
    return long_date(value)


bp.add_app_template_filter(hours, "hours")
bp.add_app_template_filter(number, "number")
bp.add_app_template_filter(percent, "percent")
bp.add_app_template_filter(evidence_text, "evidence_text")


@bp.app_context_processor
def _page_context() -> dict[str, Any]:
    return {"watchdog_warning": watchdog_warning() if current_user.is_authenticated else None}


def watchdog_warning() -> str | None:
    """The banner text when Alertmanager's Watchdog heartbeat has gone silent, else None."""
    if not services.heartbeat_stale():
        return None
    last = services.last_heartbeat()
    return gettext("watchdog.never") if last is None else gettext("watchdog.silent", since=local_time(last))


def target_label(target_id: str) -> str:
    return services.current_tracker().target_name(target_id)


def target_contact(target_id: str) -> dict[str, str]:
    """Where the target is and whom to call there, from the inventory (OPDs only)."""
    inventory = services.current_tracker().inventory
    try:
        target = inventory.target(target_id) if inventory is not None else None
    except KeyError:
        return {}
    contact = getattr(target, "contact", None)
    return {
        "address": getattr(target, "street_address", "") or "",
        "contact": f"{contact.name}, {contact.phone}" if contact else "",
    }


def _actor() -> services.Actor:
    return services.actor_of(current_user)


def _technician_choices() -> list[tuple[int, str]]:
    return [(u.id, u.display_name) for u in services.list_users(role="technician") if u.active]


def _opd_choices() -> list[tuple[str, str]]:
    inventory = services.current_tracker().inventory
    if inventory is None:
        return []
    return [(t.id, t.name) for t in inventory.targets()]


def _local_input(value: datetime | None) -> datetime | None:
    """A ``datetime-local`` input is wall-clock time in the service's time zone."""
    if value is None:
        return None
    return value.replace(tzinfo=services.current_tracker().calendar.timezone)


def _localised(name: str, value: object) -> str:
    """A refusal's parameter in the page's language (states, checks, roles, actions have their texts)."""
    if isinstance(value, tuple):
        return ", ".join(_localised(name, item) for item in value)
    family = {
        "action": "action",
        "state": "state",
        "states": "state",
        "checks": "check",
        "results": "check",
        "role": "role",
        "complaint_state": "complaints.state",
        "part": "report",
    }.get(name)
    key = f"{family}.{value}"
    # An unknown action (the refusal says so) has no text of its own.
    return gettext(key) if family and has_message(key, current_language()) else str(value)


def refusal_text(error: services.ServiceError) -> str:
    """A refusal of the services in the page's language; other errors keep their English sentence."""
    refusal = error.refusal
    if refusal is None:
        return error.message
    return gettext(
        f"refused.{refusal.code}", **{name: _localised(name, value) for name, value in refusal.params.items()}
    )


def _refused(error: services.ServiceError) -> None:
    flash(gettext("action.refused", reason=refusal_text(error)), "error")


# --- the case list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    case: dict[str, Any]
    target_name: str
    technicians: list[str]
    past_maximum: bool  # past the maximum deadline (end of working day 5)
    past_target: bool  # past the target (end of working day 2); the API calls this "overdue"
    affected_count: int


def _row(item: dict[str, Any]) -> CaseRow:
    return CaseRow(
        case=item,
        target_name=item["target_name"],
        technicians=[a["display_name"] for a in item["assignees"]],
        past_maximum=item["past_maximum"],
        past_target=item["overdue"],
        affected_count=len(item["affected_targets"]),
    )


@bp.route("/")
@login_required
def home():
    if current_user.role == "viewer":
        return redirect(url_for("cases.noc_screen"))
    return redirect(url_for("cases.case_list"))


@bp.route("/cases")
@login_required
def case_list():
    state = request.args.get("state") or ""
    opd = request.args.get("opd") or ""
    technician = request.args.get("technician", type=int)
    overdue = request.args.get("overdue") == "1"
    page = max(request.args.get("page", 1, type=int), 1)
    technicians = services.list_users(role="technician")
    usernames = {u.id: u.username for u in technicians}
    result = services.list_cases(
        state=state if state in STATES else None,
        open_only=state == "open",
        target=opd or None,
        technician=usernames.get(technician) if technician else None,
        overdue=True if overdue else None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )

    def page_url(page_number: int) -> str:
        args = request.args.to_dict()
        args["page"] = str(page_number)
        return url_for("cases.case_list", **args)

    return render_template(
        "case_list.html",
        rows=[_row(item) for item in result.items],
        page=page,
        has_next=result.has_next,
        page_url=page_url,
        states=STATES,
        opds=_opd_choices(),
        technicians=technicians,
        filters={"state": state, "opd": opd, "technician": technician, "overdue": overdue},
    )


@bp.route("/noc")
@login_required
def noc_screen():
    result = services.list_cases(open_only=True, limit=NOC_LIMIT)
    rows = sorted(
        (_row(item) for item in result.items), key=lambda r: (not r.past_maximum, not r.past_target)
    )
    return render_template("noc.html", rows=rows, now=services.current_tracker().now())


# --- the case page ------------------------------------------------------------------------------------


class NoteForm(Form):
    note = TextAreaField(validators=[Optional()])


class DisposeForm(Form):
    technician_ids = SelectMultipleField(
        coerce=int,
        widget=widgets.ListWidget(prefix_label=False),
        option_widget=widgets.CheckboxInput(),
        validators=[DataRequired()],
    )
    note = TextAreaField(validators=[Optional()])


class CheckForm(Form):
    check = HiddenField()
    result = RadioField(validators=[InputRequired()])
    note = TextAreaField(validators=[Optional()])


class RestoreForm(Form):
    restored_at = DateTimeLocalField(validators=[Optional()])
    note = TextAreaField(validators=[Optional()])


class EscalateForm(Form):
    isp = SelectField(validators=[Optional()])
    contact = StringField(validators=[Optional()])
    ticket_number = StringField(validators=[DataRequired()])
    called_at = DateTimeLocalField(validators=[Optional()])
    estimate_at = DateTimeLocalField(validators=[Optional()])
    note = TextAreaField(validators=[Optional()])


class RecheckForm(Form):
    connected = RadioField(validators=[InputRequired()])
    note = TextAreaField(validators=[Optional()])


class ReportForm(Form):
    cause = TextAreaField(validators=[DataRequired()])
    actions = TextAreaField(validators=[DataRequired()])
    parts_replaced = TextAreaField(validators=[Optional()])
    isp_part = TextAreaField(validators=[Optional()])


class CloseForm(Form):
    reported_to = StringField(validators=[DataRequired()])
    note = TextAreaField(validators=[Optional()])


class CommentForm(Form):
    note = TextAreaField(validators=[DataRequired()])


ACTION_FORMS: dict[str, type[Form]] = {
    "dispose": DisposeForm,
    "assign": DisposeForm,
    "start_checks": NoteForm,
    "escalate_isp": EscalateForm,
    "record_recheck": RecheckForm,
    "return_to_checking": NoteForm,
    "restore": RestoreForm,
    "write_report": ReportForm,
    "close": CloseForm,
}
# Fields whose meaning needs a hint under them.
HINTED_FIELDS = ("restored_at", "called_at")


def _make_form(action: str, case: dict[str, Any], formdata=None) -> Form:
    form = ACTION_FORMS[action](formdata=formdata, prefix=action)
    if isinstance(form, DisposeForm):
        assigned = {a["id"] for a in case["assignees"]}
        form.technician_ids.choices = [(i, n) for i, n in _technician_choices() if i not in assigned]
    if isinstance(form, EscalateForm):
        inventory = services.current_tracker().inventory
        isps = [] if inventory is None else [(i.id, f"{i.provider} ({i.name})") for i in inventory.isps]
        form.isp.choices = isps or [(case["isp"] or "", case["isp"] or "—")]
        if formdata is None and case["isp"]:
            form.isp.data = case["isp"]
    if isinstance(form, RecheckForm):
        form.connected.choices = [("yes", gettext("form.yes")), ("no", gettext("form.no"))]
    return form


def _check_form(check: str, formdata=None, suggested: str | None = None) -> CheckForm:
    """A check's form; the result the monitoring evidence suggests is pre-selected, the technician decides."""
    form = CheckForm(formdata=formdata, prefix=f"check-{check}")
    form.result.choices = [(r, gettext(f"check.{r}")) for r in CHECK_RESULTS]
    if formdata is None:
        form.check.data = check
        if suggested in CHECK_RESULTS:
            form.result.data = suggested
    return form


def _apply(action: str, case_id: int, form: Form) -> None:
    """Call the service function behind ``action`` with the form's data."""
    actor, data = _actor(), form.data
    note = data.get("note") or ""
    match action:
        case "dispose" | "assign":
            getattr(services, action)(actor, case_id, data["technician_ids"], note=note)
        case "start_checks" | "return_to_checking":
            getattr(services, action)(actor, case_id, note=note)
        case "escalate_isp":
            services.escalate_isp(
                actor,
                case_id,
                data["ticket_number"].strip(),
                called_at=_local_input(data["called_at"]),
                estimate_at=_local_input(data["estimate_at"]),
                isp=data["isp"] or None,
                contact=(data["contact"] or "").strip() or None,
                note=note,
            )
        case "record_recheck":
            services.record_recheck(actor, case_id, data["connected"] == "yes", note=note)
        case "restore":
            services.restore(actor, case_id, _local_input(data["restored_at"]), note=note)
        case "write_report":
            services.write_report(
                actor,
                case_id,
                data["cause"],
                data["actions"],
                data["parts_replaced"] or "",
                data["isp_part"] or "",
            )
        case "close":
            services.close(actor, case_id, data["reported_to"].strip(), note=note)


@dataclass(frozen=True)
class ChecklistItem:
    check: str
    recorded: dict[str, Any] | None  # the latest result of the current round
    actor: str
    prefill: dict[str, Any] | None
    form: CheckForm | None


def checklist(case: dict[str, Any]) -> list[ChecklistItem]:
    """The four checks of the current round, without forms (for the report)."""
    return _checklist(case, prefill={}, forms={})


def _checklist(case, prefill, forms) -> list[ChecklistItem]:
    this_round = [c for c in case["checks"] if c["round"] == case["check_round"]]
    items = []
    for check in CHECKS:
        recorded = next((c for c in reversed(this_round) if c["check"] == check), None)
        items.append(
            ChecklistItem(
                check=check,
                recorded=recorded,
                actor=(recorded or {}).get("by") or "",
                prefill=prefill.get(check),
                form=forms.get(check),
            )
        )
    return items


def _chart(case: dict[str, Any]) -> tuple[chart_layout.Chart | None, str | None, datetime, datetime]:
    """Reachability and RTT of the case's target around the disruption, from Prometheus' query_range.

    Returns the chart, or why there is none (Prometheus not configured or unreachable: the page still
    renders), and the window shown.
    """
    from .promquery import PrometheusError, target_series

    tracker = services.current_tracker()
    received = parse_instant(case["received_at"])
    restored = parse_instant(case["restored_at"] or case["network_restored_at"])
    start, end = chart_layout.window_around(received, restored, tracker.now())
    if tracker.prometheus is None:
        return None, gettext("case.chart.not_configured"), start, end
    try:
        series = target_series(tracker.prometheus, case["target"], start, end)
    except PrometheusError as error:
        return None, str(error), start, end
    markers = [(received, "case.chart.received")]
    if restored is not None:
        markers.append((restored, "case.chart.restored"))
    return chart_layout.layout(series["up"], series["rtt"], start, end, markers), None, start, end


# The Grafana dashboard (grafana/dashboards/) showing one target, and its variable, by inventory kind.
GRAFANA_DASHBOARDS = {"opd": ("batiknet-opd", "opd"), "router": ("batiknet-core", "device"),
                      "switch": ("batiknet-core", "device")}  # fmt: skip
GRAFANA_OVERVIEW = "batiknet-noc"


def grafana_url(episode: dict[str, Any]) -> str | None:
    """The dashboard of the episode's target around the episode (the NOC overview for ISPs and DNS)."""
    tracker = services.current_tracker()
    base = tracker.config.get("BATIKNET_GRAFANA_URL")
    if not base or not episode.get("target"):
        return None
    try:
        kind = tracker.inventory.target(episode["target"]).kind if tracker.inventory is not None else "opd"
    except KeyError:
        kind = None
    starts, ends = parse_instant(episode["starts_at"]), parse_instant(episode["ends_at"])
    window = f"from={int(starts.timestamp() * 1000) - 3_600_000}"
    window += "&to=now" if ends is None else f"&to={int(ends.timestamp() * 1000) + 1_800_000}"
    if kind in GRAFANA_DASHBOARDS:
        uid, variable = GRAFANA_DASHBOARDS[kind]
        return f"{base.rstrip('/')}/d/{uid}?var-{variable}={episode['target']}&{window}"
    return f"{base.rstrip('/')}/d/{GRAFANA_OVERVIEW}?{window}"


def _render_case(case_id: int, bound: dict[str, Form] | None = None, status: int = 200):
    bound = bound or {}
    case = services.get_case(case_id)
    allowed = services.allowed_actions(case_id, _actor())
    forms = {name: bound.get(name) or _make_form(name, case) for name in ACTION_FORMS if name in allowed}
    check_forms, prefill = {}, {}
    if "record_check" in allowed:
        prefill = services.check_prefill(case_id)
        check_forms = {
            c: bound.get(f"check-{c}") or _check_form(c, suggested=prefill.get(c, {}).get("suggested"))
            for c in CHECKS
        }
    comment_form = (
        bound.get("comment") or CommentForm(prefix="comment") if current_user.role != "viewer" else None
    )
    chart, chart_error, chart_start, chart_end = _chart(case)
    return render_template(
        "case.html",
        case=case,
        target_name=case["target_name"],
        affected=[target_label(t) for t in case["affected_targets"]],
        contact=target_contact(case["target"]),
        technicians=[a["display_name"] for a in case["assignees"]],
        forms=forms,
        comment_form=comment_form,
        hinted_fields=HINTED_FIELDS,
        checklist=_checklist(case, prefill, check_forms),
        chart=chart,
        chart_error=chart_error,
        chart_start=chart_start,
        chart_end=chart_end,
        grafana_url=grafana_url,
        target_label=target_label,
        event_label=event_label,
        event_detail=event_detail,
    ), status


@bp.route("/cases/<int:case_id>")
@login_required
def case_page(case_id: int):
    try:
        return _render_case(case_id)
    except services.NotFound:
        abort(404)


@bp.route("/cases/<int:case_id>/actions/<action>", methods=["POST"])
@login_required
def case_action(case_id: int, action: str):
    if action not in ACTION_FORMS:
        abort(404)
    try:
        case = services.get_case(case_id)
    except services.NotFound:
        abort(404)
    form = _make_form(action, case, formdata=request.form)
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render_case(case_id, {action: form}, 400)
    try:
        _apply(action, case_id, form)
    except services.ServiceError as error:
        _refused(error)
        return _render_case(case_id, {action: form}, error.status)
    flash(gettext("action.done"), "success")
    return redirect(url_for("cases.case_page", case_id=case_id))


@bp.route("/cases/<int:case_id>/checks/<check>", methods=["POST"])
@login_required
def case_check(case_id: int, check: str):
    if check not in CHECKS:
        abort(404)
    form = _check_form(check, formdata=request.form)
    if not form.validate() or form.result.data not in CHECK_RESULTS:
        flash(gettext("form.invalid"), "error")
        return _render_case(case_id, {f"check-{check}": form}, 400)
    try:
        services.record_check(_actor(), case_id, check, form.result.data, note=form.note.data or "")
    except services.NotFound:
        abort(404)
    except services.ServiceError as error:
        _refused(error)
        return _render_case(case_id, {f"check-{check}": form}, error.status)
    flash(gettext("action.done"), "success")
    return redirect(url_for("cases.case_page", case_id=case_id, _anchor="checklist"))


@bp.route("/cases/<int:case_id>/comments", methods=["POST"])
@login_required
def case_comment(case_id: int):
    form = CommentForm(prefix="comment")
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render_case(case_id, {"comment": form}, 400)
    try:
        services.add_comment(_actor(), case_id, form.note.data)
    except services.NotFound:
        abort(404)
    except services.ServiceError as error:
        _refused(error)
        return _render_case(case_id, {"comment": form}, error.status)
    return redirect(url_for("cases.case_page", case_id=case_id, _anchor="timeline"))


# --- letters ------------------------------------------------------------------------------------------


class LetterForm(Form):
    number = StringField(validators=[DataRequired()])
    letter_date = DateField(validators=[InputRequired()])  # so a malformed date says so
    opd = SelectField(validators=[DataRequired()])
    reporter = StringField(validators=[DataRequired()])
    description = TextAreaField(validators=[DataRequired()])
    received_at = DateTimeLocalField(validators=[Optional()])
    scan = FileField()

    def validate_scan(self, field) -> None:
        upload = field.data
        if not upload or not upload.filename:
            return
        head = upload.stream.read(16)
        upload.stream.seek(0)
        magic = LETTER_TYPES.get(upload.mimetype)
        # The browser's type is only a claim; the first bytes must agree with it.
        if magic is None or not head.startswith(magic):
            raise ValidationError(gettext("letter.scan_type"))
        upload.stream.seek(0, 2)
        size = upload.stream.tell()
        upload.stream.seek(0)
        if size > _max_letter_bytes():
            raise ValidationError(gettext("letter.scan_size", max_mb=_max_letter_mb()))


def _max_letter_bytes() -> int:
    return int(services.current_tracker().config.get("BATIKNET_MAX_LETTER_BYTES") or 10 << 20)


def _max_letter_mb() -> str:
    return number(_max_letter_bytes() / (1 << 20))


@bp.route("/letters/new", methods=["GET", "POST"])
@roles_required("head", "technician")
def new_letter():
    form = LetterForm()
    form.opd.choices = _opd_choices()
    if request.method == "GET" and request.args.get("opd"):
        form.opd.data = request.args["opd"]
    if form.validate_on_submit():
        upload = form.scan.data
        data = upload.read() if upload and upload.filename else None
        letter = services.LetterInput(
            opd=form.opd.data,
            number=form.number.data.strip(),
            letter_date=form.letter_date.data,
            reporter=form.reporter.data.strip(),
            description=form.description.data.strip(),
            received_at=_local_input(form.received_at.data),
            file_name=upload.filename if data else None,
            file_mime=upload.mimetype if data else None,
            file_data=data,
        )
        try:
            case = services.open_letter_case(_actor(), letter)
        except services.ServiceError as error:
            _refused(error)
        else:
            joined = len(case["letters"]) > 1 or case["source"] == "alert"
            message = (
                gettext("letter.joined", id=case["id"]) if joined else gettext("letter.saved", id=case["id"])
            )
            flash(message, "success")
            return redirect(url_for("cases.case_page", case_id=case["id"]))
    elif form.is_submitted():
        flash(gettext("form.invalid"), "error")
    return render_template("letter.html", form=form, max_mb=_max_letter_mb()), 400 if form.errors else 200


@bp.route("/letters/<int:letter_id>/scan")
@login_required
def letter_scan(letter_id: int):
    try:
        name, mime, data = services.letter_file(letter_id)
    except services.NotFound:
        abort(404)
    response = send_file(BytesIO(data), mimetype=mime, download_name=name)
    # An uploaded file is shown, never run: no scripts, no plugins, no same-origin access.
    response.headers["Content-Security-Policy"] = "default-src 'none'; sandbox"
    return response


@bp.app_errorhandler(413)
def _too_large(error):
    if request.path.startswith("/api/"):
        return error
    message = gettext("letter.scan_size", max_mb=_max_letter_mb())
    return render_template("error.html", code=413, message=message), 413


# --- complaints (SOP section 6) ----------------------------------------------------------------------


class ComplaintForm(Form):
    complainant = StringField(validators=[DataRequired()])
    contact = StringField(validators=[Optional()])
    channel = SelectField()
    case_id = StringField(validators=[Optional()])
    description = TextAreaField(validators=[DataRequired()])


class RespondForm(Form):
    response = TextAreaField(validators=[DataRequired()])
    solved = RadioField(validators=[InputRequired()])


class EscalateComplaintForm(Form):
    official_name = StringField(validators=[DataRequired()])


class ResolveComplaintForm(Form):
    resolution = TextAreaField(validators=[DataRequired()])


COMPLAINT_STEPS = {
    "respond": ("received", RespondForm),
    "escalate": ("responded", EscalateComplaintForm),
    "resolve": ("escalated", ResolveComplaintForm),
}


def _complaint_form(step: str, complaint_id: int, formdata=None) -> Form:
    form = COMPLAINT_STEPS[step][1](formdata=formdata, prefix=f"c{complaint_id}-{step}")
    if isinstance(form, RespondForm):
        form.solved.choices = [
            ("yes", gettext("complaints.solved")),
            ("no", gettext("complaints.not_solved")),
        ]
    return form


def _working_seconds_since(start: str, end: str | None) -> float | None:
    if end is None:
        return None
    return services.current_tracker().working_seconds(parse_instant(start), parse_instant(end))


def _new_complaint_form(formdata=None) -> ComplaintForm:
    form = ComplaintForm(formdata=formdata, prefix="new")
    form.channel.choices = [(c, gettext(f"complaints.channel.{c}")) for c in COMPLAINT_CHANNELS]
    return form


def _render_complaints(new_form: ComplaintForm | None = None, bound: dict | None = None, status: int = 200):
    bound = bound or {}
    items = []
    for c in services.list_complaints():
        step = next((s for s, (state, _) in COMPLAINT_STEPS.items() if state == c["state"]), None)
        forms = {}
        if step:
            forms[step] = bound.get((c["id"], step)) or _complaint_form(step, c["id"])
        items.append(
            {
                "complaint": c,
                "forms": forms,
                "response_hours": hours(c["response_working_seconds"]),
                "escalation_hours": hours(_working_seconds_since(c["received_at"], c["escalated_at"])),
                "resolution_hours": hours(c["resolution_working_seconds"]),
            }
        )
    return render_template(
        "complaints.html", complaints=items, new_form=new_form or _new_complaint_form()
    ), status


@bp.route("/complaints", methods=["GET", "POST"])
@roles_required("head")
def complaints():
    if request.method == "GET":
        return _render_complaints()
    form = _new_complaint_form(request.form)
    case_text = (form.case_id.data or "").strip().lstrip("#")
    if form.validate() and (not case_text or case_text.isdigit()):
        try:
            services.file_complaint(
                _actor(),
                form.complainant.data.strip(),
                form.description.data.strip(),
                form.channel.data,
                (form.contact.data or "").strip(),
                int(case_text) if case_text else None,
            )
        except services.ServiceError as error:
            _refused(error)
            return _render_complaints(form, status=error.status)
        flash(gettext("action.done"), "success")
        return redirect(url_for("cases.complaints"))
    flash(gettext("form.invalid"), "error")
    return _render_complaints(form, status=400)


@bp.route("/complaints/<int:complaint_id>/<action>", methods=["POST"])
@roles_required("head")
def complaint_action(complaint_id: int, action: str):
    if action not in COMPLAINT_STEPS:
        abort(404)
    form = _complaint_form(action, complaint_id, request.form)
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render_complaints(bound={(complaint_id, action): form}, status=400)
    actor = _actor()
    try:
        if action == "respond":
            services.respond_complaint(
                actor, complaint_id, form.response.data.strip(), form.solved.data == "yes"
            )
        elif action == "escalate":
            services.escalate_complaint(actor, complaint_id, form.official_name.data.strip())
        else:
            services.resolve_complaint(actor, complaint_id, form.resolution.data.strip())
    except services.ServiceError as error:
        _refused(error)
        return _render_complaints(bound={(complaint_id, action): form}, status=error.status)
    flash(gettext("action.done"), "success")
    return redirect(url_for("cases.complaints", _anchor=f"complaint-{complaint_id}"))


# --- the quarterly evaluation (SOP section 14) -------------------------------------------------------


def requested_quarter() -> tuple[int, int]:
    """``?year=&quarter=``, defaulting to the current quarter in the service's time zone."""
    tracker = services.current_tracker()
    year, quarter = quarter_of(tracker.now().astimezone(tracker.calendar.timezone).date())
    year = request.args.get("year", year, type=int)
    quarter = request.args.get("quarter", quarter, type=int)
    if not 2000 <= year <= 2100 or quarter not in (1, 2, 3, 4):
        abort(404)
    return year, quarter


def quarterly_scores(start: datetime, end: datetime) -> list[TechnicianScore]:
    """Scores of every technician for the cases received in ``[start, end)``.

    Plain rows rather than ORM objects: a quarter of a busy year holds thousands of cases.
    """
    in_quarter = (Case.received_at >= start, Case.received_at < end)
    with services.current_tracker().db.read() as session:
        rows = session.execute(
            select(
                Case.id,
                Case.received_at,
                Case.restored_at,
                Case.target_deadline,
                Case.maximum_deadline,
                Case.restore_working_seconds,
                User.id,
                User.display_name,
            )
            .outerjoin(CaseAssignment, CaseAssignment.case_id == Case.id)
            .outerjoin(User, User.id == CaseAssignment.user_id)
            .where(*in_quarter)
            .order_by(Case.id)
        ).all()
        complaints = dict(
            session.execute(
                select(Complaint.case_id, func.count(Complaint.id))
                .join(Case, Case.id == Complaint.case_id)
                .where(*in_quarter)
                .group_by(Complaint.case_id)
            ).all()
        )
        technicians = [
            Technician(user_id, name)
            for user_id, name in session.execute(
                select(User.id, User.display_name)
                .where(User.role == "technician", User.active)
                .order_by(User.display_name, User.id)
            )
        ]
    facts = []
    for case_id, group in groupby(rows, key=lambda row: row[0]):
        group = list(group)
        _, received_at, restored_at, target_deadline, maximum_deadline, restore_seconds, _, _ = group[0]
        facts.append(
            CaseFacts(
                case_id=case_id,
                technicians=tuple(Technician(row[-2], row[-1]) for row in group if row[-2] is not None),
                received_at=received_at,
                restored_at=restored_at,
                target_deadline=target_deadline,
                maximum_deadline=maximum_deadline,
                restore_working_seconds=restore_seconds,
                complaints=complaints.get(case_id, 0),
            )
        )
    return evaluate(technicians, facts)


def evaluation_context(year: int, quarter: int) -> dict[str, Any]:
    tracker = services.current_tracker()
    start, end = quarter_bounds(year, quarter, tracker.calendar.timezone)
    return {
        "year": year,
        "quarter": quarter,
        "period_start": start.date(),
        "period_end": (end - timedelta(days=1)).date(),
        "scores": quarterly_scores(start, end),
        "now": tracker.now(),
    }


@bp.route("/evaluation")
@roles_required("head")
def evaluation():
    return render_template("evaluation.html", **evaluation_context(*requested_quarter()))


# --- user accounts (admin) ----------------------------------------------------------------------------


class NewUserForm(Form):
    username = StringField(validators=[DataRequired()])
    display_name = StringField(validators=[DataRequired()])
    role = SelectField()
    email = StringField(validators=[Optional()])
    password = PasswordField(validators=[DataRequired()])


class PasswordForm(Form):
    password = PasswordField(validators=[DataRequired()])


def _new_user_form(formdata=None) -> NewUserForm:
    form = NewUserForm(formdata=formdata, prefix="new")
    form.role.choices = [(role, gettext(f"role.{role}")) for role in ROLES]
    return form


def _render_users(new_form: NewUserForm | None = None, status: int = 200):
    users = services.list_users()
    forms = {u.username: PasswordForm(formdata=None, prefix=f"pw-{u.id}") for u in users}
    return render_template("users.html", users=users, password_forms=forms,
                           new_form=new_form or _new_user_form()), status  # fmt: skip


@bp.route("/admin/users", methods=["GET", "POST"])
@roles_required()
def users():
    if request.method == "GET":
        return _render_users()
    form = _new_user_form(request.form)
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render_users(form, 400)
    try:
        services.create_user(form.username.data.strip(), form.display_name.data.strip(), form.role.data,
                             form.password.data, (form.email.data or "").strip() or None)  # fmt: skip
    except services.ServiceError as error:
        _refused(error)
        return _render_users(form, error.status)
    flash(gettext("users.created", username=form.username.data.strip()), "success")
    return redirect(url_for("cases.users"))


def _user_id(username: str) -> int:
    found = next((u.id for u in services.list_users() if u.username == username), None)
    if found is None:
        abort(404)
    return found


@bp.route("/admin/users/<username>/password", methods=["POST"])
@roles_required()
def user_password(username: str):
    form = PasswordForm(prefix=f"pw-{_user_id(username)}")
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render_users(status=400)
    try:
        services.set_password(username, form.password.data)
    except services.ServiceError as error:
        _refused(error)
        return _render_users(status=error.status)
    flash(gettext("users.password_set", username=username), "success")
    return redirect(url_for("cases.users"))


@bp.route("/admin/users/<username>/active", methods=["POST"])
@roles_required()
def user_active(username: str):
    _user_id(username)
    if username == current_user.username:
        flash(gettext("users.not_yourself"), "error")
        return _render_users(status=409)
    active = request.form.get("active") == "1"
    services.set_active(username, active)
    message = (
        gettext("users.activated", username=username)
        if active
        else gettext("users.deactivated", username=username)
    )
    flash(message, "success")
    return redirect(url_for("cases.users"))
