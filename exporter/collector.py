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
        device_info = GaugeMetricFamily(
            "batiknet_device_info",
            "The profile the device was read with (by sysObjectID, or forced in the inventory); always 1.",
            labels=["device", "profile", "chosen_by", "sys_object_id"],
        )
        uptime = GaugeMetricFamily("batiknet_device_uptime_seconds", "sysUpTime.", labels=["device"])
        cpu = GaugeMetricFamily(
            "batiknet_device_cpu_usage_ratio",
            "Processor load, 0 to 1, as the profile reads it.",
            labels=["device"],
        )
        memory = GaugeMetricFamily(
            "batiknet_device_memory_usage_ratio",
            "Memory in use, 0 to 1, as the profile reads it.",
            labels=["device"],
        )
        temperature = GaugeMetricFamily(
            "batiknet_device_temperature_celsius",
            "Temperature of each sensor the profile reads.",
            labels=["device", "sensor"],
        )
        labels = ["device", "interface"]
        info = GaugeMetricFamily(
            "batiknet_interface_info",
            "Interface alias, ifIndex and the width of its octet counters (64, 32 or none); always 1.",
            labels=["device", "interface", "alias", "index", "counter_bits"],
        )
        oper = GaugeMetricFamily("batiknet_interface_up", "1 when ifOperStatus is up.", labels=labels)
        admin = GaugeMetricFamily("batiknet_interface_admin_up", "1 when ifAdminStatus is up.", labels=labels)
        received = CounterMetricFamily(
            "batiknet_interface_receive_bytes",
            "ifHCInOctets, else ifInOctets carried on past its 32-bit wraps.",
            labels=labels,
        )
        transmitted = CounterMetricFamily(
            "batiknet_interface_transmit_bytes",
            "ifHCOutOctets, else ifOutOctets carried on past its 32-bit wraps.",
            labels=labels,
        )
        errors = CounterMetricFamily(
            "batiknet_interface_errors", "ifInErrors and ifOutErrors.", labels=[*labels, "direction"]
        )
        speed = GaugeMetricFamily(
            "batiknet_interface_speed_bytes_per_second",
            "Link speed: ifSpeed where exact, else ifHighSpeed; in bytes per second.",
            labels=labels,
        )
        for device, result in self.store.snmp.items():
            up.add_metric([device], 1 if result.up else 0)
            for reason in SNMP_REASONS:
                status.add_metric([device, reason], 1 if reason == result.reason else 0)
            if not result.up:
                continue
            device_info.add_metric(
                [device, result.profile, result.profile_chosen_by, result.sys_object_id or "none"], 1
            )
            for family, value in (
                (uptime, result.uptime_seconds),
                (cpu, result.cpu_ratio),
                (memory, result.memory_ratio),
            ):
                if value is not None:
                    family.add_metric([device], value)
            for sensor, celsius in result.temperatures:
                temperature.add_metric([device, sensor], celsius)
            for interface in result.interfaces:
                names = [device, interface.name]
                bits = interface.counter_bits
                info.add_metric(
                    [*names, interface.alias or "none", str(interface.index), str(bits) if bits else "none"],
                    1,
                )
                for family, value in (
                    (oper, interface.oper_up),
                    (admin, interface.admin_up),
                    (received, interface.receive_bytes),
                    (transmitted, interface.transmit_bytes),
                    (speed, interface.speed_bytes_per_second),
                ):
                    if value is not None:
                        family.add_metric(names, int(value) if isinstance(value, bool) else value)
                for direction, count in (
                    ("receive", interface.receive_errors),
                    ("transmit", interface.transmit_errors),
                ):
                    if count is not None:
                        errors.add_metric([*names, direction], count)
        yield from (
            up,
            status,
            device_info,
            uptime,
            cpu,
            memory,
            temperature,
            info,
            oper,
            admin,
            received,
            transmitted,
            errors,
            speed,
        )

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
