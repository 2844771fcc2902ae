"""Every vendor profile against a device recorded as its public MIB defines it (tests/exporter/recordings,
each file says which MIB objects it holds and why), served by snmpsim and walked by a real
batiknet-exporter: the CPU, memory and temperatures each profile must read, the rows it must leave out
(entities without a CPU, sensors the MIB calls unavailable, units that are down), and the interface rows
that bend IF-MIB (no HC counters, no ifHighSpeed, no ifXTable, no counter at all, repeated names, names
padded with NULs or not in UTF-8).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from batiknet.inventory import Device as InventoryDevice
from batiknet.inventory import SNMPCredentials
from exporter.probes.snmp import SNMPAuth, SNMPWalker

from .snmp_simulator import OURS, V3_AUTH, V3_PRIV, V3_USER, Device, exporter, simulated

pytestmark = pytest.mark.system  # snmpsim serves the recordings

DEVICES = [
    Device("cisco", OURS / "cisco-catalyst.snmprec"),
    Device("huawei", OURS / "huawei-s5720.snmprec"),
    Device("h3c", OURS / "h3c-s5130.snmprec"),
    Device("hpe-forced", OURS / "hpe-a5120.snmprec", profile="h3c"),
    Device("hpe-unforced", OURS / "hpe-a5120.snmprec"),
    Device("juniper", OURS / "juniper-mx.snmprec"),
    Device("fortinet", OURS / "fortigate.snmprec"),
    Device("mikrotik", OURS / "mikrotik-ccr.snmprec"),
    Device("ruijie", OURS / "ruijie-s5750.snmprec"),
    Device("zte", OURS / "zte-zxr10.snmprec"),
    Device("dlink", OURS / "dlink-dgs.snmprec"),
    Device("arista", OURS / "arista-entity-sensor.snmprec"),
]

# What each recording must give: the profile, how it was chosen, and the figures, computed from the rows
# the recording's comments describe (a missing figure must be absent).
EXPECTED = {
    "cisco": (
        "cisco",
        "sysObjectID",
        12 / 100,
        (150e6 + 20e6) / (150e6 + 20e6 + 250e6 + 30e6),
        {"SW#1, Sensor#1, GREEN": 38},
    ),
    "huawei": (
        "huawei",
        "sysObjectID",
        (35 + 45) / 2 / 100,
        (50 + 60) / 2 / 100,
        {"MPU Board 0": 36, "MPU Board 1": 41},
    ),
    "h3c": ("h3c", "sysObjectID", (17 + 21) / 2 / 100, (43 + 47) / 2 / 100, {"Board 1": 42, "Board 2": 44}),
    "hpe-forced": ("h3c", "inventory", 8 / 100, 39 / 100, {"Board 1": 40}),
    "hpe-unforced": ("standard", "sysObjectID", None, None, {}),
    "juniper": (
        "juniper",
        "sysObjectID",
        (12 + 2) / 2 / 100,
        (32 + 20) / 2 / 100,
        {"PEM 0": 30, "FPC: MPC Type 2 3D @ 0/*/*": 45, "Routing Engine 0": 38, "Routing Engine 1": 35},
    ),
    "fortinet": ("fortinet", "sysObjectID", 7 / 100, 58 / 100, {}),
    "mikrotik": (
        "mikrotik",
        "sysObjectID",
        (3 + 5 + 2 + 6) / 4 / 100,
        1048576 / 4194304,
        {"temperature": 34.5, "processor-temperature": 51.2, "cpu-temperature": 51, "board-temperature1": 36},
    ),
    "ruijie": ("ruijie", "sysObjectID", 9 / 100, 37 / 100, {"board": 40, "cpu": 48}),
    "zte": ("zte", "sysObjectID", 14 / 100, 52 / 100, {}),
    "dlink": ("dlink", "sysObjectID", 4 / 100, 61 / 100, {"1": 39}),
    "arista": (
        "standard",
        "sysObjectID",
        (20 + 30) / 2 / 100,
        1000000 / 4000000,
        {"Cpu temp sensor": 42.5, "Rear temp sensor": 38.5},
    ),
}


@pytest.fixture(scope="module")
def first_walk(tmp_path_factory) -> Iterator[dict]:
    """Every sample of the first scrape in which every device has been walked once."""
    workdir = tmp_path_factory.mktemp("vendors")
    with simulated(DEVICES, workdir / "snmpsim"), exporter(DEVICES, workdir / "exporter") as running:
        samples = running.wait_walked(DEVICES)
    found: dict[str, dict] = {}
    for sample in samples:
        device = sample.labels.get("device")
        if device is not None:
            labels = {k: v for k, v in sample.labels.items() if k != "device"}
            found.setdefault(device, {})[(sample.name, tuple(sorted(labels.items())))] = sample.value
    return found


def value(series: dict, name: str, **labels: str) -> float | None:
    return series.get((name, tuple(sorted(labels.items()))))


def interfaces(series: dict) -> dict[str, dict[str, str]]:
    """The labels of each interface's info series, by interface."""
    return {
        dict(labels)["interface"]: dict(labels)
        for name, labels in series
        if name == "batiknet_interface_info"
    }


