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

The parts: :mod:`lab.plan` says what to build (pure), :mod:`lab.system` runs ``ip``, ``sysctl`` and
``fping`` and waits for the kernel, :mod:`lab.daemons` starts and stops snmpd and dnsmasq with the
configs of :mod:`lab.services`, :mod:`lab.state` keeps ``state.json`` and the status records. This module
holds :class:`Lab`, which puts them together, and the lock that makes the lab one user's at a time.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from batiknet.inventory import Inventory, load_inventory

from .daemons import PROGRAMS, ProcessRecord, daemon_alive, start_daemon, stop_daemon, stray_daemons
from .plan import (
    LabPlan,
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
from .state import MISSING, LabState, LabStatus, LinkStatus, ProcessStatus
from .system import (
    READY_TIMEOUT,
    LabError,
    NeedsRoot,
    binary,
    check_root,
    existing_namespaces,
    fping_alive,
    ip_batch,
    operstates,
    run,
    sysctl,
    wait_operstates,
    wait_reachable,
)

__all__ = [  # the lab's names, as the CLI, the demo and the tests import them
    "DEFAULT_INVENTORY",
    "DEFAULT_RUN_DIR",
    "LOCK_PATH",
    "MISSING",
    "PROGRAMS",
    "READY_TIMEOUT",
    "ROUTE_PROTOCOL",
    "Lab",
    "LabError",
    "LabState",
    "LabStatus",
    "LinkStatus",
    "NeedsRoot",
    "ProcessRecord",
    "ProcessStatus",
    "check_root",
    "exclusive_lock",
]

DEFAULT_INVENTORY = Path(__file__).with_name("inventory.yml")
DEFAULT_RUN_DIR = Path("/run/batiknet-lab")
LOCK_PATH = Path("/run/batiknet-lab.lock")
# Marks the host blackhole as the lab's (`ip route ... proto 201`; unassigned in iproute2's rt_protos).
ROUTE_PROTOCOL = "201"


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
        for program in ("ip", "sysctl", "snmpd", "dnsmasq", "fping"):
            binary(program)
        if self.is_up() or any(ns in existing_namespaces() for ns in self.plan.namespaces):
            raise LabError("the lab is already up (or left over from a crash): run `batiknet-lab down` first")
        self.run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        state = LabState(
            inventory=str(self.inventory_path.resolve()),
            namespaces=list(self.plan.namespaces),
            host_links=[link.upstream_ifname for link in self.plan.host_links],
            blackhole=self.plan.blackhole,
        )
        # written before anything exists, so that down() knows what to remove after a crash
        state.write(self.state_path)
        try:
            # the blackhole goes first: from then on no lab-range packet can leave the machine
            self._install_blackhole()
            ip_batch(host_setup_batch(self.plan))
            for node in self.plan.nodes:
                sysctl(node_sysctls(node), node.namespace)
            for link in self.plan.host_links:
                sysctl(host_link_sysctls(link))
            for node in self.plan.nodes:
                ip_batch(namespace_batch(node), node.namespace)
                if node.ports_namespace:
                    ip_batch(ports_batch(node), node.ports_namespace)
            ip_batch(host_batch(self.plan))
            for device in self.inventory.devices:
                if device.snmp is not None:
                    self._start(state, device.id, "snmpd")
            for server in self.inventory.dns_servers:
                self._start(state, server.id, "dnsmasq")
            wait_reachable(self.plan.addresses())
            wait_operstates(self.plan.links)
        except BaseException:
            self.down()
            raise

    def down(self) -> list[str]:
        """Remove everything the lab made; idempotent. Returns warnings (things it could not remove)."""
        check_root()
        state = LabState.read(self.state_path)
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
        existing = existing_namespaces()
        candidates = list(state.processes.values()) if state else []
        for namespace in namespaces:
            if namespace in existing:
                candidates += stray_daemons(namespace, str(self.run_dir / "nodes"))
        for record in candidates:
            stop_daemon(record)
        for namespace in namespaces:
            if namespace in existing:
                run(["ip", "netns", "delete", namespace], check=False)
        for ifname in host_links:
            if Path(f"/sys/class/net/{ifname}").exists():
                run(["ip", "link", "delete", ifname], check=False)
        blackhole = state.blackhole if state else self.plan.blackhole
        # only the lab's own (marked) blackhole: one another program set up for the same range stays
        delete = ["ip", "route", "del", "blackhole", blackhole, "proto", ROUTE_PROTOCOL]
        while run(delete, check=False).returncode == 0:
            pass
        for namespace in set(namespaces) & existing_namespaces():
            warnings.append(f"namespace {namespace} could not be deleted")
        for record in candidates:
            if daemon_alive(record):
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
        run(["ip", "-n", node.namespace, "link", "set", node.uplink.target_ifname, "down"])
        if target_id not in state.cut:
            state.cut.append(target_id)
        state.write(self.state_path)

    def restore(self, target_id: str) -> None:
        """Mend a cut link and, unless something upstream is still cut, wait until the target and
        everything behind it answer again."""
        node = self.node(target_id)
        state = self._require_up()
        self._raise_interface(node, node.uplink.target_ifname)
        if target_id in state.cut:
            state.cut.remove(target_id)
        state.write(self.state_path)
        if not self._cut_off(target_id, state):
            addresses = self.plan.addresses()
            back = [t for t in (target_id, *self.inventory.behind(target_id)) if not self._cut_off(t, state)]
            wait_reachable({t: addresses[t] for t in back})
            wait_operstates([node.uplink])

    def interface_down(self, device_id: str, ifname: str) -> None:
        """Set one interface inside a device's namespace administratively down (ifAdminStatus down)."""
        node = self._node_with_interface(device_id, ifname)
        state = self._require_up()
        run(["ip", "-n", node.namespace, "link", "set", ifname, "down"])
        down = state.interfaces_down.setdefault(device_id, [])
        if ifname not in down:
            down.append(ifname)
        state.write(self.state_path)

    def interface_up(self, device_id: str, ifname: str) -> None:
        node = self._node_with_interface(device_id, ifname)
        state = self._require_up()
        self._raise_interface(node, ifname)
        if ifname in state.interfaces_down.get(device_id, []):
            state.interfaces_down[device_id].remove(ifname)
            if not state.interfaces_down[device_id]:
                del state.interfaces_down[device_id]
        state.write(self.state_path)

    def dns_fail(self, server_id: str) -> None:
        """Stop the server's dnsmasq: queries to it time out or are refused."""
        self._check_dns_server(server_id)
        state = self._require_up()
        record = state.processes.pop(server_id, None)
        if record is not None:
            stop_daemon(record)
        if server_id not in state.dns_failed:
            state.dns_failed.append(server_id)
        state.write(self.state_path)

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
            stop_daemon(record)
        if device_id not in state.snmp_failed:
            state.snmp_failed.append(device_id)
        state.write(self.state_path)

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
        state = LabState.read(self.state_path)
        existing = existing_namespaces()
        link_states: dict[str | None, dict[str, str]] = {
            ns: operstates(ns) for ns in self.plan.namespaces if ns in existing
        }
        link_states[None] = operstates(None)
        links = [
            LinkStatus(
                target=link.target_id,
                upstream=link.upstream_id,
                network=link.network,
                target_side=link_states.get(link.target_namespace, {}).get(link.target_ifname, MISSING),
                upstream_side=link_states.get(link.upstream_namespace, {}).get(link.upstream_ifname, MISSING),
            )
            for link in self.plan.links
        ]
        processes = [
            ProcessStatus(target=r.target_id, program=r.program, pid=r.pid, alive=daemon_alive(r))
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
        alive = fping_alive([addresses[i] for i in ids])
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
        existing = run(["ip", "-j", "route", "show", "exact", self.plan.blackhole, "type", "blackhole"])
        if json.loads(existing.stdout or "[]"):
            return
        run(["ip", "route", "add", "blackhole", self.plan.blackhole, "proto", ROUTE_PROTOCOL])

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
        run(["ip", "-n", node.namespace, "link", "set", ifname, "up"])
        ip_batch(route_lines(node.routes), node.namespace)
        # the kernel publishes the new operstate (what SNMP serves as ifOperStatus) a moment later
        deadline = time.monotonic() + READY_TIMEOUT
        while operstates(node.namespace).get(ifname) == "DOWN":
            if time.monotonic() > deadline:
                raise LabError(f"{ifname} in {node.namespace} stays down")
            time.sleep(0.02)

    def _restart(self, state: LabState, target_id: str, program: str) -> None:
        """Stop the target's daemon if it runs and start it again, unless it is meant to be failed."""
        record = state.processes.pop(target_id, None)
        if record is not None:
            stop_daemon(record)
        if target_id not in (state.dns_failed if program == "dnsmasq" else state.snmp_failed):
            self._start(state, target_id, program)
        state.write(self.state_path)

    def _start(self, state: LabState, target_id: str, program: str) -> None:
        def remember(record: ProcessRecord) -> None:
            state.processes[target_id] = record
            state.write(self.state_path)

        start_daemon(
            program,
            self.node(target_id),
            self.inventory,
            self.run_dir / "nodes" / target_id,
            dns_wrong=target_id in state.dns_wrong,
            remember=remember,
        )

    def _require_up(self) -> LabState:
        check_root()
        state = LabState.read(self.state_path)
        if state is None:
            raise LabError("the lab is not up: run `batiknet-lab up` first")
        return state
