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
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    url_for,
)
from flask_login import login_required

from . import services
from .auth import roles_required
from .i18n import DEFAULT_LANGUAGE, gettext, use_language
from .pages import checklist, evaluation_context, requested_quarter, target_label

bp = Blueprint("reports", __name__)

STATIC_DIR = Path(__file__).parent / "static"


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


def letterhead(config: dict[str, Any]) -> Letterhead:
    return Letterhead(
        government=config["BATIKNET_LETTERHEAD_GOVERNMENT"],
        agency=config["BATIKNET_LETTERHEAD_AGENCY"],
        address=config["BATIKNET_LETTERHEAD_ADDRESS"],
        phone=config["BATIKNET_LETTERHEAD_PHONE"],
        email=config["BATIKNET_LETTERHEAD_EMAIL"],
        website=config["BATIKNET_LETTERHEAD_WEBSITE"],
        city=config["BATIKNET_LETTERHEAD_CITY"],
        head_name=config["BATIKNET_HEAD_NAME"],
        head_id=config["BATIKNET_HEAD_ID"],
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
    try:
        case = services.get_case(case_id)
    except services.NotFound:
        abort(404)
    report = case["report"]
    if report is None:
        flash(gettext("report.not_written"), "error")
        return redirect(url_for("cases.case_page", case_id=case_id))
    users = {u.id: u.display_name for u in services.list_users()}
    html = render_template(
        "report.html",
        pdf=pdf,
        case=case,
        report=report,
        report_author=users.get(report["written_by_id"], ""),
        target_name=case["target_name"],
        affected=[target_label(t) for t in case["affected_targets"]],
        technicians=[a["display_name"] for a in case["assignees"]],
        checklist=checklist(case),
        letterhead=letterhead(current_app.config),
        now=services.current_tracker().now(),
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


def _evaluation_html(pdf: bool) -> str:
    year, quarter = requested_quarter()
    return render_template(
        "evaluation_report.html",
        pdf=pdf,
        letterhead=letterhead(current_app.config),
        **evaluation_context(year, quarter),
    )


@bp.route("/evaluation/report")
@roles_required("head")
def evaluation_report():
    return _evaluation_html(pdf=False)


@bp.route("/evaluation/report.pdf")
@roles_required("head")
def evaluation_report_pdf():
    _official_language()
    year, quarter = requested_quarter()
    return _pdf_response(_evaluation_html(pdf=True), f"evaluasi-teknisi-{year}-tw{quarter}.pdf")
