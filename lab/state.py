"""What the lab remembers between commands (``state.json`` in its run directory) and what ``status``
reports. The state is written before anything it names is created, so ``down`` can remove all of it
after a crash."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .daemons import ProcessRecord

MISSING = "MISSING"  # the operstate shown for an interface that does not exist


@dataclass
class LabState:
    """What the lab has created and changed, as written to ``state.json``."""

    inventory: str
    namespaces: list[str]
    host_links: list[str]
    blackhole: str
    processes: dict[str, ProcessRecord] = field(default_factory=dict)
    cut: list[str] = field(default_factory=list)
    interfaces_down: dict[str, list[str]] = field(default_factory=dict)
    dns_failed: list[str] = field(default_factory=list)
    dns_wrong: list[str] = field(default_factory=list)
    snmp_failed: list[str] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: dict) -> LabState:
        processes = {k: ProcessRecord(**v) for k, v in data.pop("processes", {}).items()}
        return cls(processes=processes, **data)

    @classmethod
    def read(cls, path: Path) -> LabState | None:
        """The state saved at ``path``; None when there is none (the lab is down)."""
        try:
            return cls.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def write(self, path: Path) -> None:
        """Replace the state at ``path`` whole (written aside, then renamed over it)."""
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(self), indent=2), encoding="utf-8")
        temporary.replace(path)


@dataclass
class LinkStatus:
    target: str
    upstream: str | None  # None: the host namespace
    network: str
    target_side: str  # operstate: UP, DOWN, LOWERLAYERDOWN, or MISSING
    upstream_side: str


@dataclass
class ProcessStatus:
    target: str
    program: str
    pid: int
    alive: bool


@dataclass
class LabStatus:
    up: bool
    namespaces: dict[str, bool]
    links: list[LinkStatus]
    processes: list[ProcessStatus]
    reachable: dict[str, bool]
    cut: list[str]
    interfaces_down: dict[str, list[str]]
    dns_failed: list[str]
    dns_wrong: list[str]
    snmp_failed: list[str]

    def to_json(self) -> dict:
        return asdict(self)
