"""Complaints (SOP section 6) as pure rules: their states, channels and steps, and who may take a step.

    received ─respond(solved)→ resolved
    received ─respond(not solved)→ responded ─escalate→ escalated ─resolve→ resolved

SOP 6b: the officer responds until a solution is reached; if the officer cannot solve it, the complaint
is forwarded to an official of Dinas Kominfo, who resolves it. The SOP says who answers the complainant,
not who writes it down: in the tracker the head of division (kepala bidang), who supervises the service
(SOP 10), records every complaint and each of its steps (the officer's response, the forwarding, the
official's resolution); an admin may do everything. Technicians and viewers take no complaint step. The
JSON API and the pages both ask :func:`refusal` and so enforce this one policy.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from .refusals import Refusal
from .workflow import Role

__all__ = [
    "HANDLERS",
    "STEPS",
    "ComplaintChannel",
    "ComplaintState",
    "Resolver",
    "Step",
    "may_handle",
    "next_step",
    "refusal",
]


class ComplaintState(StrEnum):
    RECEIVED = "received"
    RESPONDED = "responded"
    ESCALATED = "escalated"
    RESOLVED = "resolved"


class ComplaintChannel(StrEnum):
    """How the complaint came in (SOP 6a indirect channels, 6b in person)."""

    DIRECT = "direct"
    TELEPHONE = "telephone"
    EMAIL = "email"
    WEBSITE = "website"
    SOCIAL = "social"


class Resolver(StrEnum):
    OFFICER = "officer"
    OFFICIAL = "official"


@dataclass(frozen=True)
class Step:
    name: str
    from_state: ComplaintState


# A complaint's next step, by its state; a resolved complaint has none.
STEPS: dict[str, Step] = {
    step.name: step
    for step in (
        Step("respond", ComplaintState.RECEIVED),
        Step("escalate", ComplaintState.RESPONDED),
        Step("resolve", ComplaintState.ESCALATED),
    )
}
HANDLERS = (Role.ADMIN, Role.HEAD)  # who records complaints and their steps


def may_handle(role: str) -> bool:
    """May a user of ``role`` record a complaint and take its steps?"""
    return role in HANDLERS


def refusal(role: str, action: str) -> Refusal | None:
    """Why a user of ``role`` may not take ``action`` (``record_complaint`` or a step), or None."""
    if may_handle(role):
        return None
    if role == Role.TECHNICIAN:
        return Refusal("head_only", {"action": action})
    return Refusal("viewer", {"role": role, "action": action})


def next_step(state: str) -> Step | None:
    return next((step for step in STEPS.values() if step.from_state == state), None)
