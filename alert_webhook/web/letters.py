"""OPD letters (blueprint ``letters``): the letter form, and the scanned letter as it was kept."""

from __future__ import annotations

from io import BytesIO

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for
from flask_login import login_required

from ..core.workflow import CaseSource, Role
from ..extension import current_tracker
from ..i18n import gettext
from ..services import NotFound, ServiceError, letters
from ..services.letters import LetterInput
from .auth import current_actor, roles_required
from .forms import letter_form, local_input, max_letter_mb, show_refusal

bp = Blueprint("letters", __name__)


@bp.route("/letters/new", methods=["GET", "POST"])
@roles_required(Role.HEAD, Role.TECHNICIAN)
def new_letter():
    tracker = current_tracker()
    form = letter_form(request.args.get("opd"))
    if form.validate_on_submit():
        letter = LetterInput(
            opd=form.opd.data,
            number=form.number.data.strip(),
            letter_date=form.letter_date.data,
            reporter=form.reporter.data.strip(),
            description=form.description.data.strip(),
            received_at=local_input(form.received_at.data),
            scan=form.checked_scan,
        )
        try:
            case = letters.open_letter_case(tracker, current_actor(), letter)
        except ServiceError as error:
            show_refusal(form, error)
        else:
            joined = len(case.letters) > 1 or case.source == CaseSource.ALERT
            message = gettext("letter.joined", id=case.id) if joined else gettext("letter.saved", id=case.id)
            flash(message, "success")
            return redirect(url_for("case.case_page", case_id=case.id))
    elif form.is_submitted():
        flash(gettext("form.invalid"), "error")
    return render_template("letter.html", form=form, max_mb=max_letter_mb()), 400 if form.errors else 200


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
