"""What the API speaks, as typed models: the requests it takes and the answers it gives.

One model validates a request (a 400 naming the field when it does not fit), shapes an answer, and
describes both in the OpenAPI document (flask-openapi3 builds it from these and the services' views in
:mod:`..services.views`). Text that a person must give is at least one character; booleans and numbers in
a JSON body must be JSON booleans and numbers (``"true"`` is not ``true``).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any, Literal

from flask_openapi3 import FileStorage
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from ..core import time_rules
from ..core.complaints import ComplaintChannel
from ..core.instants import YEAR_PATTERN, within_reach
from ..core.refusals import ENGLISH
from ..core.workflow import CaseSource, CaseState, Check, CheckResult
from ..services.letters import LetterInput, Scan
from ..services.views import CaseSummary, ComplaintView, EventView, Instant
from ..store.limits import MAX_ID, MAX_INTEGER, length
from ..store.models import AlertEpisode, Case, CaseTarget, Complaint, ISPContact, Letter, Notification

# PostgreSQL's text holds no NUL character: refused here (400), not by the database (a 5xx).
WITHOUT_NUL = r"^[^\x00]*$"
Plain = Annotated[StrictStr, Field(pattern=WITHOUT_NUL)]
Text = Annotated[StrictStr, Field(min_length=1, pattern=WITHOUT_NUL)]  # required: absent, null, "": 400
Note = Annotated[StrictStr, Field(pattern=WITHOUT_NUL, description="Recorded on the timeline")]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]  # from a path or a query: text that reads as a number


def _whole(value: Any) -> Any:
    """JSON's ``3.0`` is the integer 3, as JSON Schema's ``integer`` says; a fraction stays refused."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


# An instant with its offset, within the tracker's reach (:mod:`..core.instants`): the webhook's.
DATE_TIME = {"type": "string", "format": "date-time", "pattern": YEAR_PATTERN}
JsonId = Annotated[StrictInt, Field(ge=1, le=MAX_ID), BeforeValidator(_whole)]  # in a JSON body: a number


def stored_in(*columns: Any) -> Any:
    """A text stored in ``columns``: at most what they hold (:mod:`..store.limits`, read from the models)."""
    return Field(max_length=length(*columns))


def _in_era(value: Any, info: ValidationInfo) -> Any:
    """The fixed bounds of :mod:`..core.time_rules` (the services then compare with now): a 400 naming
    the field, with the rule's code."""
    refusal = time_rules.outside_era(info.field_name or "", value)
    if refusal is not None:
        raise PydanticCustomError(refusal.code, str(refusal))
    return value


# A time a person enters: ISO 8601 with its offset, from 2000 to 2099; the services add the bounds that
# need now (a fact no later than now plus the clock skew, an estimate at most a year ahead). The document
# gives the era's years as written (the rule reads the instant in UTC).
ERA_YEARS = r"^20[0-9]{2}-"
ENTERED = {"type": "string", "format": "date-time", "pattern": ERA_YEARS}
Entered = Annotated[AwareDatetime, AfterValidator(_in_era), WithJsonSchema(ENTERED)]
EnteredDate = Annotated[
    date, AfterValidator(_in_era), WithJsonSchema({"type": "string", "format": "date", "pattern": ERA_YEARS})
]


class Strict(BaseModel):
    """A request model: fields it does not know are refused, not ignored (a typo would be lost), and every
    instant lies within the tracker's reach (:mod:`..core.instants`), whatever its field."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="wrap")
    @classmethod
    def _instants_within_reach(cls, value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
        try:
            valid = handler(value)
        except OverflowError:  # a rule of the field compared an instant the calendar cannot hold
            raise ValueError("lies too near the ends of the calendar to be computed with") from None
        if isinstance(valid, datetime) and not within_reach(valid):
            raise ValueError("lies too near the ends of the calendar to be computed with")
        return valid


# --- errors --------------------------------------------------------------------------------------------


class ErrorBody(BaseModel):
    """Every refusal: why in English, the request field at fault, and which rule refused."""

    error: str
    field: str | None = Field(None, description="The request field at fault, e.g. alerts[3].startsAt")
    code: Literal[tuple(sorted(ENGLISH))] | None = Field(  # type: ignore[valid-type]
        None, description="Which rule refused (see alert_webhook/core/refusals.py); the pages translate it"
    )


# --- path and query parameters ---------------------------------------------------------------------


class CasePath(BaseModel):
    case_id: Id


class LetterPath(BaseModel):
    letter_id: Id


class ComplaintPath(BaseModel):
    complaint_id: Id


class CaseQuery(BaseModel):
    state: CaseState | None = None
    opd: Plain | None = Field(None, description="A target; matches affected targets too")
    target: Plain | None = Field(None, description="The same as opd")
    technician: Plain | None = Field(None, description="Assigned to this username")
    overdue: bool | None = Field(
        None,
        description="Past the target (end of working day 2), measured at completion or now: "
        "service_level.standing is not within_target",
    )
    source: CaseSource | None = None
    open: bool | None = Field(None, description="Not closed")
    limit: int = Field(50, ge=1, le=500)
    offset: int = Field(0, ge=0, le=10**9)


class ComplaintQuery(BaseModel):
    case_id: Id | None = Field(None, description="Only the complaints about this case")


# --- bodies ----------------------------------------------------------------------------------------------


class LetterFields(Strict):
    opd: Annotated[Text, stored_in(Letter.opd)] = Field(description="OPD id from the inventory")
    letter_number: Annotated[Text, stored_in(Letter.number)]
    letter_date: EnteredDate = Field(description="No later than the day the letter was received")
    reporter: Annotated[Text, stored_in(Letter.reporter)]
    description: Text
    received_at: Entered | None = Field(
        None,
        description="ISO 8601 with offset; default: now. Not in the future (beyond the clock skew, "
        "BATIKNET_CLOCK_SKEW_SECONDS); earlier than the open case it joins, it moves that case's receipt "
        "and deadlines",
    )

    def letter(self, scan: Scan | None = None) -> LetterInput:
        """The services' input for this letter."""
        return LetterInput(
            opd=self.opd,
            number=self.letter_number,
            letter_date=self.letter_date,
            reporter=self.reporter,
            description=self.description,
            received_at=self.received_at,
            scan=scan,
        )


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


