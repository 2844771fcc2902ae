"""The server-rendered pages of the case tracker (blueprint ``cases``).

Every page needs a signed-in user. Pages only read and present; every change goes through
:mod:`alert_webhook.services`, the same functions the JSON API calls, so the workflow's rules and
permissions hold however a person acts. A refused action comes back as a flash message with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from io import BytesIO
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import current_user, login_required
from flask_wtf.file import FileField
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

from .auth import Form, roles_required
from .core import chart as chart_layout
from .core import complaints as complaint_policy
from .core.complaints import ComplaintChannel
from .core.workflow import USER_ROLES, CaseState, Check, CheckResult, EventKind, Role
from .extension import current_tracker
from .i18n import MESSAGES, current_language, gettext
from .services import (
    NotFound,
    ServiceError,
    TooLarge,
    Unsupported,
    accounts,
    actor_of,
    cases,
    casework,
    evidence,
    letters,
    notifications,
)
from .services import complaints as complaint_service
from .services import evaluation as evaluation_service
from .services.letters import LetterInput
from .services.views import CaseDetail, CaseSummary, EventView

bp = Blueprint("cases", __name__)

PAGE_SIZE = 25  # a phone screen or two; each row costs a case summary from the services
NOC_LIMIT = 200
COMPLAINT_CHANNELS = tuple(ComplaintChannel)


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
    return instant.astimezone(current_tracker().calendar.timezone).strftime("%d-%m-%Y %H:%M %Z")


def long_date(value: date | datetime | str | None) -> str:
    """``30 November 2026``, the month named in the page's language (Desember / December)."""
    if value is None:
        return "—"
    if isinstance(value, str):
        value = date.fromisoformat(value) if len(value) == 10 else parse_instant(value)
    if isinstance(value, datetime):
        value = value.astimezone(current_tracker().calendar.timezone).date()
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
            value = gettext(f"check.{value}") if value in tuple(CheckResult) else "—"
        if isinstance(value, dict):
            lines.extend(f"{label(key)} {k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            lines.append(f"{label(key)}: " + (", ".join(str(v) for v in value) or "—"))
        else:
            lines.append(f"{label(key)}: {value}")
    return "\n".join(lines)


def event_label(event: EventView) -> str:
    key = f"event.{event.kind}"
    return gettext(key) if key in EVENT_KINDS else event.kind


def event_detail(event: EventView) -> str:
    """The gist of an event's data, for the timeline: which check and its result, who was assigned..."""
    data, kind = event.data, event.kind
    if (
        kind == "record_check"
        and data.get("check") in tuple(Check)
        and data.get("result") in tuple(CheckResult)
    ):
        return f"{gettext('check.' + data['check'])}: {gettext('check.' + data['result'])}"
    if kind in ("dispose", "assign") and data.get("technicians"):
        return ", ".join(data["technicians"])
    if kind == "escalate_isp" and data.get("ticket_number"):
        return f"{gettext('case.isp.ticket')} {data['ticket_number']}"
    if kind == "record_recheck" and isinstance(data.get("connected"), bool):
        return gettext("case.isp.connected" if data["connected"] else "case.isp.not_connected")
    if kind == "target_joined" and data.get("target"):
        return target_label(data["target"])
    if kind == "letter_added" and data.get("number"):
        return data["number"]
    if kind == "close" and data.get("reported_to"):
        return data["reported_to"]
    return ""


EVENT_KINDS = {f"event.{kind}" for kind in EventKind}


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
    tracker = current_tracker()
    if not notifications.heartbeat_stale(tracker):
        return None
    last = notifications.last_heartbeat(tracker)
    return gettext("watchdog.never") if last is None else gettext("watchdog.silent", since=local_time(last))


def target_label(target_id: str) -> str:
    return current_tracker().target_name(target_id)


def target_contact(target_id: str) -> dict[str, str]:
    """Where the target is and whom to call there, from the inventory (OPDs only)."""
    target = current_tracker().inventory_entry(target_id)
    contact = getattr(target, "contact", None)
    return {
        "address": getattr(target, "street_address", "") or "",
        "contact": f"{contact.name}, {contact.phone}" if contact else "",
    }


def _actor():
    return actor_of(current_user)


def _technician_choices() -> list[tuple[int, str]]:
    return [
        (u.id, u.display_name) for u in accounts.list_users(current_tracker(), Role.TECHNICIAN) if u.active
    ]


def _opd_choices() -> list[tuple[str, str]]:
    inventory = current_tracker().inventory
    if inventory is None:
        return []
    return [(t.id, t.name) for t in inventory.targets()]


def _local_input(value: datetime | None) -> datetime | None:
    """A ``datetime-local`` input is wall-clock time in the service's time zone."""
    if value is None:
        return None
    return value.replace(tzinfo=current_tracker().calendar.timezone)


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
    return gettext(key) if family and key in MESSAGES[current_language()] else str(value)


def refusal_text(error: ServiceError) -> str:
    """A refusal of the services in the page's language; other errors keep their English sentence."""
    refusal = error.refusal
    if refusal is None:
        return error.message
    return gettext(
        f"refused.{refusal.code}", **{name: _localised(name, value) for name, value in refusal.params.items()}
    )


def _refused(error: ServiceError) -> None:
    flash(gettext("action.refused", reason=refusal_text(error)), "error")


# --- the case list ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CaseRow:
    case: CaseSummary
    target_name: str
    technicians: list[str]
    past_maximum: bool  # past the maximum deadline (end of working day 5)
    past_target: bool  # past the target (end of working day 2); the API calls this "overdue"
    affected_count: int


def _row(item: CaseSummary) -> CaseRow:
    return CaseRow(
        case=item,
        target_name=item.target_name,
        technicians=[a.display_name for a in item.assignees],
        past_maximum=item.past_maximum,
        past_target=item.overdue,
        affected_count=len(item.affected_targets),
    )


@bp.route("/")
@login_required
def home():
    if current_user.role == Role.VIEWER:
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
    technicians = accounts.list_users(current_tracker(), Role.TECHNICIAN)
    usernames = {u.id: u.username for u in technicians}
    result = cases.list_cases(
        current_tracker(),
        state=CaseState(state) if state in tuple(CaseState) else None,
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
        states=tuple(CaseState),
        opds=_opd_choices(),
        technicians=technicians,
        filters={"state": state, "opd": opd, "technician": technician, "overdue": overdue},
    )


@bp.route("/noc")
@login_required
def noc_screen():
    result = cases.list_cases(current_tracker(), open_only=True, limit=NOC_LIMIT)
    rows = sorted(
        (_row(item) for item in result.items), key=lambda r: (not r.past_maximum, not r.past_target)
    )
    return render_template("noc.html", rows=rows, now=current_tracker().now())


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


def _make_form(action: str, case: CaseDetail, formdata=None) -> Form:
    form = ACTION_FORMS[action](formdata=formdata, prefix=action)
    if isinstance(form, DisposeForm):
        assigned = {a.id for a in case.assignees}
        form.technician_ids.choices = [(i, n) for i, n in _technician_choices() if i not in assigned]
    if isinstance(form, EscalateForm):
        inventory = current_tracker().inventory
        isps = [] if inventory is None else [(i.id, f"{i.provider} ({i.name})") for i in inventory.isps]
        form.isp.choices = isps or [(case.isp or "", case.isp or "—")]
        if formdata is None and case.isp:
            form.isp.data = case.isp
    if isinstance(form, RecheckForm):
        form.connected.choices = [("yes", gettext("form.yes")), ("no", gettext("form.no"))]
    return form


def _check_form(check: str, formdata=None, suggested: str | None = None) -> CheckForm:
    """A check's form; the result the monitoring evidence suggests is pre-selected, the technician decides."""
    form = CheckForm(formdata=formdata, prefix=f"check-{check}")
    form.result.choices = [(r.value, gettext(f"check.{r}")) for r in CheckResult]
    if formdata is None:
        form.check.data = check
        if suggested in tuple(CheckResult):
            form.result.data = suggested
    return form


def _apply(action: str, case_id: int, form: Form) -> None:
    """Call the service function behind ``action`` with the form's data."""
    tracker, actor, data = current_tracker(), _actor(), form.data
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
                called_at=_local_input(data["called_at"]),
                estimate_at=_local_input(data["estimate_at"]),
                isp=data["isp"] or None,
                contact=(data["contact"] or "").strip() or None,
                note=note,
            )
        case "record_recheck":
            casework.record_recheck(tracker, actor, case_id, data["connected"] == "yes", note=note)
        case "restore":
            casework.restore(tracker, actor, case_id, _local_input(data["restored_at"]), note=note)
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


