"""Check that the lock files pin a version of everything pyproject.toml asks for, within its range.

``make install`` installs exact versions (with hashes) from ``requirements/*.lock`` and then the project
itself without dependencies; a dependency added to pyproject.toml but not locked would silently be
missing. This check runs after the lock is installed (it needs ``packaging``, which the lock brings) and
names what to do: ``make lock``.

Usage: python requirements/check_lock.py [pyproject.toml] [requirements/]
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pinned(lock: Path) -> dict[str, str]:
    """Name → exact version of every ``name==version`` line of a pip-compile lock file."""
    versions = {}
    for line in lock.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            versions[canonicalize_name(match[1])] = match[2]
    return versions


def problems(requirements: list[str], versions: dict[str, str], lock_name: str) -> list[str]:
    found = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker and not requirement.marker.evaluate():
            continue
        version = versions.get(canonicalize_name(requirement.name))
        if version is None:
            found.append(f"{lock_name} does not pin {requirement.name} ({text})")
        elif not requirement.specifier.contains(version, prereleases=True):
            found.append(f"{lock_name} pins {requirement.name}=={version}, outside {text}")
    return found


def main(argv: list[str]) -> int:
    pyproject = Path(argv[0] if argv else "pyproject.toml")
    folder = Path(argv[1] if len(argv) > 1 else pyproject.parent / "requirements")
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    runtime = project["dependencies"]
    dev = project.get("optional-dependencies", {}).get("dev", [])
    runtime_pins, dev_pins = pinned(folder / "runtime.lock"), pinned(folder / "dev.lock")
    found = problems(runtime, runtime_pins, "runtime.lock") + problems(runtime + dev, dev_pins, "dev.lock")
    found += [
        f"runtime.lock pins {name}=={version} but dev.lock {dev_pins.get(name)}"
        for name, version in runtime_pins.items()
        if dev_pins.get(name) != version
    ]
    for problem in found:
        print(f"lock out of date: {problem}", file=sys.stderr)
    if found:
        print("refresh the lock files with `make lock` and commit them", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
