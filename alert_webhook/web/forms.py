"""Every form of the pages (Flask-WTF: CSRF token, WTForms' own messages in the page's language), and
the factories that give them their choices.

A form only checks what a person typed; the rules (may this be done now, is this scan a PDF) are the
services', and a refusal comes back as a flash message.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from flask import flash
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    DateField,
    DateTimeField,
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
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from .. import i18n
from ..core.complaints import ComplaintChannel
from ..core.instants import within_reach
from ..core.workflow import MAY_BE_NOT_APPLICABLE, USER_ROLES, Check, CheckResult
from ..extension import current_tracker
from ..services import ServiceError, TooLarge, Unsupported, letters
from ..services.views import CaseDetail, CheckView
from ..store.limits import MAX_ID, length
from ..store.models import Complaint, ISPContact, Letter, LoginFailure, User
from .formatting import flash_refused, number, refusal_text

__all__ = [
    "ACTION_FORMS",
    "COMPLAINT_STEPS",
    "HINTED_FIELDS",
    "CommentForm",
    "ComplaintForm",
    "Form",
    "LetterForm",
    "LoginForm",
    "NewUserForm",
    "OwnPasswordForm",
    "PasswordForm",
    "action_form",
    "check_form",
    "complaint_form",
    "letter_form",
    "local_input",
    "max_letter_mb",
    "new_complaint_form",
    "new_user_form",
    "requested_quarter",
    "show_refusal",
]


def stored_in(*columns: object) -> Length:
    """A text stored in ``columns``: at most what they hold (:mod:`..store.limits`, read from the models)."""
    return Length(max=length(*columns))


class Form(FlaskForm):
    """Every form of the pages: Flask-WTF's CSRF token, WTForms' own messages in the page's language, and
    every time entered within the tracker's reach (:mod:`..core.instants`)."""

    class Meta:
        def get_translations(self, form):
            return i18n.FormTranslations()

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        for field in self:
            value = field.data if isinstance(field, DateTimeField) else None
            if isinstance(value, datetime) and not within_reach(local_input(value)):
                field.errors = [*field.errors, i18n.gettext("form.time_out_of_range")]
                valid = False
        return valid


def show_refusal(form: Form, error: ServiceError) -> None:
    """A refusal about one of the form's fields (an impossible time) is shown under that field, in the
    page's language; any other refusal is a flash message."""
    field = form._fields.get(error.field or "")
    if field is None:
        flash_refused(error)
        return
    field.errors = [*field.errors, refusal_text(error)]
    flash(i18n.gettext("form.invalid"), "error")


class LoginForm(Form):
    username = StringField(validators=[DataRequired(), stored_in(User.username, LoginFailure.username)])
    password = PasswordField(validators=[DataRequired()])


# --- the case page -------------------------------------------------------------------------------------


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
    contact = StringField(validators=[Optional(), stored_in(ISPContact.contact)])
    ticket_number = StringField(validators=[DataRequired(), stored_in(ISPContact.ticket_number)])
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


# The workflow action each form takes (record_check has one form per check, see check_form).
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


def action_form(
    action: str,
    case: CaseDetail,
    technicians: list[tuple[int, str]],
    formdata: Mapping[str, Any] | None = None,
) -> Form:
    """The form of a workflow action on ``case``; ``technicians`` are the active ones (id, name)."""
    form = ACTION_FORMS[action](formdata=formdata, prefix=action)
    if isinstance(form, DisposeForm):
        assigned = {a.id for a in case.assignees}
        form.technician_ids.choices = [(i, n) for i, n in technicians if i not in assigned]
    if isinstance(form, EscalateForm):
        inventory = current_tracker().inventory
        isps = [] if inventory is None else [(i.id, f"{i.provider} ({i.name})") for i in inventory.isps]
        form.isp.choices = isps or [(case.isp or "", case.isp or "—")]
        if formdata is None and case.isp:
            form.isp.data = case.isp
    if isinstance(form, RecheckForm):
        form.connected.choices = [("yes", i18n.gettext("form.yes")), ("no", i18n.gettext("form.no"))]
    return form


def check_form(
    check: Check,
    formdata: Mapping[str, Any] | None = None,
    suggested: str | None = None,
    recorded: CheckView | None = None,
) -> CheckForm:
    """A check's form, offering *not applicable* only where the workflow allows it.

    A recorded check's form holds what was recorded, so that adding a note keeps the result; an unrecorded
    one preselects the result the monitoring evidence suggests. Either way the technician decides.
    """
    form = CheckForm(formdata=formdata, prefix=f"check-{check}")
    results = [r for r in CheckResult if r != CheckResult.NOT_APPLICABLE or check in MAY_BE_NOT_APPLICABLE]
    form.result.choices = [(r.value, i18n.gettext(f"check.{r}")) for r in results]
    if formdata is None:
        form.check.data = check
        if recorded is not None:
            form.result.data, form.note.data = recorded.result, recorded.note
        elif suggested in results:
            form.result.data = suggested
    return form


def local_input(value: datetime | None) -> datetime | None:
    """A ``datetime-local`` input is wall-clock time in the service's time zone."""
    return None if value is None else value.replace(tzinfo=current_tracker().calendar.timezone)


# --- letters -----------------------------------------------------------------------------------------


def max_letter_mb() -> str:
    return number(current_tracker().settings.max_letter_bytes / (1 << 20))


