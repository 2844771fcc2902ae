"""The SNMP walker and client against a real Debian snmpd on a loopback port (v2c and every v3 protocol)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from batiknet.inventory import Device, InterfaceSelection
from exporter.probes import snmp_codec as codec
from exporter.probes.snmp import SNMPAuth, SNMPWalker
from exporter.probes.snmp_client import MAX_REQUEST_ID, SNMPClient, SNMPFailure
from tests.support import require_binary

pytestmark = pytest.mark.system

COMMUNITY, USER, AUTH_KEY, PRIV_KEY = "test-community", "tester", "auth-pass-123", "priv-pass-123"
# Every authentication and privacy protocol the inventory accepts, as (ours, net-snmp's name), and the
# authNoPriv level.
PROTOCOLS = [
    (("MD5", "MD5"), ("DES", "DES")),
    (("SHA", "SHA"), ("AES", "AES")),
    (("SHA224", "SHA-224"), ("AES192", "AES-192")),
    (("SHA256", "SHA-256"), ("AES256", "AES-256")),
    (("SHA384", "SHA-384"), ("AES", "AES")),
    (("SHA512", "SHA-512"), ("DES", "DES")),
    (("SHA", "SHA"), None),
]


def protocol_user(number: int) -> str:
    return f"user{number}"


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
            f"agentAddress udp:127.0.0.1:{self.port},udp6:[::1]:{self.port}\n"
            f"rocommunity {COMMUNITY} 127.0.0.1\nrocommunity6 {COMMUNITY} ::1\n"
            f"createUser {USER} SHA {AUTH_KEY} AES {PRIV_KEY}\nrouser {USER} priv\n"
            + "".join(
                f"createUser {protocol_user(n)} {auth[1]} {AUTH_KEY}"
                + (
                    f" {priv[1]} {PRIV_KEY}\nrouser {protocol_user(n)} priv\n"
                    if priv
                    else f"\nrouser {protocol_user(n)} auth\n"
                )
                for n, (auth, priv) in enumerate(PROTOCOLS)
            )
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


def device(include=(".*",), address="127.0.0.1") -> Device:
    return Device(
        id="agent",
        name="Agent",
        address=address,
        upstream=None,
        kind="router",
        probes={},
        interfaces=InterfaceSelection(include=tuple(include)),
    )


def v3_auth(port: int, **changes) -> SNMPAuth:
    """The authPriv (SHA, AES) credentials of the agent's main user, with ``changes``."""
    auth = SNMPAuth(
        "3",
        port,
        username=USER,
        auth_protocol="SHA",
        auth_password=AUTH_KEY,
        priv_protocol="AES",
        priv_password=PRIV_KEY,
    )
    return dataclasses.replace(auth, **changes)


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


def test_v2c_walk_over_ipv6(agent_port):
    result = walk(SNMPAuth("2c", agent_port, community=COMMUNITY), device(address="0:0::1"))
    assert result.reason == "ok", result.detail
    assert any(i.name == "lo" for i in result.interfaces)


def test_request_ids_wrap_round_within_integer32():
    client = SNMPClient()
    client._last_id = MAX_REQUEST_ID - 1
    assert [client.next_id() for _ in range(3)] == [MAX_REQUEST_ID, 1, 2]


def test_v3_auth_priv_walk(agent_port):
    auth = v3_auth(agent_port)
    result = walk(auth)
    assert result.reason == "ok", result.detail
    assert any(i.name == "lo" for i in result.interfaces)


@pytest.mark.parametrize(
    ("number", "auth_protocol", "priv_protocol"),
    [(n, auth[0], priv[0] if priv else None) for n, (auth, priv) in enumerate(PROTOCOLS)],
    ids=[f"{auth[0]}-{priv[0] if priv else 'nopriv'}" for auth, priv in PROTOCOLS],
)
def test_every_v3_protocol(agent_port, number, auth_protocol, priv_protocol):
    auth = SNMPAuth(
        "3",
        agent_port,
        username=protocol_user(number),
        auth_protocol=auth_protocol,
        auth_password=AUTH_KEY,
        priv_protocol=priv_protocol,
        priv_password=PRIV_KEY if priv_protocol else None,
    )
    result = walk(auth)
    assert result.reason == "ok", result.detail
    assert any(i.name == "lo" for i in result.interfaces)