@dataclass(frozen=True)
class ChecklistItem:
    check: Check
    recorded: Any | None  # the latest CheckView of the current round
    actor: str
    prefill: dict[str, Any] | None
    form: CheckForm | None


def checklist(case: CaseDetail) -> list[ChecklistItem]:
    """The four checks of the current round, without forms (for the report)."""
    return _checklist(case, prefill={}, forms={})


def _checklist(case, prefill, forms) -> list[ChecklistItem]:
    this_round = [c for c in case.checks if c.round == case.check_round]
    items = []
    for check in Check:
        recorded = next((c for c in reversed(this_round) if c.check == check), None)
        items.append(
            ChecklistItem(
                check=check,
                recorded=recorded,
                actor=(recorded.by if recorded else None) or "",
                prefill=prefill.get(check),
                form=forms.get(check),
            )
        )
    return items


def _chart(case_id: int) -> tuple[chart_layout.Chart | None, str | None, datetime, datetime]:
    """Reachability and RTT of the case's target around the disruption (:func:`evidence.case_chart`).

    Returns the chart, or why there is none (Prometheus not configured or unreachable: the page still
    renders), and the window shown.
    """
    tracker = current_tracker()
    series = evidence.case_chart(tracker, case_id)
    if tracker.prometheus is None:
        return None, gettext("case.chart.not_configured"), series.start, series.end
    if series.error is not None:
        return None, series.error, series.start, series.end
    markers = [(series.received_at, "case.chart.received")]
    if series.restored_at is not None:
        markers.append((series.restored_at, "case.chart.restored"))
    chart = chart_layout.layout(series.up, series.rtt, series.start, series.end, markers)
    return chart, None, series.start, series.end


