"""The ICMP engine against loopback addresses only (root: raw sockets; the machine forbids ping sockets)."""

import asyncio
import socket
import time

import pytest

from exporter.probes.icmp import ICMPEngine, ICMPUnavailable
from tests.support import require, require_root

pytestmark = pytest.mark.root


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
