"""The ICMP engine against loopback addresses only (root: raw sockets; the machine forbids ping sockets)."""

import asyncio
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from exporter.probes.icmp import ICMPEngine, ICMPUnavailable
from tests.support import require, require_root

pytestmark = pytest.mark.root

SLOW_ECHO = Path(__file__).resolve().parents[1] / "rules" / "slow_echo.py"


def run(coroutine):
    return asyncio.run(coroutine)


async def rounds(*calls):
    engine = ICMPEngine()
    engine.open()
    try:
        return await asyncio.gather(*(engine.round(targets, **kwargs) for targets, kwargs in calls))
    finally:
        engine.close()


def test_every_echo_to_loopback_is_answered_with_a_small_rtt():
    require_root()
    targets = [(f"lo-{i}", f"127.0.{i // 200}.{i % 200 + 1}") for i in range(400)]
    (result,) = run(rounds((targets, {"count": 3, "timeout": 1.0, "spacing": 0.01})))
    assert [r.target for r in result.results] == [t for t, _ in targets]
    assert all(r.sent == 3 and r.received == 3 for r in result.results)
    assert all(0 < rtt < 0.05 for r in result.results for rtt in r.rtts)


def test_rounds_running_at_once_keep_their_replies_apart():
    require_root()
    first = [("a", "127.0.0.1"), ("b", "127.0.0.2")]
    second = [("c", "127.0.0.3")]
    one, two = run(rounds((first, {"count": 2, "timeout": 0.5}), (second, {"count": 4, "timeout": 0.5})))
    assert [(r.target, r.sent, r.received) for r in one.results] == [("a", 2, 2), ("b", 2, 2)]
    assert [(r.target, r.sent, r.received) for r in two.results] == [("c", 4, 4)]


def test_ipv6_loopback():
    require_root()
    require(socket.has_ipv6, "no IPv6")
    (result,) = run(rounds(([("six", "::1")], {"count": 2, "timeout": 0.5})))
    assert result.results[0].received == 2


def test_a_round_with_nothing_outstanding_ends_before_its_timeout():
    require_root()
    (result,) = run(rounds(([("a", "127.0.0.1")], {"count": 1, "timeout": 3.0})))
    assert result.duration < 1.0


def test_a_clear_error_when_no_socket_can_be_opened(monkeypatch):
    import exporter.probes.icmp as icmp

    def refuse(*args, **kwargs):
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(icmp, "ICMPv4Socket", refuse)
    with pytest.raises(ICMPUnavailable, match=r"ping_group_range.*CAP_NET_RAW"):
        ICMPEngine().open()


def test_rtt_comes_from_the_kernel_not_from_a_busy_event_loop():
    require_root()

    async def scenario():
        engine = ICMPEngine()
        engine.open()
        try:

            async def hog():
                await asyncio.sleep(0)  # let the round send its echo first
                time.sleep(0.2)  # the event loop is blocked while the reply arrives

            result, _ = await asyncio.gather(engine.round([("a", "127.0.0.1")], count=1, timeout=1.0), hog())
            return result
        finally:
            engine.close()

    result = run(scenario())
    (echo,) = result.results
    assert echo.received == 1
    assert echo.rtts[0] < 0.05  # the reply was stamped by the kernel when it arrived
    assert result.receive_lag >= 0.15  # but read 200 ms later: that is the exporter's lag, not the network's


def test_a_round_cancelled_in_the_tick_its_last_reply_arrives_is_cancelled(monkeypatch):
    """The exporter stops by cancelling its rounds: one whose last reply lands in the same tick must end
    cancelled, not return its result and probe on (as asyncio.wait_for let it before Python 3.12)."""
    require_root()
    import exporter.probes.icmp as icmp

    rounds_in_flight: list[asyncio.Task] = []

    class CancelledWhenDone(asyncio.Event):
        def set(self) -> None:
            super().set()
            for task in rounds_in_flight:
                task.cancel()

    monkeypatch.setattr(icmp.asyncio, "Event", CancelledWhenDone)

    async def scenario() -> None:
        engine = ICMPEngine()
        engine.open()
        try:
            task = asyncio.create_task(engine.round([("a", "127.0.0.1")], count=1, timeout=5.0, spacing=0))
            rounds_in_flight.append(task)
            with pytest.raises(asyncio.CancelledError):
                await task
        finally:
            engine.close()

    run(scenario())


@pytest.fixture
def far_host():
    """A host 10 ms away, as every real OPD is: a namespace of our own on a veth (lab range 198.18.0.0/15),
    whose kernel does not answer echoes and where tests/rules/slow_echo.py answers each one 10 ms late."""
    require_root()
    namespace, host_side, far_side = "bnx-far-host", "bnx-far-h", "bnx-far-n"
    host_address, far_address = "198.19.254.1/30", "198.19.254.2"

    def ip(*args: str) -> None:
        subprocess.run(["ip", *args], check=True, capture_output=True)

    ip("netns", "add", namespace)
    responder = None
    try:
        ip("link", "add", host_side, "type", "veth", "peer", "name", far_side)
        ip("link", "set", far_side, "netns", namespace)
        ip("addr", "add", host_address, "dev", host_side)
        ip("link", "set", host_side, "up")
        ip("-n", namespace, "addr", "add", f"{far_address}/30", "dev", far_side)
        ip("-n", namespace, "link", "set", far_side, "up")
        ip("netns", "exec", namespace, "sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1")
        responder = subprocess.Popen(
            ["ip", "netns", "exec", namespace, sys.executable, str(SLOW_ECHO), "--delay", "0.01",
             "--answer-every", "1"],
        )  # fmt: skip
        time.sleep(0.5)  # the responder's socket open
        yield far_address
    finally:
        if responder is not None:
            responder.terminate()
            responder.wait(10)
        subprocess.run(["ip", "link", "del", host_side], check=False, capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], check=False, capture_output=True)


def test_every_echo_of_a_round_to_a_host_10_ms_away_is_counted(far_host):
    """The last sweep's replies are waited for: an earlier sweep all answered must not end the round
    (it did, and every OPD further away than a loop tick showed a third of its echoes lost)."""
    (result,) = run(rounds(([("far", far_host)], {"count": 3, "timeout": 1.0, "spacing": 0.05})))
    assert (result.results[0].sent, result.results[0].received) == (3, 3)
    assert all(0.01 <= rtt < 0.5 for rtt in result.results[0].rtts)