# The Grafana dashboard (grafana/dashboards/) showing one target, and its variable, by inventory kind.
GRAFANA_DASHBOARDS = {"opd": ("batiknet-opd", "opd"), "router": ("batiknet-core", "device"),
                      "switch": ("batiknet-core", "device")}  # fmt: skip
GRAFANA_OVERVIEW = "batiknet-noc"


def grafana_url(episode: Any) -> str | None:
    """The dashboard of the episode's target around the episode (the NOC overview for ISPs and DNS)."""
    tracker = current_tracker()
    base = tracker.settings.grafana_url
    if not base or not episode.target:
        return None
    entry = tracker.inventory_entry(episode.target)
    kind = "opd" if tracker.inventory is None else (entry.kind if entry is not None else None)
    starts, ends = episode.starts_at, episode.ends_at
    window = f"from={int(starts.timestamp() * 1000) - 3_600_000}"
    window += "&to=now" if ends is None else f"&to={int(ends.timestamp() * 1000) + 1_800_000}"
    if kind in GRAFANA_DASHBOARDS:
        uid, variable = GRAFANA_DASHBOARDS[kind]
        return f"{base.rstrip('/')}/d/{uid}?var-{variable}={episode.target}&{window}"
    return f"{base.rstrip('/')}/d/{GRAFANA_OVERVIEW}?{window}"


