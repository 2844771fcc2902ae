"""Walks over several rounds against snmpsim: static columns (names, storage types) are read once, not again
every round because some row lacks a column, and read again when the rows of a table change."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from batiknet.inventory import Device as InventoryDevice
from exporter.probes.snmp import SNMPAuth, SNMPWalker

from .snmp_simulator import Device, simulated

pytestmark = pytest.mark.system  # snmpsim serves the recordings

SYSTEM = [
    "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.8072.3.2.10",
    "1.3.6.1.2.1.1.3.0|67|100000",
]


def recording(path: Path, interfaces: int) -> Path:
    """``interfaces`` ports, the last one a stack sub-interface with no counter; two hrStorage rows, the
    second (a mount point net-snmp cannot read) without hrStorageUsed."""
    ports = range(1, interfaces + 1)
    lines = [*SYSTEM]
    lines += [f"1.3.6.1.2.1.2.2.1.2.{i}|4|port{i}" for i in ports]
    lines += [f"1.3.6.1.2.1.2.2.1.8.{i}|2|1" for i in ports]
    lines += [f"1.3.6.1.2.1.2.2.1.10.{i}|65|{i * 100}" for i in ports[:-1]]
    lines += [
        "1.3.6.1.2.1.25.2.3.1.2.1|6|1.3.6.1.2.1.25.2.1.2",
        "1.3.6.1.2.1.25.2.3.1.2.2|6|1.3.6.1.2.1.25.2.1.4",
        "1.3.6.1.2.1.25.2.3.1.5.1|2|1000",
        "1.3.6.1.2.1.25.2.3.1.5.2|2|2000",
        "1.3.6.1.2.1.25.2.3.1.6.1|2|400",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def walk_rounds(port: int, communities: list[str]) -> list:
    device = InventoryDevice("sw", "sw", "127.0.0.1", None, "switch", {})

    async def run():
        walker = SNMPWalker()
        try:
            return [await walker.walk(device, SNMPAuth("2c", port, community=c), 2.0, 1) for c in communities]
        finally:
            walker.close()

    return asyncio.run(run())


def test_rows_lacking_a_column_do_not_make_every_round_read_the_names(tmp_path):
    device = Device("three", recording(tmp_path / "three.snmprec", 3))
    with simulated([device], tmp_path / "snmpsim"):
        first, second, third = walk_rounds(device.port, ["three"] * 3)
    assert first.reason == second.reason == third.reason == "ok"
    assert second.memory_ratio == third.memory_ratio == 400 / 1000
    assert [i.name for i in third.interfaces] == ["port1", "port2", "port3"]
    assert third.interfaces[-1].receive_bytes is None
    assert second.requests == third.requests < first.requests  # the names came from the cache
    assert second.varbinds == third.varbinds < first.varbinds


def test_a_new_row_has_its_name_read_in_the_walk_that_finds_it(tmp_path):
    before, after = (Device(f"ports{n}", recording(tmp_path / f"ports{n}.snmprec", n)) for n in (3, 4))
    with simulated([before, after], tmp_path / "snmpsim"):
        _, steady, grown = walk_rounds(before.port, ["ports3", "ports3", "ports4"])
    assert [i.name for i in grown.interfaces] == ["port1", "port2", "port3", "port4"]
    assert grown.requests > steady.requests


def test_a_table_an_agent_fills_after_its_first_minute_is_read_as_soon_as_it_is_there(tmp_path):
    """net-snmp answers hrProcessorLoad only after its first minute: a device walked just after it booted
    has its CPU on the first walk that finds the table, not five minutes later at the next refresh."""
    uptime = "1.3.6.1.2.1.1.3.0|67|{}"
    booting = [SYSTEM[0], uptime.format(30 * 100), "1.3.6.1.2.1.2.2.1.2.1|4|port1"]
    running = [SYSTEM[0], uptime.format(90 * 100), "1.3.6.1.2.1.2.2.1.2.1|4|port1"]
    running += ["1.3.6.1.2.1.25.3.3.1.2.196608|2|12", "1.3.6.1.2.1.25.3.3.1.2.196609|2|30"]
    devices = []
    for name, lines in (("booting", booting), ("running", running)):
        (tmp_path / f"{name}.snmprec").write_text("\n".join(lines) + "\n")
        devices.append(Device(name, tmp_path / f"{name}.snmprec"))
    with simulated(devices, tmp_path / "snmpsim"):
        first, second = walk_rounds(devices[0].port, ["booting", "running"])
    assert first.reason == second.reason == "ok"
    assert first.cpu_ratio is None  # absent, never a confident 0
    assert second.cpu_ratio == pytest.approx(0.21)  # the mean of the processors' loads


def test_a_table_an_agent_lacks_is_asked_for_every_walk_only_while_the_agent_warms_up(tmp_path):
    devices = []
    for name, ticks in (("young", 5 * 60 * 100), ("settled", 11 * 60 * 100)):
        lines = [SYSTEM[0], f"1.3.6.1.2.1.1.3.0|67|{ticks}", "1.3.6.1.2.1.2.2.1.2.1|4|port1"]
        (tmp_path / f"{name}.snmprec").write_text("\n".join(lines) + "\n")
        devices.append(Device(name, tmp_path / f"{name}.snmprec"))
    with simulated(devices, tmp_path / "snmpsim"):
        young = walk_rounds(devices[0].port, ["young"] * 3)
        settled = walk_rounds(devices[0].port, ["settled"] * 3)
    assert all(walk.reason == "ok" and walk.cpu_ratio is None for walk in (*young, *settled))
    # Up 11 minutes: only the interfaces are asked again, the missing tables wait for the next refresh.
    # Up 5 minutes: each table the net-snmp profile reads and the agent lacks is asked again, every walk.
    assert settled[1].requests == settled[2].requests < young[1].requests == young[2].requests
