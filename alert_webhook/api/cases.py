"""Cases (blueprint ``api_cases``): reading them, and every workflow action, one path each.

Every action is ``POST /api/v1/cases/{case_id}/<action>`` with a JSON object and answers the case as it
is afterwards; the rules are the services' (:mod:`..services.casework`), the same the pages obey.
"""

from __future__ import annotations

from flask import Response

from ..extension import current_tracker
from ..services import Invalid, accounts, cases, casework, evidence, letters
from ..services.views import CaseDetail
from .access import PEOPLE, READERS, access, answer, blueprint, caller
from .schemas import (
    Actions,
    CaseList,
    CasePath,
    CaseQuery,
    Chart,
    CheckBody,
    CloseBody,
    CommentBody,
    ErrorBody,
    EscalateBody,
    Evidence,
    LetterFields,
    NoteBody,
    RecheckBody,
    ReportBody,
    RestoreBody,
    Technicians,
    Timeline,
)

bp = blueprint("api_cases", "cases")

REFUSED = {403: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody}
ACTED = {200: CaseDetail, 404: ErrorBody, **REFUSED}


# --- reading -------------------------------------------------------------------------------------------


def _read(path: str, answered: type, summary: str):
    """A view reading one case: any credential; 404 when the case does not exist."""
    return bp.get(
        f"/cases/<int(signed=True):case_id>{path}",
        summary=summary,
        security=READERS,
        responses={200: answered, 404: ErrorBody},
    )


@bp.get("/cases", summary="Cases, newest first, filtered", security=READERS, responses={200: CaseList})
@access("anyone")
def list_cases(query: CaseQuery) -> Response:
    page = cases.list_cases(
        current_tracker(),
        state=query.state,
        target=query.target or query.opd,
        technician=query.technician,
        overdue=query.overdue,
        source=query.source,
        open_only=bool(query.open),
        limit=query.limit,
        offset=query.offset,
        count_total=True,
    )
    return answer(CaseList(cases=page.items, total=page.total or 0, limit=page.limit, offset=page.offset))


@_read("", CaseDetail, "One case with everything it holds")
@access("anyone")
def get_case(path: CasePath) -> Response:
    return answer(cases.get_case(current_tracker(), path.case_id))


@_read("/timeline", Timeline, "Every change of the case")
@access("anyone")
def case_timeline(path: CasePath) -> Response:
    return answer(Timeline(case_id=path.case_id, events=cases.timeline(current_tracker(), path.case_id)))


@_read("/actions", Actions, "What the caller may do now")
@access("anyone")
def case_actions(path: CasePath) -> Response:
    allowed = cases.allowed_actions(current_tracker(), path.case_id, caller().actor)
    return answer(Actions(case_id=path.case_id, actions=allowed))


@_read("/evidence", Evidence, "Prometheus evidence for the checks, now")
@access("anyone")
def case_evidence(path: CasePath) -> Response:
    found = evidence.check_prefill(current_tracker(), path.case_id)
    return answer(Evidence(case_id=path.case_id, evidence=found))


@_read("/chart", Chart, "Reachability and RTT around the disruption")
@access("anyone")
def case_chart(path: CasePath) -> Response:
    chart = evidence.case_chart(current_tracker(), path.case_id)
    return answer(
        Chart(
            target=chart.target,
            start=chart.start,
            end=chart.end,
            up=chart.up,
            rtt=chart.rtt,
            error=chart.error,
        )
    )


@bp.post(
    "/cases",
    summary="An OPD's letter as JSON: joins an open case or opens one",
    security=PEOPLE,
    responses={201: CaseDetail, **REFUSED},
)
@access("person", "json")
def create_case(body: LetterFields) -> Response:
    return answer(letters.open_letter_case(current_tracker(), caller().actor, body.letter()), 201)


# --- the workflow (a personal token: the workflow knows who acts) ----------------------------------------