def _render_case(case_id: int, bound: dict[str, Form] | None = None, status: int = 200):
    bound = bound or {}
    tracker = current_tracker()
    case = cases.get_case(tracker, case_id)
    allowed = cases.allowed_actions(tracker, case_id, _actor())
    forms = {name: bound.get(name) or _make_form(name, case) for name in ACTION_FORMS if name in allowed}
    check_forms, prefill = {}, {}
    if "record_check" in allowed:
        prefill = evidence.check_prefill(tracker, case_id)
        check_forms = {
            c: bound.get(f"check-{c}") or _check_form(c, suggested=prefill.get(c, {}).get("suggested"))
            for c in Check
        }
    comment_form = (
        bound.get("comment") or CommentForm(prefix="comment") if current_user.role != Role.VIEWER else None
    )
    chart, chart_error, chart_start, chart_end = _chart(case_id)
    return render_template(
        "case.html",
        case=case,
        target_name=case.target_name,
        affected=[target_label(t) for t in case.affected_targets],
        contact=target_contact(case.target),
        technicians=[a.display_name for a in case.assignees],
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
    except NotFound:
        abort(404)


@bp.route("/cases/<int:case_id>/actions/<action>", methods=["POST"])
@login_required
def case_action(case_id: int, action: str):
    if action not in ACTION_FORMS:
        abort(404)
    try:
        case = cases.get_case(current_tracker(), case_id)
    except NotFound:
        abort(404)
    form = _make_form(action, case, formdata=request.form)
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render_case(case_id, {action: form}, 400)
    try:
        _apply(action, case_id, form)
    except ServiceError as error:
        _refused(error)
        return _render_case(case_id, {action: form}, error.status)
    flash(gettext("action.done"), "success")
    return redirect(url_for("cases.case_page", case_id=case_id))


@bp.route("/cases/<int:case_id>/checks/<check>", methods=["POST"])
@login_required
def case_check(case_id: int, check: str):
    if check not in tuple(Check):
        abort(404)
    form = _check_form(check, formdata=request.form)
    if not form.validate() or form.result.data not in tuple(CheckResult):
        flash(gettext("form.invalid"), "error")
        return _render_case(case_id, {f"check-{check}": form}, 400)
    try:
        casework.record_check(
            current_tracker(),
            _actor(),
            case_id,
            Check(check),
            CheckResult(form.result.data),
            form.note.data or "",
        )
    except NotFound:
        abort(404)
    except ServiceError as error:
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
        casework.add_comment(current_tracker(), _actor(), case_id, form.note.data)
    except NotFound:
        abort(404)
    except ServiceError as error:
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
    checked_scan: letters.Scan | None = None  # the scan as validate_scan accepted it

    def validate_scan(self, field) -> None:
        """The services' one rule for scans (:func:`letters.check_scan`), worded for the page."""
        upload = field.data
        if not upload or not upload.filename:
            self.checked_scan = None
            return
        try:
            self.checked_scan = letters.check_scan(current_tracker(), upload.filename, upload.read())
        except Unsupported:
            raise ValidationError(gettext("letter.scan_type")) from None
        except TooLarge:
            raise ValidationError(gettext("letter.scan_size", max_mb=_max_letter_mb())) from None


def _max_letter_mb() -> str:
    return number(current_tracker().settings.max_letter_bytes / (1 << 20))


@bp.route("/letters/new", methods=["GET", "POST"])
@roles_required("head", "technician")
def new_letter():
    form = LetterForm()
    form.opd.choices = _opd_choices()
    if request.method == "GET" and request.args.get("opd"):
        form.opd.data = request.args["opd"]
    if form.validate_on_submit():
        letter = LetterInput(
            opd=form.opd.data,
            number=form.number.data.strip(),
            letter_date=form.letter_date.data,
            reporter=form.reporter.data.strip(),
            description=form.description.data.strip(),
            received_at=_local_input(form.received_at.data),
            scan=form.checked_scan,
        )
        try:
            case = letters.open_letter_case(current_tracker(), _actor(), letter)
        except ServiceError as error:
            _refused(error)
        else:
            joined = len(case.letters) > 1 or case.source == "alert"
            flash(gettext("letter.joined" if joined else "letter.saved", id=case.id), "success")
            return redirect(url_for("cases.case_page", case_id=case.id))
    elif form.is_submitted():
        flash(gettext("form.invalid"), "error")
    return render_template("letter.html", form=form, max_mb=_max_letter_mb()), 400 if form.errors else 200


@bp.route("/letters/<int:letter_id>/scan")
@login_required
def letter_scan(letter_id: int):
    try:
        scan = letters.letter_file(current_tracker(), letter_id)
    except NotFound:
        abort(404)
    response = send_file(BytesIO(scan.data), mimetype=scan.mime, download_name=scan.name)
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


COMPLAINT_STEPS: dict[str, type[Form]] = {
    "respond": RespondForm,
    "escalate": EscalateComplaintForm,
    "resolve": ResolveComplaintForm,
}


def _complaint_form(step: str, complaint_id: int, formdata=None) -> Form:
    form = COMPLAINT_STEPS[step](formdata=formdata, prefix=f"c{complaint_id}-{step}")
    if isinstance(form, RespondForm):
        form.solved.choices = [
            ("yes", gettext("complaints.solved")),
            ("no", gettext("complaints.not_solved")),
        ]
    return form


def _working_seconds_since(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else current_tracker().working_seconds(start, end)


def _new_complaint_form(formdata=None) -> ComplaintForm:
    form = ComplaintForm(formdata=formdata, prefix="new")
    form.channel.choices = [(c.value, gettext(f"complaints.channel.{c}")) for c in COMPLAINT_CHANNELS]
    return form


def _render_complaints(new_form: ComplaintForm | None = None, bound: dict | None = None, status: int = 200):
    bound = bound or {}
    items = []
    for c in complaint_service.list_complaints(current_tracker()):
        step = complaint_policy.next_step(c.state)
        forms = {}
        if step:
            forms[step.name] = bound.get((c.id, step.name)) or _complaint_form(step.name, c.id)
        items.append(
            {
                "complaint": c,
                "forms": forms,
                "response_hours": hours(c.response_working_seconds),
                "escalation_hours": hours(_working_seconds_since(c.received_at, c.escalated_at)),
                "resolution_hours": hours(c.resolution_working_seconds),
            }
        )
    return render_template(
        "complaints.html", complaints=items, new_form=new_form or _new_complaint_form()
    ), status


@bp.route("/complaints", methods=["GET", "POST"])
@roles_required(*complaint_policy.HANDLERS)
def complaints():
    if request.method == "GET":
        return _render_complaints()
    form = _new_complaint_form(request.form)
    case_text = (form.case_id.data or "").strip().lstrip("#")
    if form.validate() and (not case_text or case_text.isdigit()):
        try:
            complaint_service.file_complaint(
                current_tracker(),
                _actor(),
                form.complainant.data.strip(),
                form.description.data.strip(),
                ComplaintChannel(form.channel.data),
                (form.contact.data or "").strip(),
                int(case_text) if case_text else None,
            )
        except ServiceError as error:
            _refused(error)
            return _render_complaints(form, status=error.status)
        flash(gettext("action.done"), "success")
        return redirect(url_for("cases.complaints"))
    flash(gettext("form.invalid"), "error")
    return _render_complaints(form, status=400)


@bp.route("/complaints/<int:complaint_id>/<action>", methods=["POST"])
@roles_required(*complaint_policy.HANDLERS)
def complaint_action(complaint_id: int, action: str):
    if action not in COMPLAINT_STEPS:
        abort(404)
    form = _complaint_form(action, complaint_id, request.form)
    if not form.validate():
        flash(gettext("form.invalid"), "error")
        return _render_complaints(bound={(complaint_id, action): form}, status=400)
    tracker, actor = current_tracker(), _actor()
    try:
        if action == "respond":
            complaint_service.respond_complaint(
                tracker, actor, complaint_id, form.response.data.strip(), form.solved.data == "yes"
            )
        elif action == "escalate":
            complaint_service.escalate_complaint(
                tracker, actor, complaint_id, form.official_name.data.strip()
            )
        else:
            complaint_service.resolve_complaint(tracker, actor, complaint_id, form.resolution.data.strip())
    except ServiceError as error:
        _refused(error)
        return _render_complaints(bound={(complaint_id, action): form}, status=error.status)
    flash(gettext("action.done"), "success")
    return redirect(url_for("cases.complaints", _anchor=f"complaint-{complaint_id}"))


# --- the quarterly evaluation (SOP section 14) -------------------------------------------------------


def requested_quarter() -> tuple[int, int]:
    """``?year=&quarter=``, defaulting to the current quarter in the service's time zone."""
    year, quarter = evaluation_service.current_quarter(current_tracker())
    year = request.args.get("year", year, type=int)
    quarter = request.args.get("quarter", quarter, type=int)
    if not 2000 <= year <= 2100 or quarter not in (1, 2, 3, 4):
        abort(404)
    return year, quarter


def evaluation_context(year: int, quarter: int) -> dict[str, Any]:
    return evaluation_service.quarter(current_tracker(), year, quarter)


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
    form.role.choices = [(role.value, gettext(f"role.{role}")) for role in USER_ROLES]
    return form


def _render_users(new_form: NewUserForm | None = None, status: int = 200):
    users = accounts.list_users(current_tracker())
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
        accounts.create_user(
            current_tracker(),
            form.username.data.strip(),
            form.display_name.data.strip(),
            form.role.data,
            form.password.data,
            (form.email.data or "").strip() or None,
        )
    except ServiceError as error:
        _refused(error)
        return _render_users(form, error.status)
    flash(gettext("users.created", username=form.username.data.strip()), "success")
    return redirect(url_for("cases.users"))


def _user_id(username: str) -> int:
    found = next((u.id for u in accounts.list_users(current_tracker()) if u.username == username), None)
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
        accounts.set_password(current_tracker(), username, form.password.data)
    except ServiceError as error:
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
    accounts.set_active(current_tracker(), username, active)
    flash(gettext("users.activated" if active else "users.deactivated", username=username), "success")
    return redirect(url_for("cases.users"))
