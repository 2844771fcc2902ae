"""The metric contract, asserted sample by sample on a fresh registry per test."""

import pytest
from prometheus_client import CollectorRegistry

from exporter.collector import BatiknetCollector
from exporter.probes.dns import DNSResult
from exporter.probes.snmp import Interface, SNMPResult
from exporter.store import Store

from .fakes import echo, inventory, round_where


@pytest.fixture
def store() -> Store:
    return Store(inventory())


@pytest.fixture
def registry(store: Store) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BatiknetCollector(store))
    return registry


def test_target_info_for_every_inventory_target_with_no_empty_label(registry):
    assert (
        registry.get_sample_value(
            "batiknet_target_info",
            {
                "target": "setda",
                "name": "Sekretariat Daerah",
                "kind": "opd",
                "address": "198.51.100.2",
                "kecamatan": "Pekalongan Barat",
                "upstream": "dist",
                "isp": "isp-a",
            },
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "batiknet_target_info",
            {
                "target": "core",
                "name": "Core router",
                "kind": "router",
                "address": "192.0.2.2",
                "kecamatan": "none",
                "upstream": "none",
                "isp": "none",
            },
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "batiknet_target_info",
            {
                "target": "kec-utara",
                "name": "Kecamatan Pekalongan Utara",
                "kind": "opd",
                "address": "198.51.100.10",
                "kecamatan": "Pekalongan Utara",
                "upstream": "isp-a",
                "isp": "none",
            },
        )
        == 1
    )
    for metric in registry.collect():
        for sample in metric.samples:
            assert all(value != "" for value in sample.labels.values()), sample


def test_nothing_but_info_before_the_first_round(registry):
    assert registry.get_sample_value("batiknet_target_up", {"target": "setda"}) is None
    assert registry.get_sample_value("batiknet_exporter_targets", {"status": "up"}) == 0


def test_icmp_counters_histogram_and_up(store, registry):
    inv = store.inventory
    store.record_icmp([echo(inv, "setda", 0.0004, 0.003), echo(inv, "dinkes")], lag=0.25)
    assert registry.get_sample_value("batiknet_target_up", {"target": "setda"}) == 1
    assert registry.get_sample_value("batiknet_target_up", {"target": "dinkes"}) == 0
    assert registry.get_sample_value("batiknet_icmp_requests_total", {"target": "setda"}) == 3
    assert registry.get_sample_value("batiknet_icmp_responses_total", {"target": "setda"}) == 2
    assert registry.get_sample_value("batiknet_icmp_responses_total", {"target": "dinkes"}) == 0
    bucket = {"target": "setda", "le": "0.0005"}
    assert registry.get_sample_value("batiknet_icmp_rtt_seconds_bucket", bucket) == 1
    assert (
        registry.get_sample_value("batiknet_icmp_rtt_seconds_bucket", {"target": "setda", "le": "4.0"}) == 2
    )
    assert registry.get_sample_value("batiknet_icmp_rtt_seconds_count", {"target": "setda"}) == 2
    assert registry.get_sample_value("batiknet_icmp_rtt_seconds_sum", {"target": "setda"}) == pytest.approx(
        0.0034
    )
    assert registry.get_sample_value("batiknet_exporter_probe_lag_seconds") == 0.25


def test_status_has_one_series_per_status_and_a_core_cut_gives_one_down(store, registry):
    store.record_icmp(round_where(store.inventory, silent={t.id for t in store.inventory.targets()}))
    assert registry.get_sample_value("batiknet_target_status", {"target": "core", "status": "down"}) == 1
    assert registry.get_sample_value("batiknet_target_status", {"target": "core", "status": "up"}) == 0
    assert (
        registry.get_sample_value("batiknet_target_status", {"target": "core", "status": "unreachable"}) == 0
    )
    for office in ("setda", "dinkes", "kec-utara"):
        assert (
            registry.get_sample_value("batiknet_target_status", {"target": office, "status": "unreachable"})
            == 1
        )
        assert registry.get_sample_value("batiknet_target_status", {"target": office, "status": "down"}) == 0
    assert registry.get_sample_value("batiknet_exporter_targets", {"status": "down"}) == 1
    assert registry.get_sample_value("batiknet_exporter_targets", {"status": "unreachable"}) == 6
    assert registry.get_sample_value("batiknet_exporter_targets", {"status": "up"}) == 0


