"""The latest probe results and the running totals the metrics are made from.

Every ``record_*`` call swaps in new immutable values (copy on write), so ``/metrics`` can render from
another thread while the event loop records the next round: a reader sees one round or the next, never
half of one. The arithmetic lives in pure functions (:func:`icmp_totals`, :func:`dns_totals`).
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from batiknet.inventory import Inventory
from exporter.probes.dns import REASONS as DNS_REASONS
from exporter.probes.dns import DNSResult
from exporter.probes.icmp import EchoResult
from exporter.probes.snmp import SNMPResult

__all__ = [
    "DNS_BUCKETS",
    "RTT_BUCKETS",
    "Cycle",
    "DNSServerTotals",
    "Histogram",
    "ICMPTotals",
    "Store",
    "dns_totals",
    "icmp_totals",
]

RTT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0)
DNS_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


@dataclass(frozen=True)
class Histogram:
    bounds: tuple[float, ...]
    counts: tuple[int, ...] = ()  # per bucket, not cumulative; the last is above every bound
    total: float = 0.0

    def observe(self, values: Iterable[float]) -> Histogram:
        counts = list(self.counts or (0,) * (len(self.bounds) + 1))
        total = self.total
        for value in values:
            counts[bisect.bisect_left(self.bounds, value)] += 1
            total += value
        return Histogram(self.bounds, tuple(counts), total)

    def cumulative(self) -> list[tuple[str, int]]:
        """Buckets as Prometheus wants them: ``(le, count of values <= le)``, ending with ``+Inf``."""
        counts = self.counts or (0,) * (len(self.bounds) + 1)
        running, buckets = 0, []
        for bound, count in zip((*(repr(b) for b in self.bounds), "+Inf"), counts, strict=True):
            running += count
            buckets.append((bound, running))
        return buckets


@dataclass(frozen=True)
class ICMPTotals:
    latest: EchoResult
    requests: int = 0
    responses: int = 0
    rtt: Histogram = field(default_factory=lambda: Histogram(RTT_BUCKETS))


@dataclass(frozen=True)
class DNSServerTotals:
    up: Mapping[str, bool] = field(default_factory=dict)  # query name -> every check of it passed
    failures: Mapping[str, int] = field(default_factory=lambda: dict.fromkeys(DNS_REASONS, 0))
    lookup: Histogram = field(default_factory=lambda: Histogram(DNS_BUCKETS))


@dataclass(frozen=True)
class Cycle:
    duration: float
    finished_at: float  # Unix time


def icmp_totals(before: Mapping[str, ICMPTotals], results: Iterable[EchoResult]) -> dict[str, ICMPTotals]:
    after = dict(before)
    for result in results:
        old = before.get(result.target)
        if old is None:
            old = ICMPTotals(latest=result)
        after[result.target] = ICMPTotals(
            latest=result,
            requests=old.requests + result.sent,
            responses=old.responses + result.received,
            rtt=old.rtt.observe(result.rtts),
        )
    return after


def dns_totals(
    before: Mapping[str, DNSServerTotals], results: Iterable[DNSResult]
) -> dict[str, DNSServerTotals]:
    after = dict(before)
    by_server: dict[str, list[DNSResult]] = {}
    for result in results:
        by_server.setdefault(result.server, []).append(result)
    for server, server_results in by_server.items():
        old = before.get(server, DNSServerTotals())
        up: dict[str, bool] = {}
        failures = dict(old.failures)
        for result in server_results:
            up[result.name] = up.get(result.name, True) and result.up
            if result.reason is not None:
                failures[result.reason] += 1
        after[server] = DNSServerTotals(
            up=up,
            failures=failures,
            lookup=old.lookup.observe(r.duration for r in server_results if r.duration is not None),
        )
    return after


class Store:
    """What the collector reads. Written only from the event loop."""

    def __init__(self, inventory: Inventory) -> None:
        self.inventory = inventory
        self.icmp: Mapping[str, ICMPTotals] = {}
        self.dns: Mapping[str, DNSServerTotals] = {}
        self.snmp: Mapping[str, SNMPResult] = {}
        self.cycles: Mapping[str, Cycle] = {}
        self.probe_lag = 0.0
        self.reload_successful = True
        self.reload_success_timestamp = time.time()
        self.version = 0  # bumped on every change, so a rendering of the metrics can be reused until then

    def record_icmp(self, results: Iterable[EchoResult], lag: float = 0.0) -> None:
        self.icmp = icmp_totals(self.icmp, results)
        self.probe_lag = lag
        self.version += 1

    def record_dns(self, results: Iterable[DNSResult]) -> None:
        self.dns = dns_totals(self.dns, results)
        self.version += 1

    def record_snmp(self, results: Iterable[SNMPResult]) -> None:
        self.snmp = {**self.snmp, **{r.device: r for r in results}}
        self.version += 1

    def record_cycle(self, module: str, duration: float, finished_at: float) -> None:
        self.cycles = {**self.cycles, module: Cycle(duration, finished_at)}
        self.version += 1

    def record_reload(self, successful: bool, at: float) -> None:
        self.reload_successful = successful
        if successful:
            self.reload_success_timestamp = at
        self.version += 1

    def use_inventory(self, inventory: Inventory) -> None:
        """Switch to a reloaded inventory: results of targets that left it are dropped."""
        ids = {t.id for t in inventory.targets()}
        self.inventory = inventory
        self.icmp = {k: v for k, v in self.icmp.items() if k in ids}
        self.dns = {k: v for k, v in self.dns.items() if k in ids}
        self.snmp = {k: v for k, v in self.snmp.items() if k in ids}
        self.version += 1

    def answering(self) -> dict[str, bool]:
        """Whether each probed target answered ICMP in its latest round."""
        return {target: totals.latest.up for target, totals in self.icmp.items()}
