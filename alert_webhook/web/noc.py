"""The NOC wall screen (blueprint ``noc``): every open case, the most overdue first."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from ..extension import current_tracker
from ..services import cases
from .cases import case_row

bp = Blueprint("noc", __name__)

NOC_LIMIT = 200


@bp.route("/noc")
@login_required
def noc_screen():
    tracker = current_tracker()
    result = cases.list_cases(tracker, open_only=True, limit=NOC_LIMIT)
    rows = sorted(
        (case_row(item) for item in result.items), key=lambda r: (not r.past_maximum, not r.past_target)
    )
    return render_template("noc.html", rows=rows, now=tracker.now())
