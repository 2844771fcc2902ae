"""The executor: builds the planned lab with ``ip``, starts snmpd and dnsmasq, breaks and mends it.

Everything the lab creates is written to the run directory's ``state.json`` before it is created, so
``down`` removes all of it even after a crash, and stops only processes the lab started (checked by PID,
program name and the lab's config path on their command line).

Python API (the CLI in :mod:`lab.cli` is a thin wrapper)::

    lab = Lab()                      # lab/inventory.yml, /run/batiknet-lab
    lab.up()
    lab.cut("setda"); lab.restore("setda")
    lab.dns_fail("dns1"); lab.dns_restore("dns1")
    lab.interface_down("dist-sw1", lab.interfaces("dist-sw1")[1])
    lab.status().reachable
    lab.down()
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from batiknet.inventory import Inventory, load_inventory

from .plan import (
    LabPlan,
    Link,
    Node,
    build_plan,
    host_batch,
    host_link_sysctls,
    host_setup_batch,
    namespace_batch,
    node_sysctls,
    ports_batch,
    route_lines,
)
from .services import dnsmasq_config, interface_aliases, snmpd_config

DEFAULT_INVENTORY = Path(__file__).with_name("inventory.yml")
DEFAULT_RUN_DIR = Path("/run/batiknet-lab")
LOCK_PATH = Path("/run/batiknet-lab.lock")
PROGRAMS = ("snmpd", "dnsmasq")
READY_TIMEOUT = 10.0
# Marks the host blackhole as the lab's (`ip route ... proto 201`; unassigned in iproute2's rt_protos).
ROUTE_PROTOCOL = "201"
MISSING = "MISSING"  # the operstate shown for an interface that does not exist


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


@contextlib.contextmanager
def exclusive_lock(path: Path = LOCK_PATH, timeout: float = 1800.0) -> Iterator[None]:
    """Hold the machine-wide lab lock (the lab is one shared resource); wait up to ``timeout`` seconds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    message = f"{path} is still held by another user of the lab after {timeout:g}s"
                    raise LabError(message) from None
                time.sleep(0.5)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass
class ProcessRecord:
    target_id: str
    program: str
    pid: int
    namespace: str
    config: str  # the lab-written config path, also a mark on the process's command line


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


