"""OPD letters (blueprint ``api_letters``): the letter form with its scan, and the scan itself (a letter
as JSON is ``POST /api/v1/cases``, :mod:`.cases`).

A letter joins the open case of its OPD or of an upstream, or opens a case (``source: letter``). The
scan's type and size are the services' one rule (:func:`..services.letters.check_scan`): 415 unless a
PDF, PNG or JPEG by its content, 413 above ``BATIKNET_MAX_LETTER_BYTES``.
"""

from __future__ import annotations

from io import BytesIO

from flask import Response, request, send_file

from ..core.letters import SCAN_TYPES
from ..extension import current_tracker
from ..services import letters
from ..services.views import CaseDetail
from .access import PEOPLE, READERS, access, answer, blueprint, caller
from .schemas import ErrorBody, LetterPath, LetterUpload

bp = blueprint("api_letters", "letters")

OPENED = {201: CaseDetail, 403: ErrorBody, 409: ErrorBody, 413: ErrorBody, 415: ErrorBody}


@bp.post(
    "/letters",
    summary="The letter form as multipart, with the scanned letter (file)",
    security=PEOPLE,
    responses=OPENED,
)
@access("person", "multipart")
def create_letter(form: LetterUpload) -> Response:
    tracker = current_tracker()
    upload = request.files.get("file")
    scan = None
    if upload is not None and upload.filename:
        data = upload.stream.read(tracker.settings.max_letter_bytes + 1)
        scan = letters.check_scan(tracker, upload.filename, data)
    return answer(letters.open_letter_case(tracker, caller().actor, form.letter(scan)), 201)


SCAN = {
    "description": "The scanned letter as it was received",
    "content": {mime: {"schema": {"type": "string", "format": "binary"}} for mime in SCAN_TYPES.values()},
}


@bp.get(
    "/letters/<int(signed=True):letter_id>/file",
    summary="A letter's scan",
    security=READERS,
    responses={200: SCAN, 404: ErrorBody},
)
@access("anyone")
def letter_file(path: LetterPath) -> Response:
    scan = letters.letter_file(current_tracker(), path.letter_id)
    # send_file writes any file name into Content-Disposition (RFC 6266's filename* for non-Latin-1).
    return send_file(BytesIO(scan.data), mimetype=scan.mime, download_name=scan.name)
