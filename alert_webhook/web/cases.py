"""The case list (blueprint ``cases``): every case, filtered, a page at a time; and the home page."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user, login_required

from ..core.workflow import CaseState, Role
from ..extension import current_tracker
from ..services import accounts, cases
from ..services.views import CaseSummary

bp = Blueprint("cases", __name__)

PAGE_SIZE = 25  # a phone screen or two; each row costs a case summary from the services


@dataclass(frozen=True)
class CaseRow:
    case: CaseSummary
    target_name: str
    technicians: list[str]
    past_maximum: bool  # past the maximum deadline (end of working day 5)
    past_target: bool  # past the target (end of working day 2); the API calls this "overdue"
    affected_count: int


def case_row(item: CaseSummary) -> CaseRow:
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
        return redirect(url_for("noc.noc_screen"))
    return redirect(url_for("cases.case_list"))


@bp.route("/cases")
@login_required
def case_list():
    tracker = current_tracker()
    state = request.args.get("state") or ""
    opd = request.args.get("opd") or ""
    technician = request.args.get("technician", type=int)
    overdue = request.args.get("overdue") == "1"
    page = max(request.args.get("page", 1, type=int), 1)
    technicians = accounts.list_users(tracker, Role.TECHNICIAN)
    usernames = {u.id: u.username for u in technicians}
    result = cases.list_cases(
        tracker,
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

    inventory = tracker.inventory
    return render_template(
        "case_list.html",
        rows=[case_row(item) for item in result.items],
        page=page,
        has_next=result.has_next,
        page_url=page_url,
        states=tuple(CaseState),
        opds=[] if inventory is None else [(t.id, t.name) for t in inventory.targets()],
        technicians=technicians,
        filters={"state": state, "opd": opd, "technician": technician, "overdue": overdue},
    )