def test_dns_metrics_export_every_reason_from_zero(store, registry):
    store.record_dns(
        [
            DNSResult("dns1", "pekalongankota.go.id", "wrong_answer", 0.004, ("203.0.113.9",)),
        ]
    )
    assert (
        registry.get_sample_value("batiknet_dns_up", {"server": "dns1", "name": "pekalongankota.go.id"}) == 0
    )
    for reason in ("timeout", "refused", "servfail", "nxdomain", "network"):
        assert (
            registry.get_sample_value("batiknet_dns_failures_total", {"server": "dns1", "reason": reason})
            == 0
        )
    assert (
        registry.get_sample_value("batiknet_dns_failures_total", {"server": "dns1", "reason": "wrong_answer"})
        == 1
    )
    assert registry.get_sample_value("batiknet_dns_lookup_seconds_count", {"server": "dns1"}) == 1
    store.record_dns([DNSResult("dns1", "pekalongankota.go.id", None, 0.002, ("198.51.100.80",))])
    assert (
        registry.get_sample_value("batiknet_dns_up", {"server": "dns1", "name": "pekalongankota.go.id"}) == 1
    )
    assert (
        registry.get_sample_value("batiknet_dns_failures_total", {"server": "dns1", "reason": "wrong_answer"})
        == 1
    )


def port(index: int, name: str, up: bool = True) -> Interface:
    return Interface(
        index=index,
        name=name,
        alias=f"uplink {name}" if index == 1 else "",
        oper_up=up,
        admin_up=True,
        receive_bytes=2**40 + index,
        transmit_bytes=2**33,
        receive_counter_bits=64,
        transmit_counter_bits=64,
        receive_errors=3,
        transmit_errors=4,
        speed_bytes_per_second=1.25e8,
    )


def test_snmp_device_and_interface_metrics(store, registry):
    store.record_snmp(
        [
            SNMPResult(
                "core",
                "ok",
                0.05,
                uptime_seconds=1234.5,
                cpu_ratio=0.25,
                memory_ratio=0.5,
                temperatures=(("Board", 38.0), ("CPU", 51.5)),
                profile="mikrotik",
                profile_chosen_by="sysObjectID",
                sys_object_id="1.3.6.1.4.1.14988.1",
                interfaces=(port(1, "ether1"), port(2, "ether2", up=False)),
            ),
        ]
    )
    device = {"device": "core"}
    assert registry.get_sample_value("batiknet_snmp_up", device) == 1
    assert registry.get_sample_value("batiknet_snmp_status", {"device": "core", "reason": "ok"}) == 1
    assert registry.get_sample_value("batiknet_snmp_status", {"device": "core", "reason": "timeout"}) == 0
    assert registry.get_sample_value("batiknet_device_uptime_seconds", device) == 1234.5
    assert registry.get_sample_value("batiknet_device_cpu_usage_ratio", device) == 0.25
    assert registry.get_sample_value("batiknet_device_memory_usage_ratio", device) == 0.5
    assert (
        registry.get_sample_value("batiknet_device_temperature_celsius", {**device, "sensor": "CPU"}) == 51.5
    )
    info = {"profile": "mikrotik", "chosen_by": "sysObjectID", "sys_object_id": "1.3.6.1.4.1.14988.1"}
    assert registry.get_sample_value("batiknet_device_info", {**device, **info}) == 1
    ether1 = {"device": "core", "interface": "ether1"}
    ether2 = {"device": "core", "interface": "ether2"}
    assert registry.get_sample_value("batiknet_interface_up", ether1) == 1
    assert registry.get_sample_value("batiknet_interface_up", ether2) == 0
    assert registry.get_sample_value("batiknet_interface_admin_up", ether2) == 1
    assert registry.get_sample_value("batiknet_interface_receive_bytes_total", ether1) == 2**40 + 1
    assert registry.get_sample_value("batiknet_interface_transmit_bytes_total", ether1) == 2**33
    assert (
        registry.get_sample_value("batiknet_interface_errors_total", {**ether1, "direction": "receive"}) == 3
    )
    assert (
        registry.get_sample_value("batiknet_interface_errors_total", {**ether1, "direction": "transmit"}) == 4
    )
    assert registry.get_sample_value("batiknet_interface_speed_bytes_per_second", ether1) == 1.25e8
    assert (
        registry.get_sample_value(
            "batiknet_interface_info",
            {**ether1, "alias": "uplink ether1", "index": "1", "counter_bits": "64"},
        )
        == 1
    )
    assert (
        registry.get_sample_value(
            "batiknet_interface_info", {**ether2, "alias": "none", "index": "2", "counter_bits": "64"}
        )
        == 1
    )