def _technician_ids(body: Technicians) -> list[int]:
    if body.technicians is not None:
        known = {u.username: u.id for u in accounts.list_users(current_tracker())}
        unknown = [name for name in body.technicians if name not in known]
        if unknown:
            raise Invalid(f"no user {unknown[0]!r}", "technicians")
        return [known[name] for name in body.technicians]
    if body.technician_ids is None:
        raise Invalid("technician_ids must be a list of user ids", "technician_ids")
    return body.technician_ids


def _act(path: str, summary: str):
    return bp.post(
        f"/cases/<int(signed=True):case_id>/{path}", summary=summary, security=PEOPLE, responses=ACTED
    )


@_act("dispose", "SOP step 2: the head's disposition, assigning technicians (they get an e-mail)")
@access("person", "json")
def dispose(path: CasePath, body: Technicians) -> Response:
    return answer(
        casework.dispose(current_tracker(), caller().actor, path.case_id, _technician_ids(body), body.note)
    )


@_act("assign", "Add technicians to a disposed case")
@access("person", "json")
def assign(path: CasePath, body: Technicians) -> Response:
    return answer(
        casework.assign(current_tracker(), caller().actor, path.case_id, _technician_ids(body), body.note)
    )


@_act("start-checks", "SOP step 3: the checks begin; the evidence of the moment is kept")
@access("person", "json")
def start_checks(path: CasePath, body: NoteBody) -> Response:
    return answer(casework.start_checks(current_tracker(), caller().actor, path.case_id, body.note))


@_act("checks", "SOP steps 4–7: one check's result")
@access("person", "json")
def record_check(path: CasePath, body: CheckBody) -> Response:
    return answer(
        casework.record_check(
            current_tracker(), caller().actor, path.case_id, body.check, body.result, body.note
        )
    )


@_act("escalate-isp", "SOP step 8: the ISP is called")
@access("person", "json")
def escalate_isp(path: CasePath, body: EscalateBody) -> Response:
    return answer(
        casework.escalate_isp(
            current_tracker(),
            caller().actor,
            path.case_id,
            body.ticket_number,
            called_at=body.called_at,
            estimate_at=body.estimate_at,
            isp=body.isp or None,
            contact=body.contact or None,
            note=body.note,
        )
    )


@_act("rechecks", "A recheck while waiting on the ISP; connected restores the case")
@access("person", "json")
def record_recheck(path: CasePath, body: RecheckBody) -> Response:
    return answer(
        casework.record_recheck(current_tracker(), caller().actor, path.case_id, body.connected, body.note)
    )


@_act("return-to-checking", "From waiting on the ISP back to a new round of checks")
@access("person", "json")
def return_to_checking(path: CasePath, body: NoteBody) -> Response:
    return answer(casework.return_to_checking(current_tracker(), caller().actor, path.case_id, body.note))


@_act("restore", "The network is connected again")
@access("person", "json")
def restore(path: CasePath, body: RestoreBody) -> Response:
    return answer(
        casework.restore(current_tracker(), caller().actor, path.case_id, body.restored_at, body.note)
    )


@_act("report", "SOP step 9: the resolution report")
@access("person", "json")
def write_report(path: CasePath, body: ReportBody) -> Response:
    return answer(
        casework.write_report(
            current_tracker(),
            caller().actor,
            path.case_id,
            body.cause,
            body.actions,
            body.parts_replaced,
            body.isp_part,
            body.note,
        )
    )


@_act("close", "SOP step 10: completion reported to the OPD")
@access("person", "json")
def close(path: CasePath, body: CloseBody) -> Response:
    return answer(
        casework.close(current_tracker(), caller().actor, path.case_id, body.reported_to, body.note)
    )


@_act("comments", "A note on the timeline, by any staff member")
@access("person", "json")
def add_comment(path: CasePath, body: CommentBody) -> Response:
    return answer(casework.add_comment(current_tracker(), caller().actor, path.case_id, body.note))
