"""OPD letters (SOP step 1): a letter joins the open case of its OPD or of an upstream, or opens a case.

The sender of a letter is an OPD (SOP requirement 2: the OPD notifies the disruption): with an inventory,
a letter names one of its OPDs, never an ISP uplink, a router, a switch or a DNS server
(:func:`senders`, and the same rule in :func:`open_letter_case` for the API and the letter form).

The scanned letter is checked here, once, for the API and the letter form alike (:func:`check_scan`):
at most ``BATIKNET_MAX_LETTER_BYTES``, and a PDF, PNG or JPEG by its content (:mod:`..core.letters`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import select

from ..core import ingest, time_rules
from ..core.letters import scan_type
from ..core.workflow import Actor, CaseSource, CaseState, EventKind
from ..store.db import serialize_writers
from ..store.limits import fit
from ..store.models import Case, CaseTarget, Letter
from . import outbox
from .cases import add_event, get_case, insert_case, load_case, move_receipt
from .casework import require_staff
from .errors import Invalid, NotFound, TooLarge, Unsupported, refuse_field
from .tracker import Tracker
from .views import CaseDetail

__all__ = ["LetterInput", "Scan", "Sender", "check_scan", "letter_file", "open_letter_case", "senders"]


@dataclass(frozen=True)
class Scan:
    name: str
    mime: str
    data: bytes


@dataclass(frozen=True)
class LetterInput:
    opd: str
    number: str
    letter_date: date
    reporter: str
    description: str
    received_at: datetime | None = None
    scan: Scan | None = None  # see check_scan


@dataclass(frozen=True)
class Sender:
    """An OPD that may send a letter: its inventory id (its abbreviation, e.g. ``bpkad``) and its name."""

    id: str
    name: str


def senders(tracker: Tracker) -> list[Sender]:
    """The OPDs of the inventory, by name (none without an inventory)."""
    if tracker.inventory is None:
        return []
    found = (Sender(opd.id, opd.name) for opd in tracker.inventory.opds)
    return sorted(found, key=lambda sender: (sender.name.casefold(), sender.id))


def _require_sender(tracker: Tracker, opd: str) -> None:
    """A letter comes from an OPD of the inventory (anything goes without an inventory to ask)."""
    if tracker.inventory is None:
        return
    entry = tracker.inventory_entry(opd)
    if entry is None:
        raise Invalid(f"{opd!r} is not a target of the inventory", "opd")
    if entry.kind != "opd":
        raise Invalid(f"{opd!r} is a {entry.kind}, not an OPD: a letter comes from an OPD", "opd")


def check_scan(tracker: Tracker, name: str, data: bytes) -> Scan:
    """A scanned letter the tracker keeps: within the size limit (else 413) and a PDF, PNG or JPEG by its
    first bytes, whatever its name or the type a browser claimed (else 415)."""
    limit = tracker.settings.max_letter_bytes
    if len(data) > limit:
        raise TooLarge(f"the scanned letter may be at most {limit} bytes", "file")
    mime = scan_type(data)
    if mime is None:
        raise Unsupported("the scanned letter must be a PDF, PNG or JPEG file", "file")
    return Scan(name=fit(Letter.file_name, name) or "surat", mime=mime, data=data)


def open_letter_case(tracker: Tracker, actor: Actor, letter: LetterInput) -> CaseDetail:
    """Enter an OPD's letter: it joins the open case of the OPD or its upstream, or opens a case.

    A letter received before the case it joins moves the case's receipt, and so its deadlines, back to the
    letter's: the service runs from the earliest receipt of the disruption, letter or alert.
    """
    require_staff(actor, "add_letter")
    _require_sender(tracker, letter.opd)
    now = tracker.now()
    received_at = letter.received_at or now
    refuse_field(time_rules.happened("received_at", received_at, tracker.entry_clock(now)))
    received_on = tracker.calendar.local_date(received_at)
    refuse_field(time_rules.letter_dated("letter_date", letter.letter_date, received_on))
    with tracker.db.write() as session:
        serialize_writers(session)
        candidates = (letter.opd, *tracker.ancestors(letter.opd))
        open_by_target: dict[str, int] = {}
        for case_id, target in session.execute(
            select(Case.id, Case.target)
            .where(Case.target.in_(candidates), Case.state != CaseState.CLOSED)
            .order_by(Case.id.desc())
        ):
            open_by_target.setdefault(target, case_id)
        joined = ingest.choose_letter_case(letter.opd, tracker.ancestors(letter.opd), open_by_target)
        if joined is None:
            case_id = insert_case(
                session,
                tracker,
                source=CaseSource.LETTER,
                target=letter.opd,
                title=f"Surat {letter.number}: {tracker.target_name(letter.opd)}",
                received_at=received_at,
                group_key=None,
            )
        else:
            case_id = joined
            known = session.scalars(select(CaseTarget.target).where(CaseTarget.case_id == case_id)).all()
            if letter.opd not in known:
                session.add(CaseTarget(case_id=case_id, target=letter.opd, added_at=now))
        case = load_case(session, case_id, for_update=True)
        if joined is None:
            opened = {"letter_number": letter.number}
            add_event(session, case, actor, EventKind.OPENED, now, to_state=CaseState.RECEIVED, data=opened)
        elif received_at < case.received_at:
            moved = {**move_receipt(tracker, case, received_at), "letter_number": letter.number}
            add_event(session, case, actor, EventKind.RECEIPT_MOVED, now, data=moved)
        scan = letter.scan
        row = Letter(
            case_id=case_id,
            number=letter.number,
            letter_date=letter.letter_date,
            opd=letter.opd,
            reporter=letter.reporter,
            description=letter.description,
            received_at=received_at,
            entered_by_id=actor.user_id,
            file_name=scan.name if scan else None,
            file_mime=scan.mime if scan else None,
            file_sha256=hashlib.sha256(scan.data).hexdigest() if scan else None,
            file_data=scan.data if scan else None,
        )
        session.add(row)
        session.flush()
        added = {
            "letter_id": row.id,
            "number": letter.number,
            "opd": letter.opd,
            "joined": joined is not None,
        }
        add_event(session, case, actor, EventKind.LETTER_ADDED, now, data=added)
        if joined is None:
            outbox.queue_case_waiting(session, tracker, case_id)
    return get_case(tracker, case_id)


def letter_file(tracker: Tracker, letter_id: int) -> Scan:
    """The scanned letter as it was kept (404 when the letter has none)."""
    with tracker.db.read() as session:
        letter = session.get(Letter, letter_id)
        if letter is None or letter.file_data is None:
            raise NotFound(f"letter {letter_id} has no scanned file")
        return Scan(
            name=letter.file_name or f"surat-{letter_id}",
            mime=letter.file_mime or "application/octet-stream",
            data=letter.file_data,
        )
