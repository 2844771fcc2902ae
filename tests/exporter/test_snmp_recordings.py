"""Devices no one here wrote: the recordings snmpsim ships (a Linux server with 64-bit counters past 2³², a
Windows XP host without ifXTable and with NUL-padded names, partial walks of a UPS, a Linksys router, a
Sun server and a table with no system group at all), served by snmpsim over v2c and SNMPv3 and walked by
a real batiknet-exporter. Every SNMP series it exposes for them is compared exactly with what the
recording says, read here from the .snmprec file by IF-MIB's and HOST-RESOURCES-MIB's own rules; what a
recording does not have must be absent. The whole exposition must pass ``promtool check metrics``.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import pytest

from tests.support import require_binary

from .snmp_simulator import SHIPPED, Device, column, exporter, parse_oid, read_recording, simulated

pytestmark = pytest.mark.system  # snmpsim serves the recordings

RECORDINGS = {
    "linux": "linux-full-walk.snmprec",
    "winxp": "winxp-full-walk.snmprec",
    "eaton": "eaton-9PX-partial-walk.snmprec",
    "linksys": "linksys-system.snmprec",
    "solaris": "solaris-system.snmprec",
    "udp-table": "udp-endpoint-table-walk.snmprec",
}
DEVICES = [Device(name, SHIPPED / file) for name, file in RECORDINGS.items()] + [
    Device(f"{name}-v3", SHIPPED / file, version="3") for name, file in RECORDINGS.items()
]
SNMP_FAMILIES = ("batiknet_device_", "batiknet_interface_")

SYS_OBJECT_ID, SYS_UPTIME = parse_oid("1.3.6.1.2.1.1.2.0"), parse_oid("1.3.6.1.2.1.1.3.0")
IF_TABLE, IF_X_TABLE = "1.3.6.1.2.1.2.2.1", "1.3.6.1.2.1.31.1.1.1"
HR_PROCESSOR_LOAD = parse_oid("1.3.6.1.2.1.25.3.3.1.2")
HR_STORAGE = "1.3.6.1.2.1.25.2.3.1"
HR_STORAGE_RAM = parse_oid("1.3.6.1.2.1.25.2.1.2")
GAUGE32_MAX = 2**32 - 1


def if_column(recording: dict, table: str, number: int) -> dict:
    return {index[0]: value for index, value in column(recording, parse_oid(f"{table}.{number}")).items()}


def speed_bits(if_speed: int | None, if_high_speed: int | None) -> float | None:
    """RFC 2863: ifSpeed is bits per second, at most 4,294,967,295 (then ifHighSpeed, in Mbit/s, says
    more); 0 means no concept of bandwidth. ifSpeed is exact where it agrees with ifHighSpeed's rounding."""
    if if_speed in (None, 0, GAUGE32_MAX) or (
        if_high_speed is not None and round(if_speed / 1e6) != if_high_speed
    ):
        return if_high_speed * 1e6 if if_high_speed else None
    return if_speed


