"""The lab's daemons: snmpd for each device with SNMP and dnsmasq for each DNS server, each in its
target's namespace, with the config :mod:`lab.services` writes for it under ``<run dir>/nodes/<id>/``.

A daemon's PID is recorded before the lab waits for it to listen, so that ``down`` finds it after a
crash at any point; and a process is only ever stopped once it is proven the lab's: by PID, program name
and the lab's config path on its command line (a PID may since belong to another program).
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from batiknet.inventory import Inventory

from .plan import Node
from .services import dnsmasq_config, interface_aliases, snmpd_config
from .system import READY_TIMEOUT, LabError, binary, ifindexes, run

PROGRAMS = ("snmpd", "dnsmasq")


@dataclass
class ProcessRecord:
    target_id: str
    program: str
    pid: int
    namespace: str
    config: str  # the lab-written config path, also a mark on the process's command line


def start_daemon(
    program: str,
    node: Node,
    inventory: Inventory,
    directory: Path,
    dns_wrong: bool,
    remember: Callable[[ProcessRecord], None],
) -> None:
    """Write the config of ``program`` (snmpd or dnsmasq) for the target of ``node``, start it in the
    target's namespace, hand its record to ``remember`` and wait until it listens."""
    target_id = node.target_id
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    config = directory / f"{program}.conf"
    env = dict(os.environ)
    if program == "snmpd":
        device = next(d for d in inventory.devices if d.id == target_id)
        indexes = ifindexes(node.namespace)
        aliases = {indexes[name]: alias for name, alias in interface_aliases(node, inventory).items()}
        text = snmpd_config(device, inventory, aliases)
        persistent = directory / "snmp-state"
        persistent.mkdir(exist_ok=True, mode=0o700)
        env["SNMP_PERSISTENT_DIR"] = str(persistent)
        argv = [binary("snmpd"), "-f", "-Lo", "-C", "-m", "", "-c", str(config)]
        port = device.snmp.port if device.snmp else 161
    else:
        server = next(s for s in inventory.dns_servers if s.id == target_id)
        text = dnsmasq_config(server, wrong=dns_wrong)
        argv = [binary("dnsmasq"), "--keep-in-foreground", f"--conf-file={config}"]
        port = server.port
    config.write_text(text, encoding="utf-8")
    config.chmod(0o600)
    with open(directory / f"{program}.log", "ab") as log:
        process = subprocess.Popen(
            ["ip", "netns", "exec", node.namespace, *argv],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # a Ctrl-C meant for the CLI or the test run must not hit it
        )
    record = ProcessRecord(target_id, program, process.pid, node.namespace, str(config))
    remember(record)  # before the wait: a daemon that never listens is still the lab's to stop
    _wait_listening(process, record, node.address, port, directory / f"{program}.log")


def stray_daemons(namespace: str, mark: str) -> list[ProcessRecord]:
    """Lab daemons still running in a lab namespace though state.json lost them (after a crash): those
    whose command line holds ``mark``, the lab's directory of configs."""
    pids = run(["ip", "netns", "pids", namespace], check=False).stdout.split()
    records = []
    for pid in map(int, pids):
        program = _comm(pid)
        if program in PROGRAMS and mark in _cmdline(pid):
            records.append(ProcessRecord("?", program, pid, namespace, mark))
    return records


def _comm(pid: int) -> str | None:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def daemon_alive(record: ProcessRecord) -> bool:
    """The recorded process still runs and is the one the lab started (not a reused PID, not a zombie)."""
    try:
        stat = Path(f"/proc/{record.pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return _comm(record.pid) == record.program and record.config in _cmdline(record.pid)


def stop_daemon(record: ProcessRecord) -> None:
    """SIGTERM, then SIGKILL after 3 s; reap it when it is our child so it does not linger as a zombie."""
    if not daemon_alive(record):
        _reap(record.pid)
        return
    os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + 3.0
    while daemon_alive(record) and time.monotonic() < deadline:
        _reap(record.pid)
        time.sleep(0.02)
    if daemon_alive(record):
        os.kill(record.pid, signal.SIGKILL)
    for _ in range(100):
        _reap(record.pid)
        if not daemon_alive(record):
            return
        time.sleep(0.02)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        pass
    except OSError as error:
        if error.errno != errno.ECHILD:
            raise


def _wait_listening(
    process: subprocess.Popen, record: ProcessRecord, address: str, port: int, log: Path
) -> None:
    """Wait until the daemon's UDP socket is bound, read from /proc/PID/net/udp (its namespace's view)."""
    wanted = _proc_net_address(address, port)
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise LabError(f"{record.program} for {record.target_id} exited at start:\n{tail}")
        with contextlib.suppress(OSError):
            table = Path(f"/proc/{record.pid}/net/udp").read_text()
            if any(line.split()[1] == wanted for line in table.splitlines()[1:]):
                return
        time.sleep(0.02)
    raise LabError(f"{record.program} for {record.target_id} did not listen on {address}:{port}")


def _proc_net_address(address: str, port: int) -> str:
    """``198.18.0.2:161`` as /proc/net/udp writes it: the address in host byte order (little endian)."""
    packed = bytes(int(part) for part in address.split("."))
    return f"{int.from_bytes(packed, 'little'):08X}:{port:04X}"
