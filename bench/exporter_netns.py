"""Namespaces for the exporter benchmarks: built here, torn down here, under the lab lock.

Every address is in 198.19.0.0/16 (inside the 198.18.0.0/15 benchmarking range, apart from the lab's
198.18.x.x), behind a host blackhole route for 198.18.0.0/15 that is installed before anything else, so
no benchmark packet can leave the machine. Namespaces are named ``bnb-*``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import platform
import resource
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

LOCK_PATH = Path("/run/batiknet-lab.lock")
BENCH_RANGE = "198.18.0.0/15"


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def ip_batch(lines: list[str], namespace: str | None = None) -> None:
    argv = ["ip", *(["-n", namespace] if namespace else []), "-batch", "-"]
    subprocess.run(argv, input="\n".join(lines) + "\n", check=True, text=True, capture_output=True)


@contextlib.contextmanager
def lab_lock() -> Iterator[None]:
    """The machine-wide lab lock, held for the whole benchmark (the lab and tests use namespaces too)."""
    with open(LOCK_PATH, "a") as lock:
        print(f"waiting for {LOCK_PATH} ...", flush=True)
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def blackhole() -> Iterator[None]:
    """The host blackhole for the benchmarking range; removed afterwards only if this benchmark added it."""
    existing = run("ip", "route", "show", "exact", BENCH_RANGE, "type", "blackhole").stdout.strip()
    if not existing:
        run("ip", "route", "add", "blackhole", BENCH_RANGE)
    try:
        yield
    finally:
        if not existing:
            run("ip", "route", "del", "blackhole", BENCH_RANGE, check=False)


@contextlib.contextmanager
def namespace(
    name: str, host_if: str, host_address: str, far_address: str, routes: list[str]
) -> Iterator[str]:
    """A namespace ``name`` linked to the host by a veth pair on a /30; ``routes`` (host side) go via it."""
    assert name.startswith("bnb-")
    with blackhole():
        cleanup(name, host_if)
        run("ip", "netns", "add", name)
        try:
            ip_batch(
                [
                    f"link add {host_if} type veth peer name uplink netns {name}",
                    f"addr add {host_address}/30 dev {host_if}",
                    f"link set {host_if} up",
                    *(f"route add {route} via {far_address} dev {host_if}" for route in routes),
                ]
            )
            ip_batch(
                [
                    "link set lo up",
                    f"addr add {far_address}/30 dev uplink",
                    "link set uplink up",
                    f"route add default via {host_address} dev uplink",
                ],
                namespace=name,
            )
            wait_link(host_if)
            yield name
        finally:
            cleanup(name, host_if)


def wait_link(ifname: str, deadline: float = 5.0) -> None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        if "LOWER_UP" in run("ip", "link", "show", ifname).stdout:
            return
        time.sleep(0.05)


def cleanup(name: str, host_if: str) -> None:
    run("ip", "link", "del", host_if, check=False)
    run("ip", "netns", "del", name, check=False)


def in_namespace(name: str, *argv: str) -> list[str]:
    return ["ip", "netns", "exec", name, *argv]


def process_cpu_seconds(pid: int) -> float:
    """User plus system CPU of a running process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def own_peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    python = platform.python_version()
    return f"{platform.node()}: {os.cpu_count()} cores, {cpu}, Linux {platform.release()}, Python {python}"


def wait_port(host: str, port: int, deadline: float = 10.0) -> None:
    import socket

    end = time.monotonic() + deadline
    while time.monotonic() < end:
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {host}:{port}")


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
