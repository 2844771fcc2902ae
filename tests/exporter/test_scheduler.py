"""The scheduler with fake probing engines: grouping, first cycles, skipping devices that fail ICMP."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses

from exporter.config import ExporterConfig, ExporterSettings
from exporter.probes.snmp import SNMPAuth, SNMPResult
from exporter.scheduler import Probes, Scheduler, echo_spacing, groups
from exporter.store import Store

from .fakes import FakeICMP, inventory


class FakeWalker:
    def __init__(self) -> None:
        self.walked: list[str] = []

    async def walk(self, device, auth, timeout, retries):
        self.walked.append(device.id)
        return SNMPResult(device.id, "ok", uptime_seconds=1.0)

    def forget(self, keep):
        pass


def test_targets_are_grouped_by_their_settings():
    inv = inventory()
    icmp_groups = groups(list(inv.targets()), "icmp")
    assert len(icmp_groups) == 2  # the distribution switch overrides interval, timeout and count
    assert [t.id for t in icmp_groups[inv.target("dist").probes["icmp"]]] == ["dist"]


def test_echo_spacing_fits_the_interval():
    settings = inventory().target("setda").probes["icmp"]
    assert echo_spacing(settings) == 0.25
    assert echo_spacing(type(settings)(interval=1.0, timeout=0.5, count=3)) == 0.1


def test_first_cycles_probe_everything_and_skip_a_silent_device():
    # No DNS servers: DNS lookups are real network traffic, and these addresses must never be probed.
    inv = dataclasses.replace(inventory(), dns_servers=())
    store = Store(inv)
    icmp, walker = FakeICMP(silent={"core"}), FakeWalker()
    config = ExporterConfig(inv, ExporterSettings(), {"core": SNMPAuth("2c", community="x")})

    async def scenario():
        scheduler = Scheduler(config, store, Probes(icmp=icmp, snmp=walker, semaphore=asyncio.Semaphore(4)))
        scheduler.start()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if "core" in store.snmp:
                break
        await scheduler.stop()

    asyncio.run(scenario())
    probed = sorted(t for r in icmp.rounds for t in r)
    assert probed == sorted(t.id for t in inv.targets())
    assert walker.walked == []  # core did not answer ICMP: not walked
    assert store.snmp["core"].reason == "icmp_down"
    assert set(store.cycles) >= {"icmp", "snmp"}


def test_failures_are_logged_and_cycles_go_on(monkeypatch, caplog):
    """A failed DNS check is logged (with extras that must not clash with LogRecord's own attributes)
    and the next cycle still runs."""
    from exporter.probes.dns import DNSResult
    from exporter.scheduler import dns

    calls = []

    async def failing_lookup(server_id, address, port, check, timeout):
        calls.append(check.name)
        return DNSResult(server_id, check.name, "wrong_answer", 0.001)

    monkeypatch.setattr(dns, "lookup", failing_lookup)
    base = inventory()
    server = dataclasses.replace(
        base.dns_servers[0],
        probes={**base.dns_servers[0].probes, "dns": type(base.opds[0].probes["icmp"])(0.2, 0.1)},
    )
    inv = dataclasses.replace(base, dns_servers=(server,), devices=(), isps=(), opds=())
    store = Store(inv)

    async def scenario():
        scheduler = Scheduler(
            ExporterConfig(inv, ExporterSettings()),
            store,
            Probes(icmp=FakeICMP(), snmp=FakeWalker(), semaphore=asyncio.Semaphore(4)),
        )
        scheduler.start()
        await asyncio.sleep(0.7)
        await scheduler.stop()

    with caplog.at_level("INFO", logger="batiknet.exporter"):
        asyncio.run(scenario())
    assert len(calls) >= 3  # three cycles in 0.7 s at a 0.2 s interval: the loop survived the logging
    assert store.dns["dns1"].failures["wrong_answer"] == len(calls)
    failed = [r for r in caplog.records if r.getMessage() == "dns check failed"]
    assert failed and failed[0].query == "pekalongankota.go.id"
    assert not [r for r in caplog.records if r.getMessage() == "cycle failed"]


def test_stop_ends_a_loop_whose_cycle_swallowed_its_cancellation():
    """Before Python 3.12 asyncio.wait_for could swallow a cancellation; a cycle that does so must still
    let the scheduler stop (the exporter hung on SIGTERM, probing on, when it happened)."""

    class SwallowingICMP(FakeICMP):
        started = asyncio.Event()

        async def round(self, targets, count, timeout, spacing):
            self.started.set()
            # What asyncio.wait_for did when what it awaited finished in the same tick as its cancellation:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(10)
            return await super().round(targets, count, timeout, spacing)

    inv = dataclasses.replace(inventory(), dns_servers=(), devices=())
    store = Store(inv)

    async def scenario():
        icmp = SwallowingICMP()
        scheduler = Scheduler(
            ExporterConfig(inv, ExporterSettings()),
            store,
            Probes(icmp=icmp, snmp=FakeWalker(), semaphore=asyncio.Semaphore(4)),
        )
        scheduler.start()
        await icmp.started.wait()
        async with asyncio.timeout(5):
            await scheduler.stop()

    asyncio.run(scenario())
