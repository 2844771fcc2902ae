"""Why a service refuses: each error carries the HTTP status the API answers with and the field to blame.

``reason`` is a :class:`~..core.refusals.Refusal` when a reader may meet it on a page (the pages translate
its code), else an English sentence for the API and the command line.
"""

from __future__ import annotations

from ..core.refusals import Refusal

__all__ = [
    "Forbidden",
    "Invalid",
    "NotFound",
    "Refused",
    "ServiceError",
    "TooLarge",
    "Unsupported",
    "refuse_field",
]


class ServiceError(Exception):
    status = 400

    def __init__(self, reason: str | Refusal, field: str | None = None) -> None:
        super().__init__(str(reason))
        self.refusal = reason if isinstance(reason, Refusal) else None
        self.message = str(reason)
        self.field = field


class Invalid(ServiceError):
    """The request's data is wrong (400); ``field`` names the culprit."""


class NotFound(ServiceError):
    status = 404


class Refused(ServiceError):
    """The workflow does not allow this action now, or the data falls short of what it needs (409)."""

    status = 409


class Forbidden(Refused):
    """The person asking may not take this action (403)."""

    status = 403


class TooLarge(ServiceError):
    """A file above its size limit (413)."""

    status = 413


class Unsupported(ServiceError):
    """A file of a type the tracker does not take (415)."""

    status = 415


def refuse_field(refusal: Refusal | None) -> None:
    """A rule's answer about one field (its ``field`` parameter): a 400 naming it, or nothing when None."""
    if refusal is not None:
        raise Invalid(refusal, str(refusal.params["field"]))
