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
