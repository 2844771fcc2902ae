"""Why an action is refused: a code the pages translate, its parameters, and English for the API and logs.

The rules (``workflow``, ``services``) never word a refusal for a reader: they name it with a code from
:data:`ENGLISH` and its parameters. The JSON API answers with the code and the English sentence; the pages
look the code up in the message catalogue (``refused.<code>``) in the reader's language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

__all__ = ["ENGLISH", "Refusal"]

# Parameters that are lists (states, checks, results) are tuples, joined with ", " in the sentence; dates
# and instants are written in ISO 8601.
ENGLISH: dict[str, str] = {
    "unknown_action": "unknown action '{action}'",
    "state": "cannot {action} a case in state '{state}' (only from: {states})",
    "viewer": "role '{role}' may not {action}: viewers only read",
    "head_only": "only the head (kepala bidang) or an admin may {action}",
    "not_assigned": "{user} is not assigned to this case",
    "technician_required": "a disposition assigns at least one technician",
    "check_unknown": "check must be one of {checks}",
    "result_unknown": "result must be one of {results}",
    "checks_incomplete": "the checks are not complete: {checks} not recorded",
    "check_not_skippable": "{checks} may never be not applicable: record ok or fault",
    "not_applicable_reason": "marking {checks} not applicable needs a note saying why",
    "connectivity_fault": "connectivity was checked as fault: contact the ISP (escalate_isp) or check again",
    "isp_only_on_fault": "the ISP is contacted only when connectivity is checked as fault",
    "ticket_required": "the ISP's ticket number is required",
    "connected_required": "a recheck states whether the network is connected (true or false)",
    "report_incomplete": "the report needs {part}",
    "reported_to_required": "closing reports completion to the OPD: say to whom (reported_to)",
    "complaint_state": "complaint {complaint} is {complaint_state}",
    "password_short": "the password needs at least {length} characters",
    "user_exists": "user '{user}' already exists",
    # Times a person enters (core/time_rules.py); {field} names the field.
    "time_too_early": "{field} must not be before {earliest}",
    "time_too_late": "{field} must be before {latest}",
    "time_in_future": "{field} lies in the future: it may be at most {minutes} minutes after now",
    "time_before_receipt": "{field} must not be before the case was received ({received_at})",
    "estimate_before_call": "{field} must not be before the ISP was called ({called_at})",
    "estimate_too_far": "{field} must lie within {days} days from now",
    "letter_after_receipt": "{field} must not be later than the day the letter was received ({received_on})",
}


@dataclass(frozen=True)
class Refusal:
    code: str
    params: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in ENGLISH:
            raise ValueError(f"unknown refusal code {self.code!r}")

    def __str__(self) -> str:
        return ENGLISH[self.code].format(**{name: _english(value) for name, value in self.params.items()})


def _english(value: object) -> object:
    if isinstance(value, tuple):
        return ", ".join(map(str, value))
    if isinstance(value, date):  # a datetime too
        return value.isoformat()
    return value