class Lab:
    """A simulated Batik.Net in network namespaces, built from an inventory file."""

    def __init__(
        self,
        inventory_path: str | os.PathLike[str] = DEFAULT_INVENTORY,
        run_dir: str | os.PathLike[str] = DEFAULT_RUN_DIR,
    ) -> None:
        self.inventory_path = Path(inventory_path)
        self.run_dir = Path(run_dir)
        self.inventory: Inventory = load_inventory(self.inventory_path)
        self.plan: LabPlan = build_plan(self.inventory)

    # --- queries ----------------------------------------------------------------------------------

    def node(self, target_id: str) -> Node:
        """The plan of one target's namespace (its links, interfaces and routes)."""
        try:
            return self.plan.node(target_id)
        except KeyError:
            raise LabError(f"{target_id!r} is not a target of {self.inventory_path.name}") from None

    def namespace(self, target_id: str) -> str:
        return self.node(target_id).namespace

    def address(self, target_id: str) -> str:
        return self.node(target_id).address

    def interfaces(self, target_id: str) -> tuple[str, ...]:
        """Interface names inside a target's namespace (loopback excluded): ``uplink`` first, then one
        ``dl-<child>`` per child, then a switch's ``access1``..``access4``. These are the ifName/ifDescr
        values its snmpd serves."""
        return self.node(target_id).interfaces

    @property
    def state_path(self) -> Path:
        return self.run_dir / "state.json"

    def is_up(self) -> bool:
        return self.state_path.exists()

    # --- up and down ------------------------------------------------------------------------------

    def up(self) -> None:
        """Build the whole lab and wait until every target answers ping from the host namespace."""
        check_root()
        for binary in ("ip", "sysctl", "snmpd", "dnsmasq", "fping"):
            _binary(binary)
        if self.is_up() or any(ns in _existing_namespaces() for ns in self.plan.namespaces):
            raise LabError("the lab is already up (or left over from a crash): run `batiknet-lab down` first")
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = LabState(
            inventory=str(self.inventory_path.resolve()),
            namespaces=list(self.plan.namespaces),
            host_links=[link.upstream_ifname for link in self.plan.host_links],
            blackhole=self.plan.blackhole,
        )
        self._save(state)  # before anything exists, so that down() knows what to remove after a crash
        try:
            # the blackhole goes first: from then on no lab-range packet can leave the machine
            self._install_blackhole()
            _ip_batch(host_setup_batch(self.plan))
            for node in self.plan.nodes:
                _sysctl(node_sysctls(node), node.namespace)
            for link in self.plan.host_links:
                _sysctl(host_link_sysctls(link))
            for node in self.plan.nodes:
                _ip_batch(namespace_batch(node), node.namespace)
                if node.ports_namespace:
                    _ip_batch(ports_batch(node), node.ports_namespace)
            _ip_batch(host_batch(self.plan))
            for device in self.inventory.devices:
                if device.snmp is not None:
                    self._start(state, device.id, "snmpd")
            for server in self.inventory.dns_servers:
                self._start(state, server.id, "dnsmasq")
            self._wait_reachable(self.plan.addresses())
            self._wait_operstates(self.plan.links)
        except BaseException:
            self.down()
            raise

    def down(self) -> list[str]:
        """Remove everything the lab made; idempotent. Returns warnings (things it could not remove)."""
        check_root()
        state = self._load()
        namespaces = list(dict.fromkeys([*(state.namespaces if state else []), *self.plan.namespaces]))
        host_links = list(
            dict.fromkeys(
                [
                    *(state.host_links if state else []),
                    *(link.upstream_ifname for link in self.plan.host_links),
                ]
            )
        )
        warnings: list[str] = []
        existing = _existing_namespaces()
        candidates = list(state.processes.values()) if state else []
        for namespace in namespaces:
            if namespace in existing:
                candidates += self._strays(namespace)
        for record in candidates:
            _stop(record)
        for namespace in namespaces:
            if namespace in existing:
                _run(["ip", "netns", "delete", namespace], check=False)
        for ifname in host_links:
            if Path(f"/sys/class/net/{ifname}").exists():
                _run(["ip", "link", "delete", ifname], check=False)
        blackhole = state.blackhole if state else self.plan.blackhole
        # only the lab's own (marked) blackhole: one another program set up for the same range stays
        delete = ["ip", "route", "del", "blackhole", blackhole, "proto", ROUTE_PROTOCOL]
        while _run(delete, check=False).returncode == 0:
            pass
        for namespace in set(namespaces) & _existing_namespaces():
            warnings.append(f"namespace {namespace} could not be deleted")
        for record in candidates:
            if _alive(record):
                warnings.append(f"{record.program} pid {record.pid} did not stop")
        if self.state_path.exists():
            self.state_path.unlink()
        shutil.rmtree(self.run_dir / "nodes", ignore_errors=True)
        with contextlib.suppress(OSError):
            self.run_dir.rmdir()
        return warnings

    # --- breaking and mending ---------------------------------------------------------------------

    def cut(self, target_id: str) -> None:
        """The target's link to its upstream goes down like a cut cable: the target's side is set down,
        so the upstream port stays administratively up but loses carrier. Everything behind the target
        is cut off with it."""
        node = self.node(target_id)
        state = self._require_up()
        _run(["ip", "-n", node.namespace, "link", "set", node.uplink.target_ifname, "down"])
        if target_id not in state.cut:
            state.cut.append(target_id)
        self._save(state)

    def restore(self, target_id: str) -> None:
        """Mend a cut link and, unless something upstream is still cut, wait until the target and
        everything behind it answer again."""
        node = self.node(target_id)
        state = self._require_up()
        self._raise_interface(node, node.uplink.target_ifname)
        if target_id in state.cut:
            state.cut.remove(target_id)
        self._save(state)
        if not self._cut_off(target_id, state):
            addresses = self.plan.addresses()
            back = [t for t in (target_id, *self.inventory.behind(target_id)) if not self._cut_off(t, state)]
            self._wait_reachable({t: addresses[t] for t in back})
            self._wait_operstates([node.uplink])

    def interface_down(self, device_id: str, ifname: str) -> None:
        """Set one interface inside a device's namespace administratively down (ifAdminStatus down)."""
        node = self._node_with_interface(device_id, ifname)
        state = self._require_up()
        _run(["ip", "-n", node.namespace, "link", "set", ifname, "down"])
        down = state.interfaces_down.setdefault(device_id, [])
        if ifname not in down:
            down.append(ifname)
        self._save(state)

    def interface_up(self, device_id: str, ifname: str) -> None:
        node = self._node_with_interface(device_id, ifname)
        state = self._require_up()
        self._raise_interface(node, ifname)
        if ifname in state.interfaces_down.get(device_id, []):
            state.interfaces_down[device_id].remove(ifname)
            if not state.interfaces_down[device_id]:
                del state.interfaces_down[device_id]
        self._save(state)

    def dns_fail(self, server_id: str) -> None:
        """Stop the server's dnsmasq: queries to it time out or are refused."""
        self._check_dns_server(server_id)
        state = self._require_up()
        record = state.processes.pop(server_id, None)
        if record is not None:
            _stop(record)
        if server_id not in state.dns_failed:
            state.dns_failed.append(server_id)
        self._save(state)

    def dns_restore(self, server_id: str) -> None:
        self._check_dns_server(server_id)
        state = self._require_up()
        if server_id in state.dns_failed:
            state.dns_failed.remove(server_id)
        self._restart(state, server_id, "dnsmasq")

    def dns_wrong(self, server_id: str) -> None:
        """Serve a wrong address (``lab.services.WRONG_ANSWER``) for every checked name."""
        self._check_dns_server(server_id)
        state = self._require_up()
        if server_id not in state.dns_wrong:
            state.dns_wrong.append(server_id)
        self._restart(state, server_id, "dnsmasq")

    def dns_right(self, server_id: str) -> None:
        self._check_dns_server(server_id)
        state = self._require_up()
        if server_id in state.dns_wrong:
            state.dns_wrong.remove(server_id)
        self._restart(state, server_id, "dnsmasq")

    def snmp_fail(self, device_id: str) -> None:
        """Stop the device's snmpd: it still answers ping, but SNMP requests time out."""
        self._check_snmp_device(device_id)
        state = self._require_up()
        record = state.processes.pop(device_id, None)
        if record is not None:
            _stop(record)
        if device_id not in state.snmp_failed:
            state.snmp_failed.append(device_id)
        self._save(state)

    def snmp_restore(self, device_id: str) -> None:
        self._check_snmp_device(device_id)
        state = self._require_up()
        if device_id in state.snmp_failed:
            state.snmp_failed.remove(device_id)
        self._restart(state, device_id, "snmpd")

    def reboot(self, device_id: str) -> None:
        """Restart the device's snmpd, as after a reboot: sysUpTime starts again from zero."""
        self._check_snmp_device(device_id)
        self._restart(self._require_up(), device_id, "snmpd")

    def reset(self) -> None:
        """Undo every interface-down, cut, DNS and SNMP fault the state records (upstream cuts first)."""
        state = self._require_up()
        for device_id, names in list(state.interfaces_down.items()):
            for ifname in list(names):
                self.interface_up(device_id, ifname)
        for target_id in sorted(state.cut, key=lambda t: len(self.inventory.ancestors(t))):
            self.restore(target_id)
        for server_id in state.dns_failed:
            self.dns_restore(server_id)
        for server_id in state.dns_wrong:
            self.dns_right(server_id)
        for device_id in state.snmp_failed:
            self.snmp_restore(device_id)

    # --- status -----------------------------------------------------------------------------------

    def status(self, probe: bool = True) -> LabStatus:
        """Namespaces, links, processes and (with ``probe``) which targets answer ping from the host."""
        check_root()
        state = self._load()
        existing = _existing_namespaces()
        operstates: dict[str | None, dict[str, str]] = {
            ns: _operstates(ns) for ns in self.plan.namespaces if ns in existing
        }
        operstates[None] = _operstates(None)
        links = [
            LinkStatus(
                target=link.target_id,
                upstream=link.upstream_id,
                network=link.network,
                target_side=operstates.get(link.target_namespace, {}).get(link.target_ifname, MISSING),
                upstream_side=operstates.get(link.upstream_namespace, {}).get(link.upstream_ifname, MISSING),
            )
            for link in self.plan.links
        ]
        processes = [
            ProcessStatus(target=r.target_id, program=r.program, pid=r.pid, alive=_alive(r))
            for r in (state.processes.values() if state else [])
        ]
        reachable = self.reachable() if probe and state else {}
        namespaces = {ns: ns in existing for ns in self.plan.namespaces}
        return LabStatus(
            up=state is not None and all(namespaces.values()),
            namespaces=namespaces,
            links=links,
            processes=processes,
            reachable=reachable,
            cut=list(state.cut) if state else [],
            interfaces_down=dict(state.interfaces_down) if state else {},
            dns_failed=list(state.dns_failed) if state else [],
            dns_wrong=list(state.dns_wrong) if state else [],
            snmp_failed=list(state.snmp_failed) if state else [],
        )

    def reachable(self, target_ids: Sequence[str] | None = None) -> dict[str, bool]:
        """Which targets answer one ping from the host namespace (fping, one retry, 500 ms timeout)."""
        addresses = self.plan.addresses()
        ids = list(target_ids) if target_ids is not None else list(addresses)
        alive = _fping_alive([addresses[i] for i in ids])
        return {i: addresses[i] in alive for i in ids}

    # --- internals --------------------------------------------------------------------------------

    def _check_snmp_device(self, device_id: str) -> None:
        if device_id not in {d.id for d in self.inventory.devices if d.snmp is not None}:
            raise LabError(f"{device_id!r} is not a device with SNMP in the inventory")

    def _check_dns_server(self, server_id: str) -> None:
        if server_id not in {s.id for s in self.inventory.dns_servers}:
            raise LabError(f"{server_id!r} is not a DNS server of the inventory")

    def _install_blackhole(self) -> None:
        """Add the host's blackhole for the lab range, marked with the lab's route protocol number so
        that ``down`` removes exactly it. A blackhole someone else installed for the range protects just
        as well and is left as it is."""
        existing = _run(["ip", "-j", "route", "show", "exact", self.plan.blackhole, "type", "blackhole"])
        if json.loads(existing.stdout or "[]"):
            return
        _run(["ip", "route", "add", "blackhole", self.plan.blackhole, "proto", ROUTE_PROTOCOL])

    def _cut_off(self, target_id: str, state: LabState) -> bool:
        """Whether a cut recorded in the state keeps the target from answering."""
        return bool({target_id, *self.inventory.ancestors(target_id)} & set(state.cut))

    def _node_with_interface(self, device_id: str, ifname: str) -> Node:
        node = self.node(device_id)
        if ifname not in node.interfaces:
            raise LabError(f"{device_id} has no interface {ifname!r} (it has {', '.join(node.interfaces)})")
        return node

    def _raise_interface(self, node: Node, ifname: str) -> None:
        """Bring an interface up and put back the routes the kernel flushed when it went down."""
        _run(["ip", "-n", node.namespace, "link", "set", ifname, "up"])
        _ip_batch(route_lines(node.routes), node.namespace)
        # the kernel publishes the new operstate (what SNMP serves as ifOperStatus) a moment later
        deadline = time.monotonic() + READY_TIMEOUT
        while _operstates(node.namespace).get(ifname) == "DOWN":
            if time.monotonic() > deadline:
                raise LabError(f"{ifname} in {node.namespace} stays down")
            time.sleep(0.02)

    def _restart(self, state: LabState, target_id: str, program: str) -> None:
        """Stop the target's daemon if it runs and start it again, unless it is meant to be failed."""
        record = state.processes.pop(target_id, None)
        if record is not None:
            _stop(record)
        if target_id not in (state.dns_failed if program == "dnsmasq" else state.snmp_failed):
            self._start(state, target_id, program)
        self._save(state)

    def _start(self, state: LabState, target_id: str, program: str) -> None:
        node = self.node(target_id)
        directory = self.run_dir / "nodes" / target_id
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        config = directory / f"{program}.conf"
        env = dict(os.environ)
        if program == "snmpd":
            device = next(d for d in self.inventory.devices if d.id == target_id)
            indexes = _ifindexes(node.namespace)
            aliases = {
                indexes[name]: alias for name, alias in interface_aliases(node, self.inventory).items()
            }
            text = snmpd_config(device, self.inventory, aliases)
            persistent = directory / "snmp-state"
            persistent.mkdir(exist_ok=True, mode=0o700)
            env["SNMP_PERSISTENT_DIR"] = str(persistent)
            argv = [_binary("snmpd"), "-f", "-Lo", "-C", "-m", "", "-c", str(config)]
            port = device.snmp.port if device.snmp else 161
        else:
            server = next(s for s in self.inventory.dns_servers if s.id == target_id)
            text = dnsmasq_config(server, wrong=target_id in state.dns_wrong)
            argv = [_binary("dnsmasq"), "--keep-in-foreground", f"--conf-file={config}"]
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
        state.processes[target_id] = record
        self._save(state)
        _wait_listening(process, record, node.address, port, directory / f"{program}.log")

    def _wait_operstates(self, links: Sequence[Link]) -> None:
        """Wait until both ends of each link report operstate UP (published shortly after carrier)."""
        deadline = time.monotonic() + READY_TIMEOUT
        pending = list(links)
        while pending:
            states: dict[str | None, dict[str, str]] = {}
            for link in pending:
                for namespace in (link.target_namespace, link.upstream_namespace):
                    if namespace not in states:
                        states[namespace] = _operstates(namespace)
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

    def _wait_reachable(self, addresses: dict[str, str]) -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        missing = dict(addresses)
        while missing:
            alive = _fping_alive(list(missing.values()))
            missing = {i: a for i, a in missing.items() if a not in alive}
            if missing and time.monotonic() > deadline:
                raise LabError(f"not reachable from the host after {READY_TIMEOUT:g}s: {', '.join(missing)}")

    def _strays(self, namespace: str) -> list[ProcessRecord]:
        """Lab daemons still running in a lab namespace though state.json lost them (after a crash)."""
        pids = _run(["ip", "netns", "pids", namespace], check=False).stdout.split()
        records = []
        for pid in map(int, pids):
            program = _comm(pid)
            if program in PROGRAMS:
                mark = str(self.run_dir / "nodes")
                if mark in _cmdline(pid):
                    records.append(ProcessRecord("?", program, pid, namespace, mark))
        return records

    def _require_up(self) -> LabState:
        check_root()
        state = self._load()
        if state is None:
            raise LabError("the lab is not up: run `batiknet-lab up` first")
        return state

    def _load(self) -> LabState | None:
        try:
            return LabState.from_json(json.loads(self.state_path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None

    def _save(self, state: LabState) -> None:
        temporary = self.state_path.with_suffix(".tmp")
        temporary.write_text(json.dumps(asdict(state), indent=2), encoding="utf-8")
        temporary.replace(self.state_path)


# --- thin wrappers over the system ----------------------------------------------------------------


def _binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    if path is None:
        raise LabError(f"{name} is not installed (run `make install`)")
    return path


def _run(argv: list[str], input: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
    argv = [_binary(argv[0]), *argv[1:]]
    result = subprocess.run(argv, input=input, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise LabError(f"{' '.join(argv)} failed: {result.stderr.strip() or result.stdout.strip()}")
    return result


def _ip_batch(lines: list[str], namespace: str | None = None) -> None:
    if not lines:
        return
    where = ["-n", namespace] if namespace else []
    _run(["ip", *where, "-batch", "-"], input="\n".join(lines) + "\n")


def _sysctl(settings: dict[str, str], namespace: str | None = None) -> None:
    assignments = [f"{key}={value}" for key, value in settings.items()]
    prefix = ["ip", "netns", "exec", namespace, _binary("sysctl")] if namespace else ["sysctl"]
    _run([*prefix, "-q", "-w", *assignments])


def _existing_namespaces() -> set[str]:
    return {line.split()[0] for line in _run(["ip", "netns", "list"]).stdout.splitlines() if line.strip()}


def _operstates(namespace: str | None) -> dict[str, str]:
    where = ["-n", namespace] if namespace else []
    result = _run(["ip", *where, "-j", "link", "show"], check=False)
    if result.returncode != 0:
        return {}
    return {entry["ifname"]: entry.get("operstate", "UNKNOWN") for entry in json.loads(result.stdout)}


def _ifindexes(namespace: str) -> dict[str, int]:
    result = _run(["ip", "-n", namespace, "-j", "link", "show"])
    return {entry["ifname"]: entry["ifindex"] for entry in json.loads(result.stdout)}


def _fping_alive(addresses: list[str]) -> set[str]:
    if not addresses:
        return set()
    result = _run(["fping", "-a", "-r", "1", "-t", "500", *addresses], check=False)
    return set(result.stdout.split())


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


def _alive(record: ProcessRecord) -> bool:
    """The recorded process still runs and is the one the lab started (not a reused PID, not a zombie)."""
    try:
        stat = Path(f"/proc/{record.pid}/stat").read_text()
    except OSError:
        return False
    if stat.rsplit(")", 1)[1].split()[0] == "Z":
        return False
    return _comm(record.pid) == record.program and record.config in _cmdline(record.pid)


def _stop(record: ProcessRecord) -> None:
    """SIGTERM, then SIGKILL after 3 s; reap it when it is our child so it does not linger as a zombie."""
    if not _alive(record):
        _reap(record.pid)
        return
    os.kill(record.pid, signal.SIGTERM)
    deadline = time.monotonic() + 3.0
    while _alive(record) and time.monotonic() < deadline:
        _reap(record.pid)
        time.sleep(0.02)
    if _alive(record):
        os.kill(record.pid, signal.SIGKILL)
    for _ in range(100):
        _reap(record.pid)
        if not _alive(record):
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
