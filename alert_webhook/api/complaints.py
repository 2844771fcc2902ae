"""Complaints (blueprint ``api_complaints``, SOP section 6), each step timed in working seconds.

Who may record a complaint and take its steps is :mod:`..core.complaints`' policy, the pages' too.
"""

from __future__ import annotations

from flask import Response

from ..extension import current_tracker
from ..services import complaints
from ..services.views import ComplaintView
from .access import PEOPLE, READERS, access, answer, blueprint, caller
from .schemas import (
    ComplaintBody,
    ComplaintPath,
    ComplaintQuery,
    Complaints,
    ErrorBody,
    EscalateComplaintBody,
    ResolveComplaintBody,
    RespondBody,
)

bp = blueprint("api_complaints", "complaints")


def _step(step: str, summary: str):
    """A step of a complaint: a personal token; the complaint as it is afterwards."""
    path = f"/complaints/<int(signed=True):complaint_id>/{step}"
    return bp.post(path, summary=summary, security=PEOPLE, responses=STEP)


REFUSED = {403: ErrorBody, 404: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody}
STEP = {200: ComplaintView, **REFUSED}


@bp.get("/complaints", summary="Complaints, newest first", security=READERS, responses={200: Complaints})
@access("anyone")
def list_complaints(query: ComplaintQuery) -> Response:
    return answer(Complaints(complaints=complaints.list_complaints(current_tracker(), query.case_id)))


@bp.post(
    "/complaints", summary="Record a complaint", security=PEOPLE, responses={201: ComplaintView, **REFUSED}
)
@access("person", "json")
def file_complaint(body: ComplaintBody) -> Response:
    filed = complaints.file_complaint(
        current_tracker(),
        caller().actor,
        body.complainant,
        body.description,
        body.channel,
        body.contact,
        body.case_id,
    )
    return answer(filed, 201)


@_step("respond", "The officer's response")
@access("person", "json")
def respond_complaint(path: ComplaintPath, body: RespondBody) -> Response:
    done = complaints.respond_complaint(
        current_tracker(), caller().actor, path.complaint_id, body.response, body.solved
    )
    return answer(done)


@_step("escalate", "Forwarded to an official")
@access("person", "json")
def escalate_complaint(path: ComplaintPath, body: EscalateComplaintBody) -> Response:
    return answer(
        complaints.escalate_complaint(
            current_tracker(), caller().actor, path.complaint_id, body.official_name
        )
    )


@_step("resolve", "The official's resolution")
@access("person", "json")
def resolve_complaint(path: ComplaintPath, body: ResolveComplaintBody) -> Response:
    return answer(
        complaints.resolve_complaint(current_tracker(), caller().actor, path.complaint_id, body.resolution)
    )