def expected_series(recording: dict, device: str) -> dict[tuple[str, tuple], float]:
    """The SNMP series the exporter must give for a recording, and nothing else."""
    expected: dict[tuple[str, tuple], float] = {}

    def put(name: str, value: float | None, **labels: str) -> None:
        if value is not None:
            expected[(name, tuple(sorted({"device": device, **labels}.items())))] = value

    sys_object_id = recording.get(SYS_OBJECT_ID)
    # None of these vendors (net-snmp, Microsoft, Eaton, Linksys, Sun) has a profile of its own.
    put(
        "batiknet_device_info",
        1,
        profile="standard",
        chosen_by="sysObjectID",
        sys_object_id=".".join(map(str, sys_object_id)) if sys_object_id else "none",
    )
    uptime = recording.get(SYS_UPTIME)
    put("batiknet_device_uptime_seconds", None if uptime is None else uptime / 100)
    loads = list(column(recording, HR_PROCESSOR_LOAD).values())
    put("batiknet_device_cpu_usage_ratio", sum(loads) / len(loads) / 100 if loads else None)
    types = if_column(recording, HR_STORAGE, 2)
    sizes, used = if_column(recording, HR_STORAGE, 5), if_column(recording, HR_STORAGE, 6)
    ram = [index for index, kind in types.items() if kind == HR_STORAGE_RAM and index in used]
    put(
        "batiknet_device_memory_usage_ratio",
        sum(used[i] for i in ram) / sum(sizes[i] for i in ram) if ram else None,
    )

    descr, name, alias = (
        if_column(recording, t, n) for t, n in ((IF_TABLE, 2), (IF_X_TABLE, 1), (IF_X_TABLE, 18))
    )
    changing = {n: if_column(recording, IF_TABLE, n) for n in (5, 7, 8, 10, 14, 16, 20)} | {
        100 + n: if_column(recording, IF_X_TABLE, n) for n in (6, 10, 15)
    }
    rows = sorted({index for values in changing.values() for index in values})
    names = {i: (name.get(i) or descr.get(i) or f"if{i}".encode()).rstrip(b"\x00 ").decode() for i in rows}
    assert len(set(names.values())) == len(names), (
        "a recording with repeated names needs the #ifIndex rule here"
    )
    for index in rows:
        labels = {"interface": names[index]}
        hc_in, hc_out = changing[106].get(index), changing[110].get(index)
        received = hc_in if hc_in is not None else changing[10].get(index)
        sent = hc_out if hc_out is not None else changing[16].get(index)
        widths = [
            64 if hc is not None else 32
            for hc, value in ((hc_in, received), (hc_out, sent))
            if value is not None
        ]
        put(
            "batiknet_interface_info",
            1,
            **labels,
            alias=alias.get(index, b"").decode() or "none",
            index=str(index),
            counter_bits=str(min(widths)) if widths else "none",
        )
        put(
            "batiknet_interface_up",
            None if index not in changing[8] else float(changing[8][index] == 1),
            **labels,
        )
        put(
            "batiknet_interface_admin_up",
            None if index not in changing[7] else float(changing[7][index] == 1),
            **labels,
        )
        put("batiknet_interface_receive_bytes_total", received, **labels)
        put("batiknet_interface_transmit_bytes_total", sent, **labels)
        put("batiknet_interface_errors_total", changing[14].get(index), **labels, direction="receive")
        put("batiknet_interface_errors_total", changing[20].get(index), **labels, direction="transmit")
        bits = speed_bits(changing[5].get(index), changing[115].get(index))
        put("batiknet_interface_speed_bytes_per_second", None if bits is None else bits / 8, **labels)
    return expected


@pytest.fixture(scope="module")
def walked(tmp_path_factory) -> Iterator[tuple[list, str]]:
    workdir = tmp_path_factory.mktemp("recordings")
    with simulated(DEVICES, workdir / "snmpsim"), exporter(DEVICES, workdir / "exporter") as running:
        samples = running.wait_walked(DEVICES)
        yield samples, running.text()


@pytest.mark.parametrize("device", DEVICES, ids=lambda device: device.id)
def test_every_series_is_what_the_recording_says(walked, device):
    samples, _ = walked
    found = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for s in samples
        if s.name.startswith(SNMP_FAMILIES) and s.labels.get("device") == device.id
    }
    assert found == expected_series(read_recording(device.recording), device.id)


def test_the_recordings_hold_what_this_test_is_about():
    """The claims of the module docstring, checked on the recordings themselves."""
    linux, winxp = (read_recording(SHIPPED / RECORDINGS[name]) for name in ("linux", "winxp"))
    assert max(if_column(linux, IF_X_TABLE, 6).values()) > 2**32  # a 64-bit counter past 32 bits
    assert not if_column(winxp, IF_X_TABLE, 6)  # no ifXTable
    assert all(name.endswith(b"\x00") for name in if_column(winxp, IF_TABLE, 2).values())
    assert SYS_UPTIME not in read_recording(SHIPPED / RECORDINGS["eaton"])
    assert SYS_OBJECT_ID not in read_recording(SHIPPED / RECORDINGS["udp-table"])


def test_the_whole_exposition_passes_promtool(walked, tmp_path):
    _, text = walked
    result = subprocess.run(
        [require_binary("promtool"), "check", "metrics"],
        input=text,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0 and not result.stdout.strip() and not result.stderr.strip(), (
        result.stdout + result.stderr
    )
