"""Thin wrappers over the machine the lab runs on: ``ip``, ``sysctl`` and ``fping`` run as commands
(each found on the PATH or in /usr/sbin, a failure raised as :class:`LabError` with the command's own
words), the kernel's view of links read back, and the waits until the kernel has done what was asked.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence

from .plan import Link

READY_TIMEOUT = 10.0  # seconds the lab waits for a link, a route or a daemon


class LabError(RuntimeError):
    """The lab cannot do what was asked; the message says why."""


class NeedsRoot(LabError):
    pass


def check_root(euid: int | None = None) -> None:
    """Network namespaces, veth links and routes need root: say so plainly instead of failing midway."""
    if (os.geteuid() if euid is None else euid) != 0:
        raise NeedsRoot(
            "needs root (it creates network namespaces, links and routes); "
            "run it as root, for example with sudo"
        )


def binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path is None:
        raise LabError(f"{name} is not installed (run `make install`)")
    return path


def run(argv: list[str], input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [binary(argv[0]), *argv[1:]]
    result = subprocess.run(argv, input=input, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def ip_batch(lines: list[str], namespace: str | None = None) -> None:
    if not lines:
        return
    where = ["-n", namespace] if namespace else []
    run(["ip", *where, "-batch", "-"], input="\n".join(lines) + "\n")


def sysctl(settings: dict[str, str], namespace: str | None = None) -> None:
    assignments = [f"{key}={value}" for key, value in settings.items()]
    prefix = ["ip", "netns", "exec", namespace, binary("sysctl")] if namespace else ["sysctl"]
    run([*prefix, "-q", "-w", *assignments])


def existing_namespaces() -> set[str]:
    return {line.split()[0] for line in run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()}


def operstates(namespace: str | None) -> dict[str, str]:
    where = ["-n", namespace] if namespace else []
    result = run(["ip", *where, "-j", "link", "show"], check=False)
    if result.returncode != 0:
        return {}
    return {entry["ifname"]: entry.get("operstate", "UNKNOWN") for entry in json.loads(result.stdout)}


def ifindexes(namespace: str) -> dict[str, int]:
    result = run(["ip", "-n", namespace, "-j", "link", "show"])
    return {entry["ifname"]: entry["ifindex"] for entry in json.loads(result.stdout)}


def fping_alive(addresses: list[str]) -> set[str]:
    if not addresses:
        return set()
    result = run(["fping", "-a", "-r", "1", "-t", "500", *addresses], check=False)
    return set(result.stdout.split())


def wait_operstates(links: Sequence[Link]) -> None:
    """Wait until both ends of each link report operstate UP (published shortly after carrier)."""
    deadline = time.monotonic() + READY_TIMEOUT
    pending = list(links)
    while pending:
        states: dict[str | None, dict[str, str]] = {}
        for link in pending:
            for namespace in (link.target_namespace, link.upstream_namespace):
                if namespace not in states:
                    states[namespace] = operstates(namespace)
        pending = [
            link
            for link in pending
            if states[link.target_namespace].get(link.target_ifname) != "UP"
            or states[link.upstream_namespace].get(link.upstream_ifname) != "UP"
        ]
        if pending and time.monotonic() > deadline:
            raise LabError(
                f"links not up after {READY_TIMEOUT:g}s: {', '.join(link.target_id for link in pending)}"
            )
        if pending:
            time.sleep(0.02)


def wait_reachable(addresses: dict[str, str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    missing = dict(addresses)
    while missing:
        alive = fping_alive(list(missing.values()))
        missing = {i: a for i, a in missing.items() if a not in alive}
        if missing and time.monotonic() > deadline:
            raise LabError(f"not reachable from the host after {READY_TIMEOUT:g}s: {', '.join(missing)}")
