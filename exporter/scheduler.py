"""Background probing: every module on its own schedule, in one asyncio loop.

Targets are grouped by their probe settings (the inventory's defaults, overridden per target), and each
group runs as its own periodic cycle: one ICMP round for all its targets, or all its DNS lookups and
SNMP walks side by side under one shared concurrency bound. Every probe has its own timeout, so a dead
target costs its own timeout and never delays the others. A device whose latest ICMP round went
unanswered is not walked at all.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from batiknet.inventory import Device, DNSServer, ProbeSettings, Target
from exporter.config import ExporterConfig
from exporter.probes import dns
from exporter.probes.icmp import ICMPEngine
from exporter.probes.snmp import SNMPResult, SNMPWalker
from exporter.store import Store

__all__ = ["Probes", "Scheduler", "groups"]

log = logging.getLogger("batiknet.exporter")


@dataclass
class Probes:
    """The long-lived probing engines, shared by background cycles and ``/probe``."""

    icmp: ICMPEngine
    snmp: SNMPWalker
    semaphore: asyncio.Semaphore


def groups(targets: Sequence[Target], module: str) -> dict[ProbeSettings, list[Target]]:
    """Targets of one module grouped by identical settings, in inventory order."""
    result: dict[ProbeSettings, list[Target]] = {}
    for target in targets:
        settings = target.probes.get(module)
        if settings is not None:
            result.setdefault(settings, []).append(target)
    return result


def echo_spacing(settings: ProbeSettings) -> float:
    """Echoes to one target 250 ms apart (closer for short intervals): apart enough that one burst of loss
    does not take them all, close enough that 2,000 targets finish within fping's wall time."""
    if settings.count <= 1:
        return 0.0
    return min(0.25, settings.interval / 5 / (settings.count - 1))


async def icmp_round(
    probes: Probes,
    targets: Sequence[Target],
    settings: ProbeSettings,
    timeout: float | None = None,
    spacing: float | None = None,
):
    return await probes.icmp.round(
        [(t.id, t.address) for t in targets],
        count=settings.count,
        timeout=settings.timeout if timeout is None else timeout,
        spacing=echo_spacing(settings) if spacing is None else spacing,
    )


async def dns_lookups(probes: Probes, server: DNSServer, timeout: float) -> list[dns.DNSResult]:
    async def one(check):
        async with probes.semaphore:
            return await dns.lookup(server.id, server.address, server.port, check, timeout)

    return list(await asyncio.gather(*(one(check) for check in server.checks)))


async def snmp_walk(
    probes: Probes,
    config: ExporterConfig,
    device: Device,
    settings: ProbeSettings,
    deadline: float,
    answering: bool | None,
) -> SNMPResult:
    if answering is False:
        return SNMPResult(device.id, "icmp_down", detail="no ICMP reply in the latest round: not walked")
    async with probes.semaphore:
        try:
            async with asyncio.timeout(deadline):
                return await probes.snmp.walk(
                    device, config.snmp_auth[device.id], settings.timeout, settings.retries
                )
        except TimeoutError:
            return SNMPResult(device.id, "timeout", deadline, detail=f"walk took longer than {deadline:g}s")


class Scheduler:
    def __init__(self, config: ExporterConfig, store: Store, probes: Probes) -> None:
        self.config = config
        self.store = store
        self.probes = probes
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False

    def start(self) -> None:
        self._stopping = False
        inventory = self.config.inventory
        targets = list(inventory.targets())
        for settings, members in groups(targets, "icmp").items():
            self._every("icmp", settings.interval, lambda lag, s=settings, m=members: self._icmp(s, m, lag))
        for settings, members in groups(inventory.dns_servers, "dns").items():
            self._every("dns", settings.interval, lambda lag, s=settings, m=members: self._dns(s, m))
        devices = [d for d in inventory.devices if d.snmp is not None]
        for settings, members in groups(devices, "snmp").items():
            self._every("snmp", settings.interval, lambda lag, s=settings, m=members: self._snmp(s, m))
        self.probes.snmp.forget(devices)

    async def stop(self) -> None:
        # A cycle can swallow its cancellation (asyncio.wait_for did, before Python 3.12, when what it
        # waited for finished in the same tick), so each loop also ends when it sees this after a cycle.
        self._stopping = True
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()

    async def reconfigure(self, config: ExporterConfig) -> None:
        await self.stop()
        self.config = config
        self.store.use_inventory(config.inventory)
        self.start()

    def _every(self, module: str, interval: float, cycle: Callable[[float], Awaitable[None]]) -> None:
        async def run() -> None:
            loop = asyncio.get_running_loop()
            due = loop.time()
            while True:
                started = loop.time()
                try:
                    await cycle(max(0.0, started - due))
                except Exception:  # a bug in one cycle must not stop the others
                    log.exception("cycle failed", extra={"probe": module})
                if self._stopping:
                    return
                finished = loop.time()
                self.store.record_cycle(module, finished - started, time.time())
                due += interval
                if due < finished:  # overran: skip the missed slots rather than bunch them up
                    due = finished + interval - (finished - due) % interval
                await asyncio.sleep(due - finished)

        self._tasks.append(asyncio.create_task(run(), name=f"{module}-every-{interval:g}s"))

    async def _icmp(self, settings: ProbeSettings, targets: list[Target], lag: float) -> None:
        result = await icmp_round(self.probes, targets, settings)
        self.store.record_icmp(result.results, lag=max(lag, result.receive_lag))
        down = sum(1 for r in result.results if not r.up)
        log.debug(
            "icmp round",
            extra={"targets": len(targets), "silent": down, "seconds": round(result.duration, 3)},
        )

    async def _first_icmp_round(self, devices: list[Device]) -> None:
        """At start, wait (a round at most) for the devices' first ICMP results, so that a dead device is
        skipped from the very first SNMP cycle instead of costing a timeout."""
        rounds = [d.probes["icmp"] for d in devices if "icmp" in d.probes]
        limit = max(((s.count - 1) * echo_spacing(s) + s.timeout for s in rounds), default=0.0) + 1.0
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        while any(d.id not in self.store.icmp for d in devices) and loop.time() < end:
            await asyncio.sleep(0.05)

    async def _dns(self, settings: ProbeSettings, servers: list[DNSServer]) -> None:
        batches = await asyncio.gather(*(dns_lookups(self.probes, s, settings.timeout) for s in servers))
        results = [r for batch in batches for r in batch]
        self.store.record_dns(results)
        for result in results:
            if not result.up:
                log.info(
                    "dns check failed",
                    extra={"server": result.server, "query": result.name, "reason": result.reason},
                )

    async def _snmp(self, settings: ProbeSettings, devices: list[Device]) -> None:
        await self._first_icmp_round(devices)
        answering = self.store.answering()
        deadline = settings.interval * 0.9
        results = await asyncio.gather(
            *(
                snmp_walk(self.probes, self.config, d, settings, deadline, answering.get(d.id))
                for d in devices
            )
        )
        self.store.record_snmp(results)
        for result in results:
            if not result.up:
                log.info(
                    "snmp walk failed",
                    extra={"device": result.device, "reason": result.reason, "detail": result.detail},
                )
