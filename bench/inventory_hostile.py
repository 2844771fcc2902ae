"""Hostile inventory files: CPU time, peak memory and outcome of ``load_inventory`` on each.

Each file is loaded in a child process (so the parent's own memory does not count) with an address-space
limit of 4 GiB and a time limit of 120 s, which turn a runaway load into "killed" instead of a stuck
machine. A 2,000-target inventory is the yardstick of an honest file. ``--repo DIR`` loads with another
checkout (for instance main before the bounded loader) to compare. Needs nothing but Python.

    .venv/bin/python bench/inventory_hostile.py [--repo DIR]
"""

from __future__ import annotations

import argparse
import copy
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
CORE = "devices: [{id: core, name: Core, kind: router, address: 192.0.2.1}]\n"
ADDRESS_SPACE = 4 * 1024**3
TIME_LIMIT = 120
CHILD = """
import resource, sys, time
sys.path.insert(0, sys.argv[1])
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from batiknet.inventory import load_inventory
started = time.process_time()
try:
    inventory = load_inventory(sys.argv[2])
    outcome = f"accepted: {{sum(1 for _ in inventory.targets())}} targets"
except BaseException as error:
    outcome = type(error).__name__ + ": " + " ".join(str(error).split())[:90]
cpu = time.process_time() - started
print(cpu, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, outcome)
"""


def alias_bomb() -> str:
    levels = ["a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 8)]
    return "version: 1\nnetwork:\n  name: {" + ", ".join(levels) + "}\n" + CORE


def two_thousand_targets() -> str:
    document = yaml.safe_load((REPO / "examples" / "inventory.yml").read_text(encoding="utf-8"))
    template = document["opds"][0]
    document["opds"] = [
        {**copy.deepcopy(template), "id": f"opd-{i}", "address": f"198.51.{100 + i // 250}.{i % 250 + 1}"}
        for i in range(2000 - len(document["isps"]) - len(document["devices"]) - len(document["dns_servers"]))
    ]
    return yaml.safe_dump(document, sort_keys=False)


def cases() -> dict[str, bytes]:
    return {
        "2,000 targets (an honest file)": two_thousand_targets().encode(),
        # libyaml refuses it at the end; PyYAML's Python parser then reads it all again to word the refusal
        "2,000 targets, an unclosed list on the last line": (two_thousand_targets() + "x: [\n").encode(),
        "alias bomb, 8 levels of 9 (under 1 KB)": alias_bomb().encode(),
        "nesting 5,000 deep": ("version: 1\nnetwork: " + "[" * 5000 + "]" * 5000 + "\n" + CORE).encode(),
        "an integer of 5,000 digits": (
            "version: 1\ndefaults: {icmp: {count: " + "9" * 5000 + "}}\n" + CORE
        ).encode(),
        "a name that is not UTF-8": b"version: 1\nnetwork: {name: Batik\xff}\n" + CORE.encode(),
        "a lone surrogate in a name": (
            b'version: 1\ndevices: [{id: core, name: "Core\\ud800", kind: router, address: 192.0.2.1}]\n'
        ),
        "an empty file": b"",
    }


def measure(repo: Path, path: Path) -> tuple[float | None, int | None, str]:
    """CPU seconds of the load alone, the child's peak RSS in KiB, and what came of it."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", CHILD.format(limit=ADDRESS_SPACE), str(repo), str(path)],
            capture_output=True,
            text=True,
            timeout=TIME_LIMIT,
        )
    except subprocess.TimeoutExpired:
        return None, None, f"killed after {TIME_LIMIT} s"
    if not done.stdout.strip():
        return None, None, f"died: {(done.stderr.strip().splitlines() or ['?'])[-1][:80]}"
    cpu, rss, outcome = done.stdout.strip().split(" ", 2)
    return float(cpu), int(rss), outcome


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", type=Path, default=REPO, help="the checkout whose loader is measured")
    repo = parser.parse_args().repo.resolve()
    when = time.strftime("%F %H:%M", time.gmtime())
    print(f"Loader of {repo}; {platform.node()}, Python {platform.python_version()}, {when} UTC\n")
    print("| file | bytes | load CPU ms | child's peak RSS MiB | outcome |")
    print("|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as directory:
        for name, content in cases().items():
            path = Path(directory) / "inventory.yml"
            path.write_bytes(content)
            cpu, rss, outcome = measure(repo, path)
            shown_cpu = "—" if cpu is None else f"{cpu * 1000:,.0f}"
            shown_rss = "—" if rss is None else f"{rss / 1024:,.0f}"
            print(f"| {name} | {len(content):,} | {shown_cpu} | {shown_rss} | {outcome} |")


if __name__ == "__main__":
    main()
