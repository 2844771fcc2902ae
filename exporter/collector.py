"""Metric families built afresh on every collect from the store: ``/metrics`` never probes.

Every name here is part of the contract with the alert rules and dashboards (docs/exporter.md lists
them); labels are never empty (``none`` stands for "not applicable").
"""

from __future__ import annotations

import platform
from collections.abc import Iterator

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample

from batiknet.inventory import OPD
from exporter import __version__
from exporter.probes.snmp import REASONS as SNMP_REASONS
from exporter.store import Histogram, Store
from exporter.topology import Status, statuses

__all__ = ["BatiknetCollector"]

MODULES = ("icmp", "dns", "snmp")


def add_histogram(family: HistogramMetricFamily, label: str, value: str, histogram: Histogram) -> None:
    """What ``family.add_metric`` does, without its per-bucket list and dict building (2,000 targets
    make 28,000 bucket samples a rendering)."""
    name = family.name
    buckets = histogram.cumulative()
    family.samples.extend(Sample(f"{name}_bucket", {label: value, "le": le}, count) for le, count in buckets)
    family.samples.append(Sample(f"{name}_count", {label: value}, buckets[-1][1]))
    family.samples.append(Sample(f"{name}_sum", {label: value}, histogram.total))


class BatiknetCollector(Collector):
    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        yield from self.targets()
        yield from self.icmp()
        yield from self.dns()
        yield from self.snmp()
        yield from self.exporter()

    def targets(self) -> Iterator[Metric]:
        store = self.store
        inventory = store.inventory
        info = GaugeMetricFamily(
            "batiknet_target_info",
            "Inventory labels of every target, for joins; always 1.",
            labels=["target", "name", "kind", "address", "kecamatan", "upstream", "isp"],
        )
        for target in inventory.targets():
            is_opd = isinstance(target, OPD)
            info.add_metric(
                [
                    target.id,
                    target.name,
                    target.kind,
                    target.address,
                    (target.kecamatan or "none") if is_opd else "none",
                    target.upstream or "none",
                    (target.isp or "none") if is_opd else "none",
                ],
                1,
            )
        yield info
        up = GaugeMetricFamily(
            "batiknet_target_up",
            "1 when any echo of the target's latest ICMP round was answered.",
            labels=["target"],
        )
        for target, totals in store.icmp.items():
            up.add_metric([target], 1 if totals.latest.up else 0)
        yield up
        status_family = GaugeMetricFamily(
            "batiknet_target_status",
            "1 for the target's current status (up, down, or unreachable: silent behind a silent upstream).",
            labels=["target", "status"],
        )
        current = statuses(inventory, store.answering())
        counts = dict.fromkeys(Status, 0)
        for target, status in current.items():
            counts[status] += 1
            for candidate in Status:
                status_family.add_metric([target, candidate.value], 1 if candidate is status else 0)
        yield status_family
        per_status = GaugeMetricFamily(
            "batiknet_exporter_targets", "Targets per status after the latest rounds.", labels=["status"]
        )
        for status, count in counts.items():
            per_status.add_metric([status.value], count)
        yield per_status

    def icmp(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "batiknet_icmp_requests", "ICMP echo requests sent.", labels=["target"]
        )
        responses = CounterMetricFamily(
            "batiknet_icmp_responses", "ICMP echo replies received within the timeout.", labels=["target"]
        )
        rtt = HistogramMetricFamily(
            "batiknet_icmp_rtt_seconds",
            "Round-trip time of answered echoes (kernel receive timestamp minus send time).",
            labels=["target"],
        )
        for target, totals in self.store.icmp.items():
            requests.add_metric([target], totals.requests)
            responses.add_metric([target], totals.responses)
            add_histogram(rtt, "target", target, totals.rtt)
        yield requests
        yield responses
        yield rtt
        yield GaugeMetricFamily(
            "batiknet_exporter_probe_lag_seconds",
            "How late the exporter itself ran in its latest ICMP round: start after due time, or reading"
            " replies after the kernel received them (the worse of the two).",
            value=self.store.probe_lag,
        )

    def dns(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "batiknet_dns_up",
            "1 when the latest lookup of the name gave the expected answer.",
            labels=["server", "name"],
        )
        lookup = HistogramMetricFamily(
            "batiknet_dns_lookup_seconds", "Time until the server's response.", labels=["server"]
        )
        failures = CounterMetricFamily(
            "batiknet_dns_failures", "Failed lookups by reason.", labels=["server", "reason"]
        )
        for server, totals in self.store.dns.items():
            for name, ok in totals.up.items():
                up.add_metric([server, name], 1 if ok else 0)
            add_histogram(lookup, "server", server, totals.lookup)
            for reason, count in totals.failures.items():
                failures.add_metric([server, reason], count)
        yield up
        yield lookup
        yield failures

    def snmp(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "batiknet_snmp_up", "1 when the latest SNMP walk succeeded.", labels=["device"]
        )
        status = GaugeMetricFamily(
            "batiknet_snmp_status",
            "1 for the reason of the latest walk: ok, icmp_down (not walked), timeout, auth_error, error.",
            labels=["device", "reason"],
        )
        uptime = GaugeMetricFamily("batiknet_device_uptime_seconds", "sysUpTime.", labels=["device"])
        cpu = GaugeMetricFamily(
            "batiknet_device_cpu_usage_ratio", "Processor load, 0 to 1.", labels=["device"]
        )
        memory = GaugeMetricFamily(
            "batiknet_device_memory_usage_ratio", "RAM in use, 0 to 1.", labels=["device"]
        )
        labels = ["device", "interface"]
        info = GaugeMetricFamily(
            "batiknet_interface_info",
            "Interface alias and ifIndex; always 1.",
            labels=["device", "interface", "alias", "index"],
        )
        oper = GaugeMetricFamily("batiknet_interface_up", "1 when ifOperStatus is up.", labels=labels)
        admin = GaugeMetricFamily("batiknet_interface_admin_up", "1 when ifAdminStatus is up.", labels=labels)
        received = CounterMetricFamily("batiknet_interface_receive_bytes", "ifHCInOctets.", labels=labels)
        transmitted = CounterMetricFamily(
            "batiknet_interface_transmit_bytes", "ifHCOutOctets.", labels=labels
        )
        errors = CounterMetricFamily(
            "batiknet_interface_errors", "ifInErrors and ifOutErrors.", labels=[*labels, "direction"]
        )
        speed = GaugeMetricFamily(
            "batiknet_interface_speed_bits_per_second", "ifHighSpeed in bits per second.", labels=labels
        )
        for device, result in self.store.snmp.items():
            up.add_metric([device], 1 if result.up else 0)
            for reason in SNMP_REASONS:
                status.add_metric([device, reason], 1 if reason == result.reason else 0)
            if not result.up:
                continue
            if result.uptime_seconds is not None:
                uptime.add_metric([device], result.uptime_seconds)
            if result.cpu_ratio is not None:
                cpu.add_metric([device], result.cpu_ratio)
            if result.memory_ratio is not None:
                memory.add_metric([device], result.memory_ratio)
            for interface in result.interfaces:
                names = [device, interface.name]
                info.add_metric([*names, interface.alias or "none", str(interface.index)], 1)
                oper.add_metric(names, 1 if interface.oper_up else 0)
                admin.add_metric(names, 1 if interface.admin_up else 0)
                received.add_metric(names, interface.receive_bytes)
                transmitted.add_metric(names, interface.transmit_bytes)
                errors.add_metric([*names, "receive"], interface.receive_errors)
                errors.add_metric([*names, "transmit"], interface.transmit_errors)
                speed.add_metric(names, interface.speed_bits_per_second)
        yield from (up, status, uptime, cpu, memory, info, oper, admin, received, transmitted, errors, speed)

    def exporter(self) -> Iterator[Metric]:
        store = self.store
        duration = GaugeMetricFamily(
            "batiknet_exporter_cycle_duration_seconds",
            "Duration of the module's latest cycle.",
            labels=["module"],
        )
        last = GaugeMetricFamily(
            "batiknet_exporter_last_cycle_timestamp_seconds",
            "Unix time the module's latest cycle ended.",
            labels=["module"],
        )
        for module, cycle in store.cycles.items():
            duration.add_metric([module], cycle.duration)
            last.add_metric([module], cycle.finished_at)
        yield duration
        yield last
        yield GaugeMetricFamily(
            "batiknet_exporter_config_last_reload_successful",
            "1 when the latest configuration (re)load succeeded.",
            value=1 if store.reload_successful else 0,
        )
        yield GaugeMetricFamily(
            "batiknet_exporter_config_last_reload_success_timestamp_seconds",
            "Unix time of the latest successful configuration load.",
            value=store.reload_success_timestamp,
        )
        build = GaugeMetricFamily(
            "batiknet_exporter_build_info",
            "Exporter version and Python version; always 1.",
            labels=["version", "python"],
        )
        build.add_metric([__version__, platform.python_version()], 1)
        yield build
