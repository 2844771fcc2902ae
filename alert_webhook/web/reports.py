"""The printed documents (blueprint ``reports``): the resolution report of a case (laporan penyelesaian
gangguan jaringan, SOP step 9) and the quarterly evaluation of the technicians (SOP section 14), each as a
printable page and as a PDF rendered by WeasyPrint, under the agency's letterhead.

The letterhead's names, address and contacts come from configuration (``BATIKNET_LETTERHEAD_*``), never
from the code. The PDF is the official document and is always in Bahasa Indonesia; the page follows the
reader's language.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from ..core.workflow import Role
from ..extension import current_tracker
from ..i18n import DEFAULT_LANGUAGE, gettext, use_language
from ..services import NotFound, accounts, cases
from ..services import evaluation as queries
from ..settings import Settings
from .auth import roles_required
from .formatting import checklist, target_label
from .forms import requested_quarter

bp = Blueprint("reports", __name__)

STATIC_DIR = Path(__file__).parents[1] / "static"


@dataclass(frozen=True)
class Letterhead:
    government: str
    agency: str
    address: str
    phone: str
    email: str
    website: str
    city: str
    head_name: str
    head_id: str  # the head's staff number (NIP), printed under the signature when set


def letterhead(settings: Settings) -> Letterhead:
    return Letterhead(
        government=settings.letterhead_government,
        agency=settings.letterhead_agency,
        address=settings.letterhead_address,
        phone=settings.letterhead_phone,
        email=settings.letterhead_email,
        website=settings.letterhead_website,
        city=settings.letterhead_city,
        head_name=settings.head_name,
        head_id=settings.head_id,
    )


# --- rendering ----------------------------------------------------------------------------------------


def render_document(html: str):
    """Lay out a printed page with WeasyPrint. Its stylesheet is read from disk and the HTML references
    nothing else (no images, fonts or styles by URL), so rendering never makes a network request."""
    from weasyprint import CSS, HTML

    return HTML(string=html).render(stylesheets=[CSS(filename=str(STATIC_DIR / "report.css"))])


def render_pdf(html: str) -> bytes:
    return render_document(html).write_pdf()


def _pdf_response(html: str, filename: str) -> Response:
    return Response(
        render_pdf(html),
        mimetype="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{filename}"'},
    )


def _official_language() -> None:
    """The PDF is the official document: Bahasa Indonesia whatever the reader's page language."""
    use_language(DEFAULT_LANGUAGE)


def _case_report(case_id: int, pdf: bool) -> Response | str:
    tracker = current_tracker()
    try:
        case = cases.get_case(tracker, case_id)
    except NotFound:
        abort(404)
    report = case.report
    if report is None:
        flash(gettext("report.not_written"), "error")
        return redirect(url_for("case.case_page", case_id=case_id))
    users = {u.id: u.display_name for u in accounts.list_users(tracker)}
    html = render_template(
        "report.html",
        pdf=pdf,
        case=case,
        report=report,
        report_author=users.get(report.written_by_id, ""),
        target_name=case.target_name,
        affected=[target_label(t) for t in case.affected_targets],
        technicians=[a.display_name for a in case.assignees],
        checklist=checklist(case),
        letterhead=letterhead(tracker.settings),
        now=tracker.now(),
    )
    return _pdf_response(html, f"laporan-gangguan-{case_id}.pdf") if pdf else html


@bp.route("/cases/<int:case_id>/report")
@login_required
def case_report(case_id: int):
    return _case_report(case_id, pdf=False)


@bp.route("/cases/<int:case_id>/report.pdf")
@login_required
def case_report_pdf(case_id: int):
    _official_language()
    return _case_report(case_id, pdf=True)


def _quarter_asked() -> tuple[int, int]:
    return requested_quarter(request.args, queries.current_quarter(current_tracker())) or abort(404)


def _evaluation_html(year: int, quarter: int, pdf: bool) -> str:
    tracker = current_tracker()
    return render_template(
        "evaluation_report.html",
        pdf=pdf,
        letterhead=letterhead(tracker.settings),
        **queries.quarter(tracker, year, quarter),
    )


@bp.route("/evaluation/report")
@roles_required(Role.HEAD)
def evaluation_report():
    return _evaluation_html(*_quarter_asked(), pdf=False)


@bp.route("/evaluation/report.pdf")
@roles_required(Role.HEAD)
def evaluation_report_pdf():
    _official_language()
    year, quarter = _quarter_asked()
    return _pdf_response(
        _evaluation_html(year, quarter, pdf=True), f"evaluasi-teknisi-{year}-tw{quarter}.pdf"
    )