class LetterUpload(LetterFields):
    """The letter form as multipart/form-data, with the scanned letter."""

    @model_validator(mode="before")
    @classmethod
    def _fields_are_text(cls, data: Any) -> Any:
        # flask-openapi3 decodes form values that look like JSON ("5" becomes 5); a form field is text.
        if isinstance(data, dict):
            return {k: v if isinstance(v, str) or k == "file" else json.dumps(v) for k, v in data.items()}
        return data

    # A form's field is there or not, never null: text when there, and its default is said in words.
    received_at: Annotated[Entered | None, WithJsonSchema(ENTERED)] = Field(
        None, description=LetterFields.model_fields["received_at"].description, json_schema_extra=_no_default
    )
    file: Annotated[FileStorage | None, WithJsonSchema({"type": "string", "format": "binary"})] = Field(
        None, description="The scanned letter: PDF, PNG or JPEG", json_schema_extra=_no_default
    )


class NoteBody(Strict):
    note: Note = ""


class Technicians(Strict):
    """Technicians by id (``technician_ids``) or by username (``technicians``)."""

    # One of the two lists is given (the view says which is missing: the ids).
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": [name], "properties": {name: {"type": "array"}}}
                for name in ("technician_ids", "technicians")
            ]
        }
    )

    technician_ids: list[JsonId] | None = None
    technicians: list[Plain] | None = Field(None, description="Usernames, instead of ids")
    note: Note = ""


class CheckBody(Strict):
    check: Check
    result: CheckResult
    note: Note = ""


class EscalateBody(Strict):
    ticket_number: Annotated[Text, stored_in(ISPContact.ticket_number)]
    called_at: Entered | None = Field(
        None, description="When the ISP was called; default: now. Between the case's receipt and now"
    )
    estimate_at: Entered | None = Field(
        None, description="The ISP's estimate of the recovery: after the call, at most a year ahead"
    )
    isp: Annotated[Plain, stored_in(ISPContact.isp)] | None = Field(
        None, description="ISP uplink id; default: the case's"
    )
    contact: Annotated[Plain, stored_in(ISPContact.contact)] | None = Field(
        None, description="Default: the inventory's support contact"
    )
    note: Note = ""


class RecheckBody(Strict):
    connected: StrictBool
    note: Note = ""


class RestoreBody(Strict):
    restored_at: Entered | None = Field(
        None,
        description="Default: the resolved alert's, else now. Between the case's receipt and now "
        "(plus the clock skew)",
    )
    note: Note = ""


class ReportBody(Strict):
    cause: Text
    actions: Text
    parts_replaced: Plain = ""
    isp_part: Plain = ""
    note: Note = ""


class CloseBody(Strict):
    reported_to: Text = Field(description="Completion reported to the OPD: to whom")
    note: Note = ""


class CommentBody(Strict):
    note: Text


class ComplaintBody(Strict):
    complainant: Annotated[Text, stored_in(Complaint.complainant)]
    description: Text
    channel: ComplaintChannel = ComplaintChannel.DIRECT
    contact: Annotated[Plain, stored_in(Complaint.contact)] = ""
    case_id: JsonId | None = None


class RespondBody(Strict):
    response: Text
    solved: StrictBool = Field(description="The officer's response solved it: the complaint ends here")


class EscalateComplaintBody(Strict):
    official_name: Annotated[Text, stored_in(Complaint.official_name)]


