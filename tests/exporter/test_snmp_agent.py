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


@pytest.fixture(scope="module")
def agent_port(tmp_path_factory) -> Iterator[int]:
    snmpd = require_binary("snmpd")
    workdir = tmp_path_factory.mktemp("snmpd")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = workdir / "snmpd.conf"
    config.write_text(
        f"agentAddress udp:127.0.0.1:{port}\nrocommunity {COMMUNITY} 127.0.0.1\n"
        f"createUser {USER} SHA {AUTH_KEY} AES {PRIV_KEY}\nrouser {USER} priv\n"
    )
    env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": str(workdir / "persist")}
    process = subprocess.Popen(
        [snmpd, "-f", "-Lf", str(workdir / "snmpd.log"), "-C", "-c", str(config), "-p", str(workdir / "pid")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while f"0100007F:{port:04X}" not in Path("/proc/net/udp").read_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


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
