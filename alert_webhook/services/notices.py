"""What the tracker's messages to people say: formal Indonesian from the catalogues (``notice.*``), every
instant in the service's zone as an Indonesian reader writes it ("27 November 2026 pukul 11.00 WIB"), with
the link to the case.

A text is written when its message is queued (``services.outbox``), from the case as it was then, and kept
with the message: a retry sends the same words. E-mails greet their reader by name and end with a line
saying no one reads replies; a chat's text is the same without them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from functools import lru_cache

from ..core.outbox import Channel, one_line
from ..core.workflow import CaseSource
from ..i18n import format_instant, translate

__all__ = ["CaseFacts", "Text", "assignment", "case_waiting", "disposition_reminder"]

# The office writes to its staff in Indonesian; the catalogue's English stands beside it for the pages.
LANGUAGE = "id"


@dataclass(frozen=True)
class CaseFacts:
    """What every message says about its case."""

    id: int
    title: str
    target_name: str
    source: CaseSource
    letter_number: str | None  # the OPD's letter of a case opened from one
    received_at: datetime
    target_deadline: datetime
    maximum_deadline: datetime
    url: str  # the case's page
    zone: tzinfo  # the service's


@dataclass(frozen=True)
class Text:
    subject: str  # empty for a chat
    body: str


def case_waiting(facts: CaseFacts, channel: Channel, name: str) -> Text:
    """To the head: a new case waits for disposition (SOP step 2)."""
    lead = _t("notice.case_waiting.lead", id=facts.id, target=facts.target_name)
    return _compose(facts, channel, name, "notice.case_waiting.subject", [lead])


def disposition_reminder(facts: CaseFacts, told_at: datetime, channel: Channel, name: str) -> Text:
    """To the head, a working hour after ``told_at``: the case still waits for disposition."""
    told = _when(told_at, facts.zone)
    lead = _t("notice.disposition_reminder.lead", id=facts.id, target=facts.target_name, told_at=told)
    return _compose(facts, channel, name, "notice.disposition_reminder.subject", [lead])


def assignment(
    facts: CaseFacts,
    disposed_by: str,
    disposed_at: datetime,
    note: str,
    technicians: Sequence[str],
    channel: Channel,
    name: str,
) -> Text:
    """To a technician (or the team's chat): the head disposed the case, with the disposition's note."""
    at = _when(disposed_at, facts.zone)
    if channel is Channel.EMAIL:
        lead = _t("notice.assignment.lead", id=facts.id, target=facts.target_name, by=disposed_by, at=at)
    else:
        lead = _t(
            "notice.assignment.chat_lead",
            id=facts.id,
            target=facts.target_name,
            by=disposed_by,
            at=at,
            technicians=", ".join(technicians),
        )
    written = note.strip()
    remark = _t("notice.assignment.note", note=written) if written else _t("notice.assignment.no_note")
    return _compose(facts, channel, name, "notice.assignment.subject", [lead, remark])


def _compose(facts: CaseFacts, channel: Channel, name: str, subject_key: str, paragraphs: list[str]) -> Text:
    title = one_line(facts.title)
    parts = [*paragraphs, _facts_block(facts), _t("notice.link", url=facts.url)]
    if channel is not Channel.EMAIL:
        return Text(subject="", body="\n\n".join(parts) + "\n")
    greeting, signature = _t("notice.greeting", name=one_line(name)), "-- \n" + _t("notice.footer")
    body = "\n\n".join([greeting, *parts, signature]) + "\n"
    return Text(subject=_t(subject_key, id=facts.id, title=title), body=body)


def _facts_block(facts: CaseFacts) -> str:
    source = (
        _t("notice.source.letter", number=one_line(facts.letter_number))
        if facts.source == CaseSource.LETTER and facts.letter_number
        else _t(f"notice.source.{facts.source}")
    )
    return _t(
        "notice.facts",
        title=one_line(facts.title),
        source=source,
        received=_when(facts.received_at, facts.zone),
        target_deadline=_when(facts.target_deadline, facts.zone),
        maximum_deadline=_when(facts.maximum_deadline, facts.zone),
    )


# Every recipient of a case's messages reads the same instants: written once (a storm opens cases by the
# hundred, each with messages to several people, and Babel's formatting is the costly part).
@lru_cache(maxsize=256)
def _when(instant: datetime, zone: tzinfo) -> str:
    return format_instant(instant, LANGUAGE, zone)


def _t(key: str, **params: object) -> str:
    return translate(key, LANGUAGE, **params)