@pytest.mark.parametrize("device", list(EXPECTED))
def test_the_profile_reads_cpu_memory_and_temperatures_from_the_first_walk(first_walk, device):
    profile, chosen_by, cpu, memory, temperatures = EXPECTED[device]
    series = first_walk[device]
    [info] = [dict(labels) for name, labels in series if name == "batiknet_device_info"]
    assert (info["profile"], info["chosen_by"]) == (profile, chosen_by)
    assert value(series, "batiknet_device_cpu_usage_ratio") == cpu
    assert value(series, "batiknet_device_memory_usage_ratio") == memory
    found = {
        dict(labels)["sensor"]: v
        for (name, labels), v in series.items()
        if name == "batiknet_device_temperature_celsius"
    }
    assert found == temperatures


def test_rows_without_hc_counters_or_any_counter(first_walk):
    """Cisco: Vl1's ifXTable row has no HC counters (its 32-bit ones count, and say so); Nu0 has no counter
    and no speed (ifSpeed at its ceiling, ifHighSpeed 0): nothing is made up for it."""
    series = first_walk["cisco"]
    ports = interfaces(series)
    assert (ports["Gi1/0/1"]["counter_bits"], ports["Vl1"]["counter_bits"], ports["Nu0"]["counter_bits"]) == (
        "64",
        "32",
        "none",
    )
    assert value(series, "batiknet_interface_receive_bytes_total", interface="Gi1/0/1") == 5000002716009251
    assert value(series, "batiknet_interface_receive_bytes_total", interface="Vl1") == 3735928559
    assert value(series, "batiknet_interface_transmit_bytes_total", interface="Vl1") == 19088743
    for name in ("receive_bytes_total", "transmit_bytes_total", "speed_bytes_per_second"):
        assert value(series, f"batiknet_interface_{name}", interface="Nu0") is None
    assert value(series, "batiknet_interface_errors_total", interface="Nu0", direction="receive") is None
    assert value(series, "batiknet_interface_up", interface="Nu0") == 1


def test_speeds_where_ifhighspeed_is_missing_rounded_or_zero(first_walk):
    # ZTE: no ifHighSpeed; Juniper: an E1 of 2.048 Mbit/s (ifHighSpeed 2); Ruijie: 64 kbit/s (ifHighSpeed 0);
    # D-Link: no ifXTable at all.
    assert (
        value(first_walk["zte"], "batiknet_interface_speed_bytes_per_second", interface="gei_1/1")
        == 100e6 / 8
    )
    assert (
        value(first_walk["juniper"], "batiknet_interface_speed_bytes_per_second", interface="e1-1/0/0")
        == 2048000 / 8
    )
    assert (
        value(first_walk["ruijie"], "batiknet_interface_speed_bytes_per_second", interface="Se0/1")
        == 64000 / 8
    )
    dlink = first_walk["dlink"]
    assert (
        value(dlink, "batiknet_interface_speed_bytes_per_second", interface="RMON Port  2 on Unit 1")
        == 10e6 / 8
    )
    assert (
        value(dlink, "batiknet_interface_receive_bytes_total", interface="RMON Port  1 on Unit 1")
        == 4000000000
    )
    assert {port["counter_bits"] for port in interfaces(dlink).values()} == {"32"}


def test_labels_are_clean_text_and_distinct(first_walk):
    # MikroTik pads ifName with NULs and has a tab in an alias; Huawei's alias is GB2312, not UTF-8;
    # FortiGate repeats a name in two VDOMs.
    mikrotik = interfaces(first_walk["mikrotik"])
    assert set(mikrotik) == {"ether1", "ether2"}
    assert mikrotik["ether2"]["alias"] == "to\ufffdOPD"
    huawei_alias = interfaces(first_walk["huawei"])["GigabitEthernet0/0/1"]["alias"]
    assert huawei_alias.endswith(" core") and set(huawei_alias[:-5]) == {"\ufffd"}
    assert set(interfaces(first_walk["fortinet"])) == {"internal#3", "internal#12"}


def test_a_v3_context_selects_the_agents_view(tmp_path):
    """The same v3 engine serves a Cisco under context vlan-10 and an HPE switch under the empty context;
    the inventory's context is what the walk reads."""
    simulated_device = Device(
        "ctx",
        OURS / "cisco-catalyst.snmprec",
        version="3",
        context="vlan-10",
        default_context=OURS / "hpe-a5120.snmprec",
    )
    with simulated([simulated_device], tmp_path):
        auth = SNMPAuth("3", simulated_device.port, None, V3_USER, "SHA", V3_AUTH, "AES", V3_PRIV)

        def walk(context: str):
            credentials = SNMPCredentials(version="3", username=V3_USER, context=context)
            device = InventoryDevice("ctx", "ctx", "127.0.0.1", None, "switch", {}, snmp=credentials)

            async def run():
                walker = SNMPWalker()
                try:
                    return await walker.walk(device, auth, 2.0, 1)
                finally:
                    walker.close()

            return asyncio.run(run())

        in_context, default = walk("vlan-10"), walk("")
    assert (in_context.reason, in_context.profile, in_context.cpu_ratio) == ("ok", "cisco", 0.12)
    assert (default.reason, default.sys_object_id) == ("ok", "1.3.6.1.4.1.11.2.3.7.11.119")
