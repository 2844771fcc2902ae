"""The printed documents (blueprint ``reports``): the resolution report of a case (laporan penyelesaian
gangguan jaringan, SOP step 9) and the quarterly evaluation of the technicians (SOP section 14), each as a
printable page and as a PDF rendered by WeasyPrint, under the agency's letterhead.

The letterhead's names, address, contacts and logo come from configuration (``BATIKNET_LETTERHEAD_*``),
never from the code; so do the head's name and NIP under the signature and the format of the report's
letter number (issued once, when the report is written: services/report_numbers.py). The PDF is the
official document and is always in Bahasa Indonesia; the page follows the reader's language.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_login import login_required

from ..core.documents import format_nip
from ..core.letters import scan_type
from ..core.workflow import Role
from ..extension import current_tracker
from ..i18n import DEFAULT_LANGUAGE, current_language, format_date, format_instant, gettext, use_language
from ..services import NotFound, Tracker, accounts, cases
from ..services import evaluation as queries
from ..settings import Settings
from .auth import roles_required
from .formatting import target_label
from .forms import requested_quarter
from .handling import People, against_estimate, evidence_lines, handling

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
    logo: str | None  # a data: URI, so that the page and the PDF carry the image itself
    head_name: str
    head_nip: str  # the head's staff number in its groups (19800101 200501 1 001); "" when unset


def letterhead(settings: Settings) -> Letterhead:
    return Letterhead(
        government=settings.letterhead_government,
        agency=settings.letterhead_agency,
        address=settings.letterhead_address,
        phone=settings.letterhead_phone,
        email=settings.letterhead_email,
        website=settings.letterhead_website,
        city=settings.letterhead_city,
        logo=_data_uri(settings.letterhead_logo) if settings.letterhead_logo else None,
        head_name=settings.head_name,
        head_nip=format_nip(settings.head_id) if settings.head_id else "",
    )


@cache
def _data_uri(path: Path) -> str:
    """The logo file (checked at start-up: a readable PNG or JPEG) as a data: URI, read once."""
    data = path.read_bytes()
    return f"data:{scan_type(data)};base64,{base64.b64encode(data).decode('ascii')}"


def _wording(tracker: Tracker) -> dict[str, Any]:
    """What the documents' templates write dates and findings with, in the page's language."""
    language, zone = current_language(), tracker.calendar.timezone

    def day(value: date | datetime) -> str:
        return format_date(value.astimezone(zone).date() if isinstance(value, datetime) else value, language)

    return {
        "when": lambda instant: format_instant(instant, language, zone),
        "day": day,
        "evidence": lambda line: evidence_lines(line.evidence, target_label, language, zone),
        "against_estimate": against_estimate,
        "opd_name": target_label,
    }


# --- rendering ----------------------------------------------------------------------------------------


def render_pdf(html: str) -> bytes:
    """A printed page as a PDF, laid out by WeasyPrint. Its stylesheet is read from disk and the HTML
    references nothing else (the logo is a data: URI; no fonts or styles by URL): the fetcher refuses every
    other kind of URL, so rendering never makes a network request."""
    from weasyprint import CSS, HTML, URLFetcher

    fetcher = URLFetcher(allowed_protocols={"data"})
    stylesheet = CSS(filename=str(STATIC_DIR / "report.css"))
    return HTML(string=html, url_fetcher=fetcher).write_pdf(stylesheets=[stylesheet])


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
    users = accounts.list_users(tracker)
    people = People({u.id: u.display_name for u in users}, {u.username: u.display_name for u in users})
    html = render_template(
        "report.html",
        pdf=pdf,
        case=case,
        report=report,
        report_author=people.named(report.written_by_id, None),
        target_name=case.target_name,
        affected=[target_label(t) for t in case.affected_targets],
        technicians=[a.display_name for a in case.assignees],
        handling=handling(case, people),
        letterhead=letterhead(tracker.settings),
        now=tracker.now(),
        **_wording(tracker),
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
        **_wording(tracker),
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