def test_what_a_device_does_not_say_is_absent_not_zero(store, registry):
    """A device without sysUpTime, CPU or memory figures, and an interface row with nothing but its name
    (a stack sub-interface): their series are absent, and the counter width says none."""
    bare = Interface(index=7, name="stack-port", alias="")
    store.record_snmp(
        [SNMPResult("core", "ok", interfaces=(bare,), profile="standard", profile_chosen_by="sysObjectID")]
    )
    device, port7 = {"device": "core"}, {"device": "core", "interface": "stack-port"}
    for name in ("uptime_seconds", "cpu_usage_ratio", "memory_usage_ratio"):
        assert registry.get_sample_value(f"batiknet_device_{name}", device) is None
    assert (
        registry.get_sample_value(
            "batiknet_device_info",
            {**device, "profile": "standard", "chosen_by": "sysObjectID", "sys_object_id": "none"},
        )
        == 1
    )
    for name in ("up", "admin_up", "receive_bytes_total", "transmit_bytes_total", "speed_bytes_per_second"):
        assert registry.get_sample_value(f"batiknet_interface_{name}", port7) is None
    for direction in ("receive", "transmit"):
        assert (
            registry.get_sample_value("batiknet_interface_errors_total", {**port7, "direction": direction})
            is None
        )
    assert (
        registry.get_sample_value(
            "batiknet_interface_info", {**port7, "alias": "none", "index": "7", "counter_bits": "none"}
        )
        == 1
    )


def test_a_row_with_one_32_bit_counter_says_32(store, registry):
    mixed = Interface(
        index=3,
        name="gi0/3",
        alias="",
        receive_bytes=5,
        transmit_bytes=6,
        receive_counter_bits=64,
        transmit_counter_bits=32,
    )
    store.record_snmp(
        [SNMPResult("core", "ok", interfaces=(mixed,), profile="cisco", profile_chosen_by="inventory")]
    )
    labels = {"device": "core", "interface": "gi0/3", "alias": "none", "index": "3", "counter_bits": "32"}
    assert registry.get_sample_value("batiknet_interface_info", labels) == 1


def test_a_device_not_walked_says_why_and_exports_no_stale_interfaces(store, registry):
    store.record_snmp([SNMPResult("core", "ok", interfaces=(port(1, "ether1"),), uptime_seconds=5.0)])
    store.record_snmp([SNMPResult("core", "icmp_down", detail="no ICMP reply")])
    assert registry.get_sample_value("batiknet_snmp_up", {"device": "core"}) == 0
    assert registry.get_sample_value("batiknet_snmp_status", {"device": "core", "reason": "icmp_down"}) == 1
    assert registry.get_sample_value("batiknet_snmp_status", {"device": "core", "reason": "ok"}) == 0
    assert (
        registry.get_sample_value("batiknet_interface_up", {"device": "core", "interface": "ether1"}) is None
    )
    assert registry.get_sample_value("batiknet_device_uptime_seconds", {"device": "core"}) is None


def test_self_metrics(store, registry):
    store.record_cycle("icmp", 0.75, 1_700_000_000.0)
    store.record_reload(False, 1_700_000_100.0)
    assert registry.get_sample_value("batiknet_exporter_cycle_duration_seconds", {"module": "icmp"}) == 0.75
    assert (
        registry.get_sample_value("batiknet_exporter_last_cycle_timestamp_seconds", {"module": "icmp"})
        == 1_700_000_000.0
    )
    assert registry.get_sample_value("batiknet_exporter_config_last_reload_successful") == 0
    store.record_reload(True, 1_700_000_200.0)
    assert registry.get_sample_value("batiknet_exporter_config_last_reload_successful") == 1
    assert (
        registry.get_sample_value("batiknet_exporter_config_last_reload_success_timestamp_seconds")
        == 1_700_000_200.0
    )
    build = [s for m in registry.collect() for s in m.samples if s.name == "batiknet_exporter_build_info"]
    assert len(build) == 1 and build[0].value == 1
    assert set(build[0].labels) == {"version", "python"}


def test_a_target_removed_by_reload_disappears(store, registry):
    store.record_icmp(round_where(store.inventory, silent=set()))
    smaller = type(store.inventory)(**{**store.inventory.__dict__, "opds": store.inventory.opds[:1]})
    store.use_inventory(smaller)
    assert registry.get_sample_value("batiknet_target_up", {"target": "dinkes"}) is None
    assert registry.get_sample_value("batiknet_target_up", {"target": "setda"}) == 1