class ResolveComplaintBody(Strict):
    resolution: Text


# --- answers ---------------------------------------------------------------------------------------------


class CaseList(BaseModel):
    cases: list[CaseSummary]
    total: int
    limit: int
    offset: int


class Timeline(BaseModel):
    case_id: int
    events: list[EventView]


class Actions(BaseModel):
    case_id: int
    actions: list[str] = Field(description="Workflow actions the caller may take now")


class Evidence(BaseModel):
    case_id: int
    evidence: dict[Check, dict[str, Any]] = Field(description="A Prometheus snapshot per monitored check")


# Two numbers, described without ``prefixItems``: schemathesis (4.32) cannot read a response schema holding
# one (schemathesis/schemathesis#3842), and for two numbers the two descriptions say the same.
Sample = Annotated[
    tuple[float, float],
    WithJsonSchema({"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 2}),
]


class Chart(BaseModel):
    target: str
    start: Instant
    end: Instant
    up: list[Sample] = Field(description="(unix seconds, 0 or 1)")
    rtt: list[Sample] = Field(description="(unix seconds, mean RTT in seconds)")
    error: str | None = Field(
        description="Why there are no series (Prometheus not configured or unreachable)"
    )


class Complaints(BaseModel):
    complaints: list[ComplaintView]


class Queued(BaseModel):
    status: Literal["queued"]
    id: str = Field(description="The notification's name in the spool")


class HeartbeatRecorded(BaseModel):
    status: Literal["ok"]
    source: str
    at: Instant


class Health(BaseModel):
    status: Literal["ok"]
    alertmanager_silent: bool


# --- Alertmanager's webhook payload (described here; validated by core.alertmanager) ---------------------


# Alertmanager's payload is read leniently, as Alertmanager may write it: an optional text or map may be
# null, and a firing alert's endsAt may be empty or Go's zero time.
_TEXT = {"type": "string", "pattern": WITHOUT_NUL}
_TEXTS = {"type": "object", "propertyNames": _TEXT, "additionalProperties": _TEXT}
GO_ZERO_TIME = r"^0001-01-01T00:00:00(\.0+)?([Zz]|[+-]00:00)$"
Timestamp = Annotated[StrictStr, WithJsonSchema(DATE_TIME)]
NoEnd = Annotated[StrictStr, WithJsonSchema({"type": "string", "pattern": f"{GO_ZERO_TIME}|^$"})]
OptionalText = Annotated[Plain | None, Field(description="null is empty")]
TextMap = Annotated[dict[str, str] | None, WithJsonSchema({"anyOf": [_TEXTS, {"type": "null"}]})]


def _labels(nullable: bool, required: tuple[str, ...], **lengths: int | None) -> Any:
    """Labels as the payload parser takes them: text names and values, some of them bounded."""
    properties = {name: {**_TEXT, "maxLength": most, **({"minLength": 1} if name in required else {})}
                  for name, most in lengths.items()}  # fmt: skip
    labels = {**_TEXTS, "properties": properties, "required": list(required)}
    return WithJsonSchema({"anyOf": [labels, {"type": "null"}]} if nullable else labels)


# The columns each label is stored in, as :func:`..services.notifications.read_notification` checks them.
AlertLabels = Annotated[
    dict[str, str],
    _labels(
        False,
        ("alertname",),
        alertname=length(AlertEpisode.alertname),
        target=length(AlertEpisode.target, Case.target, CaseTarget.target),
    ),
]
GroupLabels = Annotated[
    dict[str, str] | None, _labels(True, (), target=length(Case.target, CaseTarget.target))
]


class Alert(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "if": {"properties": {"status": {"const": "resolved"}}},
            "then": {"required": ["endsAt"], "properties": {"endsAt": DATE_TIME}},
        }
    )
    status: Literal["firing", "resolved"]
    labels: AlertLabels
    annotations: TextMap = None
    startsAt: Timestamp
    endsAt: Timestamp | NoEnd | None = Field(
        None, description="Empty, null or Go's zero time while firing; required when resolved"
    )
    generatorURL: OptionalText = None
    fingerprint: str = Field(pattern="^[0-9a-fA-F]{1,64}$")


class AlertmanagerPayload(BaseModel):
    """Alertmanager's webhook payload, version 4. Every text is without NUL; the case's key, made of the
    group's labels (all of them together), holds at most as much as its column (the webhook answers 400
    naming groupLabels)."""

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: Annotated[Plain, stored_in(Notification.receiver)]
    groupKey: Plain
    truncatedAlerts: int = Field(0, ge=0, le=MAX_INTEGER)
    groupLabels: GroupLabels = None
    commonLabels: GroupLabels = None
    commonAnnotations: TextMap = None
    externalURL: OptionalText = None
    alerts: list[Alert]
