"""The quarterly evaluation of the technicians (blueprint ``evaluation``, SOP section 14)."""

from __future__ import annotations

from flask import Blueprint, abort, render_template, request

from ..core.workflow import Role
from ..extension import current_tracker
from ..services import evaluation as queries
from .auth import roles_required
from .forms import requested_quarter

bp = Blueprint("evaluation", __name__)


@bp.route("/evaluation")
@roles_required(Role.HEAD)
def evaluation():
    tracker = current_tracker()
    year, quarter = requested_quarter(request.args, queries.current_quarter(tracker)) or abort(404)
    return render_template("evaluation.html", **queries.quarter(tracker, year, quarter))