class LetterForm(Form):
    number = StringField(validators=[DataRequired(), stored_in(Letter.number)])
    letter_date = DateField(validators=[InputRequired()])  # so a malformed date says so
    opd = SelectField()  # the sending OPD: see letter_form
    reporter = StringField(validators=[DataRequired(), stored_in(Letter.reporter)])
    description = TextAreaField(validators=[DataRequired()])
    received_at = DateTimeLocalField(validators=[Optional()])
    scan = FileField()
    checked_scan: letters.Scan | None = None  # the scan as validate_scan accepted it

    def validate_opd(self, field) -> None:
        if not field.data:
            raise ValidationError(i18n.gettext("letter.opd_required"))

    def validate_scan(self, field) -> None:
        """The services' one rule for scans (:func:`letters.check_scan`), worded for the page."""
        upload = field.data
        if not upload or not upload.filename:
            return
        try:
            self.checked_scan = letters.check_scan(current_tracker(), upload.filename, upload.read())
        except Unsupported:
            raise ValidationError(i18n.gettext("letter.scan_type")) from None
        except TooLarge:
            raise ValidationError(i18n.gettext("letter.scan_size", max_mb=max_letter_mb())) from None


def letter_form(opd: str | None = None) -> LetterForm:
    """The letter form. Its sender is one of the OPDs (:func:`letters.senders`), each shown with its
    abbreviation so that both can be searched; none is chosen unless ``opd`` names one, so the person must
    change the empty first choice."""
    form = LetterForm()
    senders = letters.senders(current_tracker())
    form.opd.choices = [("", i18n.gettext("letter.opd_choose"))] + [
        (sender.id, f"{sender.name} ({sender.id})") for sender in senders
    ]
    if not form.is_submitted() and opd in {sender.id for sender in senders}:
        form.opd.data = opd
    return form


# --- complaints (SOP section 6) ----------------------------------------------------------------------


class ComplaintForm(Form):
    complainant = StringField(validators=[DataRequired(), stored_in(Complaint.complainant)])
    contact = StringField(validators=[Optional(), stored_in(Complaint.contact)])
    channel = SelectField()
    case_id = StringField(validators=[Optional()])
    description = TextAreaField(validators=[DataRequired()])

    def validate_case_id(self, field) -> None:
        if field.data and not self.case_number():
            raise ValidationError(i18n.gettext("form.invalid"))

    def case_number(self) -> int | None:
        """The related case, written ``12`` or ``#12``: a number a case id can be."""
        text = (self.case_id.data or "").strip().lstrip("#")
        return int(text) if text.isdecimal() and len(text) <= 10 and 0 < int(text) <= MAX_ID else None


class RespondForm(Form):
    response = TextAreaField(validators=[DataRequired()])
    solved = RadioField(validators=[InputRequired()])


class EscalateComplaintForm(Form):
    official_name = StringField(validators=[DataRequired(), stored_in(Complaint.official_name)])


class ResolveComplaintForm(Form):
    resolution = TextAreaField(validators=[DataRequired()])


COMPLAINT_STEPS: dict[str, type[Form]] = {
    "respond": RespondForm,
    "escalate": EscalateComplaintForm,
    "resolve": ResolveComplaintForm,
}


def complaint_form(step: str, complaint_id: int, formdata: Mapping[str, Any] | None = None) -> Form:
    form = COMPLAINT_STEPS[step](formdata=formdata, prefix=f"c{complaint_id}-{step}")
    if isinstance(form, RespondForm):
        form.solved.choices = [
            ("yes", i18n.gettext("complaints.solved")),
            ("no", i18n.gettext("complaints.not_solved")),
        ]
    return form


def new_complaint_form(formdata: Mapping[str, Any] | None = None) -> ComplaintForm:
    form = ComplaintForm(formdata=formdata, prefix="new")
    form.channel.choices = [(c.value, i18n.gettext(f"complaints.channel.{c}")) for c in ComplaintChannel]
    return form


# --- user accounts -----------------------------------------------------------------------------------


class NewUserForm(Form):
    username = StringField(validators=[DataRequired(), stored_in(User.username)])
    display_name = StringField(validators=[DataRequired(), stored_in(User.display_name)])
    role = SelectField()
    email = StringField(validators=[Optional(), stored_in(User.email)])
    password = PasswordField(validators=[DataRequired()])


class PasswordForm(Form):
    password = PasswordField(validators=[DataRequired()])


class OwnPasswordForm(Form):
    """A signed-in person's own new password: the current one, and the new one twice."""

    current_password = PasswordField(validators=[DataRequired()])
    new_password = PasswordField(validators=[DataRequired()])
    new_password_again = PasswordField(validators=[DataRequired()])


def new_user_form(formdata: Mapping[str, Any] | None = None) -> NewUserForm:
    form = NewUserForm(formdata=formdata, prefix="new")
    form.role.choices = [(role.value, i18n.gettext(f"role.{role}")) for role in USER_ROLES]
    return form


# --- the quarter of the evaluation -------------------------------------------------------------------


def requested_quarter(args: Mapping[str, str], default: tuple[int, int]) -> tuple[int, int] | None:
    """``?year=&quarter=``, each defaulting to ``default``'s (also when not a number); None when they name
    no quarter of this century."""

    def whole(name: str, fallback: int) -> int:
        text = args.get(name, "")
        return int(text) if text.strip().lstrip("-").isdigit() else fallback

    year, quarter = whole("year", default[0]), whole("quarter", default[1])
    return (year, quarter) if 2000 <= year <= 2100 and quarter in (1, 2, 3, 4) else None
