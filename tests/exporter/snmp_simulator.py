"""Recorded devices for the SNMP tests: .snmprec files read as the exporter would decode them, snmpsim
serving them on loopback (v2c by community, v3 one engine per device), a relay that makes an agent slow,
and a real batiknet-exporter walking them all.

snmpsim (PyPI) answers from a recording: ``<community>.snmprec`` in a data directory is served over v2c
with that community. Under pysnmp 7 its per-context variation never runs, so each v3 device gets its own
engine, port and data directory with the recording as ``.snmprec``: the empty context. As root it wants
``SNMPSIM_ALLOW_ROOT=true``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import snmpsim
import yaml
from prometheus_client.parser import text_string_to_metric_families

from tests.support import require, require_root

from .test_cli import free_port

SHIPPED = Path(snmpsim.__file__).parent / "data" / "recorded"  # recordings snmpsim ships
OURS = Path(__file__).parent / "recordings"  # recordings written here from the vendors' MIBs
RESPONDER = Path(sys.executable).parent / "snmpsim-command-responder"
V3_USER, V3_AUTH, V3_PRIV = "recorded", "recorded-auth-key", "recorded-priv-key"
AUTH_ENV, PRIV_ENV = "TEST_SNMP_AUTH", "TEST_SNMP_PRIV"

Oid = tuple[int, ...]

# .snmprec value tags (snmpsim's grammar): the value the exporter's codec would decode from each.
INTEGER_TAGS = {"2", "65", "66", "67", "70"}  # INTEGER, Counter32, Gauge32, TimeTicks, Counter64
OCTET_TAGS = {"4", "64", "68"}  # OCTET STRING, IpAddress, Opaque


def parse_oid(text: str) -> Oid:
    return tuple(int(part) for part in text.split("."))


def read_recording(path: Path) -> dict[Oid, object]:
    """Every OID of a .snmprec file with its value as the exporter decodes it. snmpsim reads the file as
    ISO-8859-1 and sends a plain value's characters as its octets; an ``x`` tag's value is hex."""
    values: dict[Oid, object] = {}
    for line in path.read_text(encoding="iso-8859-1").splitlines():
        if not line or line.startswith("#"):
            continue
        oid, tag, value = line.split("|", 2)
        hexadecimal = tag.endswith("x")
        tag = tag.rstrip("x")
        raw = bytes.fromhex(value) if hexadecimal else value.encode("iso-8859-1")
        if tag in INTEGER_TAGS:
            values[parse_oid(oid)] = int(raw)
        elif tag == "64" and len(raw) != 4:  # an IpAddress written as a dotted quad
            values[parse_oid(oid)] = bytes(int(octet) for octet in value.split("."))
        elif tag in OCTET_TAGS:
            values[parse_oid(oid)] = raw
        elif tag == "6":
            values[parse_oid(oid)] = parse_oid(raw.decode())
        elif tag == "5":
            values[parse_oid(oid)] = None
        else:
            raise ValueError(f"{path.name}: tag {tag!r} of {oid} is not one these tests read")
    return values


def column(recording: dict[Oid, object], oid: Oid) -> dict[tuple[int, ...], object]:
    """The rows of one column of a recording, by their index."""
    return {name[len(oid) :]: value for name, value in recording.items() if name[: len(oid)] == oid}


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass
class Device:
    """One simulated device: its recording, how it is reached, and what the inventory says of it."""

    id: str
    recording: Path
    version: str = "2c"  # "2c": served by the shared engine under its community; "3": its own engine
    context: str = ""  # v3 only: the context the inventory asks for (the recording is served under it)
    default_context: Path | None = None  # v3 only: another recording, served under the empty context
    profile: str | None = None  # forced in the inventory
    port: int = 0  # set when the simulator starts

    @property
    def community(self) -> str:
        return self.id


@dataclass
class Simulator:
    """One snmpsim process serving every device on loopback."""

    devices: list[Device]
    workdir: Path
    process: subprocess.Popen | None = None
    v2c_port: int = field(default_factory=free_udp_port)

    def start(self) -> None:
        require(RESPONDER.exists(), "snmpsim is not installed (make install)")
        v2c_dir = self.workdir / "v2c"
        v2c_dir.mkdir(parents=True)
        argv = [str(RESPONDER), f"--cache-dir={self.workdir / 'cache'}", "--log-level=error"]
        argv += [
            f"--pid-file={self.workdir / 'snmpsim.pid'}",
            f"--logging-method=file:{self.workdir / 'log'}",
        ]
        argv += [
            "--v3-engine-id=auto",
            f"--data-dir={v2c_dir}",
            f"--agent-udpv4-endpoint=127.0.0.1:{self.v2c_port}",
        ]
        for number, device in enumerate(self.devices):
            if device.version == "2c":
                shutil.copy(device.recording, v2c_dir / f"{device.community}.snmprec")
                device.port = self.v2c_port
                continue
            data = self.workdir / f"v3-{device.id}"
            data.mkdir()
            shutil.copy(device.recording, data / f"{device.context}.snmprec")
            if device.default_context is not None:
                shutil.copy(device.default_context, data / ".snmprec")
            device.port = free_udp_port()
            argv += [
                f"--v3-engine-id=8000000004{number + 1:08x}",
                f"--data-dir={data}",
                f"--agent-udpv4-endpoint=127.0.0.1:{device.port}",
                f"--v3-user={V3_USER}",
                f"--v3-auth-key={V3_AUTH}",
                "--v3-auth-proto=SHA",
                f"--v3-priv-key={V3_PRIV}",
                "--v3-priv-proto=AES",
            ]
        env = {**os.environ, "SNMPSIM_ALLOW_ROOT": "true"}
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        ports = {device.port for device in self.devices} | {self.v2c_port}
        deadline = time.monotonic() + 120  # it indexes every recording before it listens
        while not all(udp_listening(port) for port in ports):
            if self.process.poll() is not None:
                raise RuntimeError(f"snmpsim stopped: {self.process.stderr.read().decode()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("snmpsim did not listen within 120 s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            self.process = None


def udp_listening(port: int) -> bool:
    return f"0100007F:{port:04X}" in Path("/proc/net/udp").read_text()


@contextlib.contextmanager
def simulated(devices: list[Device], workdir: Path) -> Iterator[Simulator]:
    simulator = Simulator(devices, workdir)
    try:
        simulator.start()
        yield simulator
    finally:
        simulator.stop()


def inventory_document(devices: list[Device], snmp_interval: str = "5s") -> dict:
    """An inventory with one device per simulated device, all at 127.0.0.1 on their own port."""
    entries = []
    for device in devices:
        snmp: dict[str, object] = {"version": device.version, "port": device.port}
        if device.version == "2c":
            snmp["community"] = {"file": f"communities/{device.id}"}
        else:
            snmp |= {
                "username": V3_USER,
                "security_level": "authPriv",
                "auth_protocol": "SHA",
                "auth_password": {"env": AUTH_ENV},
                "priv_protocol": "AES",
                "priv_password": {"env": PRIV_ENV},
            }
            if device.context:
                snmp["context"] = device.context
        if device.profile:
            snmp["profile"] = device.profile
        entries.append(
            {"id": device.id, "name": device.id, "kind": "switch", "address": "127.0.0.1", "snmp": snmp}
        )
    return {
        "version": 1,
        "defaults": {
            "icmp": {"interval": "2s", "timeout": "500ms", "count": 1},
            "snmp": {"interval": snmp_interval, "timeout": "2s", "retries": 1},
        },
        "devices": entries,
    }


@dataclass
class Exporter:
    """A real batiknet-exporter over an inventory of simulated devices."""

    process: subprocess.Popen
    port: int

    def text(self) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=10) as response:
            return response.read().decode()

    def samples(self) -> list:
        return [sample for family in text_string_to_metric_families(self.text()) for sample in family.samples]

    def wait_walked(self, devices: list[Device], timeout: float = 90) -> list:
        """The samples once every device has had a successful walk."""
        deadline = time.monotonic() + timeout
        while True:
            samples = self.samples()
            up = {s.labels["device"] for s in samples if s.name == "batiknet_snmp_up" and s.value == 1}
            if {device.id for device in devices} <= up:
                return samples
            if time.monotonic() > deadline:
                status = [
                    (s.labels, s.value) for s in samples if s.name == "batiknet_snmp_status" and s.value
                ]
                raise AssertionError(f"not every device walked within {timeout:g} s: {status}")
            time.sleep(0.5)


@contextlib.contextmanager
def exporter(devices: list[Device], workdir: Path, snmp_interval: str = "5s") -> Iterator[Exporter]:
    require_root()  # the exporter pings every target (here 127.0.0.1) before it walks it
    (workdir / "communities").mkdir(parents=True)
    for device in devices:
        (workdir / "communities" / device.id).write_text(device.community)
    inventory = workdir / "inventory.yml"
    inventory.write_text(yaml.safe_dump(inventory_document(devices, snmp_interval)))
    port = free_port()
    env = {**os.environ, AUTH_ENV: V3_AUTH, PRIV_ENV: V3_PRIV}
    with open(workdir / "exporter.log", "w") as log:
        process = subprocess.Popen(
            [
                *(sys.executable, "-m", "exporter.cli", "--config.file", str(inventory)),
                *("--web.listen-address", f"127.0.0.1:{port}"),
            ],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/healthy", timeout=1).close()
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((workdir / "exporter.log").read_text()[-3000:])
            time.sleep(0.1)
        yield Exporter(process, port)
    finally:
        process.terminate()
        process.wait(timeout=10)


class SlowRelay:
    """A UDP relay on loopback that passes each request on to an agent at once and hands its answer back
    ``delay`` seconds later: an agent that answers in ``delay`` (one client at a time)."""

    def __init__(self, agent_port: int, delay: float) -> None:
        self.agent = ("127.0.0.1", agent_port)
        self.delay = delay
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.port = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> SlowRelay:
        self.thread.start()
        self.ready.wait(10)
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        relay = self
        client: list[tuple] = []

        class Front(asyncio.DatagramProtocol):
            def connection_made(self, transport) -> None:
                self.transport = transport

            def datagram_received(self, data: bytes, address: tuple) -> None:
                client[:] = [address]
                back.sendto(data)

        class Back(asyncio.DatagramProtocol):
            def datagram_received(self, data: bytes, address: tuple) -> None:
                if client:
                    relay.loop.call_later(relay.delay, front.sendto, data, client[0])

        front, _ = self.loop.run_until_complete(
            self.loop.create_datagram_endpoint(Front, local_addr=("127.0.0.1", 0))
        )
        back, _ = self.loop.run_until_complete(
            self.loop.create_datagram_endpoint(Back, remote_addr=self.agent)
        )
        self.port = front.get_extra_info("socket").getsockname()[1]
        self.ready.set()
        self.loop.run_forever()
        front.close()
        back.close()


def big_chassis_recording(path: Path, ports: int) -> Path:
    """A Cisco chassis switch with ``ports`` interfaces (IF-MIB with HC counters, Cisco CPU and memory), in
    OID order as snmpsim wants it."""
    rows = range(1, ports + 1)
    lines = [
        "1.3.6.1.2.1.1.1.0|4|Cisco IOS Software, Catalyst 6500 chassis",
        "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.9.1.283",
        "1.3.6.1.2.1.1.3.0|67|500000000",
        "1.3.6.1.2.1.1.5.0|4|big-chassis",
    ]
    if_table = {
        1: lambda i: f"2|{i}",
        2: lambda i: f"4|GigabitEthernet{i // 48 + 1}/{i % 48 + 1}",
        3: lambda i: "2|6",
        5: lambda i: "66|1000000000",
        7: lambda i: "2|1",
        8: lambda i: f"2|{1 if i % 3 else 2}",
        10: lambda i: f"65|{i * 1000}",
        14: lambda i: f"65|{i % 7}",
        16: lambda i: f"65|{i * 2000}",
        20: lambda i: f"65|{i % 5}",
    }
    if_x_table = {
        1: lambda i: f"4|Gi{i // 48 + 1}/{i % 48 + 1}",
        6: lambda i: f"70|{2**33 + i}",
        10: lambda i: f"70|{2**34 + i}",
        15: lambda i: "66|1000",
        18: lambda i: f"4|port {i}",
    }
    for prefix, table in (("1.3.6.1.2.1.2.2.1", if_table), ("1.3.6.1.2.1.31.1.1.1", if_x_table)):
        lines += [f"{prefix}.{number}.{i}|{value(i)}" for number, value in table.items() for i in rows]
    lines += [
        "1.3.6.1.4.1.9.9.48.1.1.1.5.1|66|300000000",
        "1.3.6.1.4.1.9.9.48.1.1.1.6.1|66|700000000",
        "1.3.6.1.4.1.9.9.109.1.1.1.1.8.1|66|23",
    ]
    path.write_text("\n".join(lines) + "\n", encoding="iso-8859-1")
    return path
