"""Which targets are down and which are merely unreachable behind something that is down.

The inventory's ``upstream`` links form a tree. A target that answers is ``up``. A target that does not
answer is ``unreachable`` when some target on its path upstream does not answer either (the fault is
nearer the core), and ``down`` otherwise: a cut at the core shows the core down and everything behind
it unreachable, so one fault raises one alarm.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from batiknet.inventory import Inventory

__all__ = ["Status", "statuses"]


class Status(StrEnum):
    UP = "up"
    DOWN = "down"
    UNREACHABLE = "unreachable"


def statuses(inventory: Inventory, answering: Mapping[str, bool]) -> dict[str, Status]:
    """Status of every target with a known answer; ``answering`` maps target id to whether it answered.

    Targets missing from ``answering`` (not probed yet) get no status and never make others unreachable.
    """
    upstream = {target.id: target.upstream for target in inventory.targets()}
    blocked: dict[str | None, bool] = {None: False}  # id -> "something at or above it does not answer"

    def path_blocked(target_id: str | None) -> bool:
        if target_id not in blocked:
            blocked[target_id] = answering.get(target_id) is False or path_blocked(upstream[target_id])
        return blocked[target_id]

    result: dict[str, Status] = {}
    for target_id, parent in upstream.items():
        answered = answering.get(target_id)
        if answered is None:
            continue
        if answered:
            result[target_id] = Status.UP
        elif path_blocked(parent):
            result[target_id] = Status.UNREACHABLE
        else:
            result[target_id] = Status.DOWN
    return result
