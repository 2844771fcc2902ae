"""The SNMP walker against a real Debian snmpd on a loopback port (v2c and v3 authPriv)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batiknet.inventory import Device, InterfaceSelection
from exporter.probes.snmp import SNMPAuth, SNMPWalker
from tests.support import require_binary

COMMUNITY, USER, AUTH_KEY, PRIV_KEY = "test-community", "tester", "auth-pass-123", "priv-pass-123"


class Agent:
    """Debian's snmpd on a loopback port, stoppable and restartable (a restart resets sysUpTime)."""

    def __init__(self, workdir: Path) -> None:
        self.snmpd = require_binary("snmpd")
        self.workdir = workdir
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.config = workdir / "snmpd.conf"
        self.config.write_text(
            f"agentAddress udp:127.0.0.1:{self.port}\nrocommunity {COMMUNITY} 127.0.0.1\n"
            f"createUser {USER} SHA {AUTH_KEY} AES {PRIV_KEY}\nrouser {USER} priv\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": str(self.workdir / "persist")}
        argv = [self.snmpd, "-f", "-Lf", str(self.workdir / "snmpd.log"), "-C", "-c", str(self.config)]
        self.process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while (
            f"0100007F:{self.port:04X}" not in Path("/proc/net/udp").read_text()
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture(scope="module")
def agent_port(tmp_path_factory) -> Iterator[int]:
    agent = Agent(tmp_path_factory.mktemp("snmpd"))
    agent.start()
    try:
        yield agent.port
    finally:
        agent.stop()


def device(include=(".*",)) -> Device:
    return Device(
        id="agent",
        name="Agent",
        address="127.0.0.1",
        upstream=None,
        kind="router",
        probes={},
        interfaces=InterfaceSelection(include=tuple(include)),
    )


def walk(auth: SNMPAuth, target: Device | None = None, walker: SNMPWalker | None = None):
    async def run():
        own = walker or SNMPWalker()
        try:
            return await own.walk(target or device(), auth, 1.0, 0)
        finally:
            if walker is None:
                own.close()

    return asyncio.run(run())


def test_v2c_walk(agent_port):
    result = walk(SNMPAuth("2c", agent_port, community=COMMUNITY))
    assert result.reason == "ok", result.detail
    assert result.uptime_seconds is not None and result.uptime_seconds >= 0
    names = {i.name for i in result.interfaces}
    assert "lo" in names
    loopback = next(i for i in result.interfaces if i.name == "lo")
    assert loopback.oper_up and loopback.admin_up and loopback.receive_bytes >= 0
    assert result.memory_ratio is not None and 0 < result.memory_ratio <= 1  # HOST-RESOURCES hrStorageRam
    assert result.varbinds > 0


def test_v3_auth_priv_walk(agent_port):
    auth = SNMPAuth(
        "3",
        agent_port,
        username=USER,
        auth_protocol="SHA",
        auth_password=AUTH_KEY,
        priv_protocol="AES",
        priv_password=PRIV_KEY,
    )
    result = walk(auth)
    assert result.reason == "ok", result.detail
    assert any(i.name == "lo" for i in result.interfaces)


def test_wrong_v3_password_is_an_auth_error(agent_port):
    auth = SNMPAuth(
        "3",
        agent_port,
        username=USER,
        auth_protocol="SHA",
        auth_password="wrong-password-1",
        priv_protocol="AES",
        priv_password=PRIV_KEY,
    )
    assert walk(auth).reason == "auth_error"


def test_wrong_community_times_out(agent_port):
    started = time.monotonic()
    result = walk(SNMPAuth("2c", agent_port, community="not-the-community"))
    assert result.reason == "timeout"
    assert time.monotonic() - started < 5


def test_interface_selection_and_cached_names(agent_port):
    walker = SNMPWalker()
    auth = SNMPAuth("2c", agent_port, community=COMMUNITY)

    async def twice():
        try:
            first = await walker.walk(device(include=("^lo$",)), auth, 1.0, 0)
            second = await walker.walk(device(include=("^lo$",)), auth, 1.0, 0)
            return first, second
        finally:
            walker.close()

    first, second = asyncio.run(twice())
    assert [i.name for i in first.interfaces] == ["lo"]
    assert [i.name for i in second.interfaces] == ["lo"]
    assert second.varbinds < first.varbinds  # names came from the cache, not walked again


def test_names_are_walked_again_after_a_reboot(tmp_path):
    agent = Agent(tmp_path)
    auth = SNMPAuth("2c", agent.port, community=COMMUNITY)
    walker = SNMPWalker()

    async def walk_once():
        return await walker.walk(device(), auth, 1.0, 0)

    async def scenario():
        try:
            first = await walk_once()
            cached = await walk_once()
            await asyncio.sleep(1.1)  # so that the restarted agent's uptime is surely below the old one
            agent.stop()
            agent.start()
            rebooted = await walk_once()
            return first, cached, rebooted
        finally:
            walker.close()

    agent.start()
    try:
        first, cached, rebooted = asyncio.run(scenario())
    finally:
        agent.stop()
    assert first.reason == cached.reason == rebooted.reason == "ok"
    assert rebooted.uptime_seconds < cached.uptime_seconds
    assert cached.varbinds < first.varbinds
    assert rebooted.varbinds > cached.varbinds  # sysUpTime went back: names walked again