@pytest.mark.parametrize(
    ("username", "auth_password", "priv_password", "reason", "said"),
    [
        (USER, "wrong-password-1", PRIV_KEY, "auth_error", "digest"),
        # net-snmp drops what it cannot decrypt without a report: only the detail can tell
        (USER, AUTH_KEY, "wrong-password-2", "timeout", "privacy password"),
        ("nobody", AUTH_KEY, PRIV_KEY, "auth_error", "no such user"),
    ],
    ids=["authentication password", "privacy password", "user"],
)
def test_wrong_v3_credentials_say_which(agent_port, username, auth_password, priv_password, reason, said):
    auth = v3_auth(agent_port, username=username, auth_password=auth_password, priv_password=priv_password)
    result = walk(auth)
    assert result.reason == reason
    assert said in result.detail


def test_wrong_community_times_out(agent_port):
    started = time.monotonic()
    result = walk(SNMPAuth("2c", agent_port, community="not-the-community"))
    assert result.reason == "timeout"
    assert time.monotonic() - started < 5


class SilentAgent:
    """A UDP socket on loopback that counts the requests it gets and answers none of them."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.bind(("127.0.0.1", 0))
        self.socket.setblocking(False)
        self.port = self.socket.getsockname()[1]

    def requests(self) -> list[bytes]:
        received = []
        with contextlib.suppress(BlockingIOError):
            while True:
                received.append(self.socket.recv(65535))
        return received


def test_a_silent_agent_gets_every_retry_then_times_out():
    agent = SilentAgent()
    client = SNMPClient()

    async def run():
        try:
            auth = SNMPAuth("2c", agent.port, community=COMMUNITY)
            await client.get_bulk("127.0.0.1", auth, [(1, 3, 6, 1, 2, 1, 1, 3)], 1, 0, 0.2, 2)
        finally:
            client.close()

    with pytest.raises(SNMPFailure) as failure:
        asyncio.run(run())
    assert failure.value.reason == "timeout"
    requests = agent.requests()
    assert len(requests) == 3 and len(set(requests)) == 1  # the same request, sent once and retried twice


@pytest.mark.parametrize("sender", ["127.0.0.1", "127.0.0.2"], ids=["from the agent", "from elsewhere"])
def test_only_the_agents_own_address_may_answer(sender):
    """An answer with the right request id is taken from the agent's address (the control), and not when
    it comes from another address."""
    agent = SilentAgent()
    client = SNMPClient()

    async def run():
        auth = SNMPAuth("2c", agent.port, community=COMMUNITY)
        asking = asyncio.ensure_future(
            client.get_bulk("127.0.0.1", auth, [(1, 3, 6, 1, 2, 1, 1, 3)], 1, 0, 0.5, 0)
        )
        while not (requests := agent.requests()):
            await asyncio.sleep(0.01)
        _, request = codec.decode_v2c_message(requests[0])
        answer = codec.encode_v2c_message(
            COMMUNITY.encode(),
            codec.encode_pdu(codec.Pdu(codec.RESPONSE, request.request_id, 0, 0, (((1, 3, 6), None),))),
        )
        client_port = client._transports[socket.AF_INET].get_extra_info("socket").getsockname()[1]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as answering:
            answering.bind((sender, 0))
            answering.sendto(answer, ("127.0.0.1", client_port))
        try:
            return await asking
        finally:
            client.close()

    if sender == "127.0.0.1":
        assert asyncio.run(run()) == [((1, 3, 6), None)]  # a request PDU carries NULL values
    else:
        with pytest.raises(SNMPFailure, match="no answer"):
            asyncio.run(run())


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
            await asyncio.sleep(1.1)  # so that the restarted agent's uptime is surely below this one's
            cached = await walk_once()
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


@pytest.mark.parametrize("stale", ["clock", "engine id"])
def test_v3_resynchronizes_with_an_agent_that_changed(agent_port, stale):
    """After an agent reboots (its boots and clock move) or is replaced (a new engine id), the client's idea
    of it is stale: the agent refuses the next request with a report, the client learns the agent anew
    from it and asks again, and the walk succeeds."""
    auth = v3_auth(agent_port)
    walker = SNMPWalker()

    async def scenario():
        try:
            assert (await walker.walk(device(), auth, 1.0, 0)).reason == "ok"
            (engine,) = walker.client._engines.values()
            real = (engine.engine_id, engine.now())
            if stale == "clock":
                engine.time += 10_000  # far outside the 150 s window an agent allows
            else:
                engine.engine_id = b"\x80\x00\x1f\x88\x04stale"
            result = await walker.walk(device(), auth, 1.0, 0)
            (engine,) = walker.client._engines.values()
            return result, real, (engine.engine_id, engine.now())
        finally:
            walker.close()

    result, (real_id, real_time), (engine_id, engine_time) = asyncio.run(scenario())
    assert result.reason == "ok", result.detail
    assert engine_id == real_id
    assert abs(engine_time - real_time) < 10
