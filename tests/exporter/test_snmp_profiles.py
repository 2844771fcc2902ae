"""The profile table: chosen by sysObjectID or the inventory, consistent with itself, and reading only what
the device gives (a value the MIB calls unavailable, or one of the wrong type, is absent)."""

from __future__ import annotations

from pathlib import Path

import pytest

from batiknet.inventory import SNMP_PROFILES, InventoryError, parse_inventory
from exporter.probes import snmp_profiles as profiles
from exporter.probes.snmp_profiles import BY_NAME, PROFILES, device_figures, profile_for

from .fakes import DOCUMENT


def test_the_inventory_knows_every_profile_and_no_other():
    assert tuple(profile.name for profile in PROFILES) == SNMP_PROFILES


def test_a_profile_is_chosen_by_the_enterprise_or_forced():
    assert profile_for((1, 3, 6, 1, 4, 1, 9, 1, 1208)).name == "cisco"
    assert profile_for((1, 3, 6, 1, 4, 1, 2011, 2, 23, 374)).name == "huawei"
    assert (
        profile_for((1, 3, 6, 1, 4, 1, 8072, 3, 2, 10)).name == "standard"
    )  # net-snmp: no profile of its own
    assert profile_for((1, 3, 6, 1, 4, 1)).name == "standard"
    assert profile_for((0, 0)).name == "standard" and profile_for(None).name == "standard"
    assert profile_for((1, 3, 6, 1, 4, 1, 11, 2, 3, 7, 11, 119), forced="h3c").name == "h3c"


@pytest.mark.parametrize("profile", PROFILES, ids=lambda profile: profile.name)
def test_every_figure_reads_columns_its_profile_walks(profile):
    walked = {column for table in profile.tables for column in (*table.columns, *table.static)}
    readings = [reading for reading in (profile.cpu, profile.memory, *profile.temperatures) if reading]
    for reading in readings:
        if isinstance(reading, profiles.EntitySensors):
            needed = {(*reading.entry, number) for number in range(1, 6)} | {reading.name}
        else:
            rows = reading.rows
            needed = {getattr(reading, name, None) for name in ("column", "used", "total", "free", "name")}
            needed |= {column for column, _ in (*rows.where, *rows.unless)}
        assert needed - {None} <= walked, reading
    names = [table.name for table in profile.tables]
    assert len(names) == len(set(names)) and "interfaces" not in names


def rows(column, values: dict) -> dict:
    return {column: {(index,): value for index, value in values.items()}}


def test_percentages_out_of_range_or_not_numbers_are_left_out():
    cisco = BY_NAME["cisco"]
    columns = rows(profiles.CISCO_CPU_5MIN, {1: 30, 2: b"50", 3: 250, 4: 10})
    assert device_figures(cisco, columns).cpu_ratio == (30 + 10) / 2 / 100
    assert device_figures(cisco, rows(profiles.CISCO_CPU_5MIN, {1: b"x"})).cpu_ratio is None


def test_memory_shares_need_both_columns_and_a_size():
    standard = BY_NAME["standard"]
    ram, disk = profiles.HR_STORAGE_RAM, (1, 3, 6, 1, 2, 1, 25, 2, 1, 4)
    columns = {
        **rows(profiles.HR_STORAGE_TYPE, {1: disk, 2: ram, 3: ram, 4: ram}),
        **rows(profiles.HR_STORAGE_SIZE, {1: 100, 2: 1000, 3: 0, 4: 500}),
        **rows(profiles.HR_STORAGE_USED, {1: 90, 2: 250, 4: 250}),
    }
    assert device_figures(standard, columns).memory_ratio == (250 + 250) / (1000 + 500)
    empty = {**columns, **rows(profiles.HR_STORAGE_SIZE, {2: 0, 3: 0, 4: 0})}
    assert device_figures(standard, empty).memory_ratio is None


def test_entity_sensors_read_scale_and_precision_and_only_celsius_that_is_ok():
    entry = profiles.ENT_PHY_SENSOR

    def sensor_column(number: int, values: dict) -> dict:
        return rows((*entry, number), values)

    columns = {
        **sensor_column(1, {1: 8, 2: 8, 3: 8, 4: 4, 5: 8}),  # celsius, ..., voltsDC
        **sensor_column(2, {1: 9, 2: 8, 3: 9, 4: 9, 5: 10}),  # units, milli, units, units, kilo
        **sensor_column(3, {1: 1, 2: 0, 3: 0, 4: 0, 5: 0}),
        **sensor_column(4, {1: -55, 2: 41250, 3: 30, 4: 12, 5: 1}),
        **sensor_column(5, {1: 1, 2: 1, 3: 2, 4: 1, 5: 1}),  # ok, ok, unavailable, ok, ok
        **rows(profiles.ENT_PHYSICAL_NAME, {1: b"Inlet", 2: b"CPU"}),
    }
    assert device_figures(BY_NAME["standard"], columns).temperatures == (
        ("Inlet", -5.5),
        ("CPU", 41.25),
        ("5", 1000.0),
    )


def test_sensors_with_one_name_stay_distinct():
    columns = {
        **rows(profiles.HUAWEI_TEMPERATURE, {10: 30, 11: 31}),
        **rows(profiles.ENT_PHYSICAL_NAME, {10: b"MPU", 11: b"MPU"}),
    }
    assert device_figures(BY_NAME["huawei"], columns).temperatures == (("MPU#10", 30.0), ("MPU#11", 31.0))


def parse_snmp(snmp: dict):
    core, *others = DOCUMENT["devices"]
    document = {**DOCUMENT, "devices": [{**core, "snmp": snmp}, *others]}
    return parse_inventory(document, Path("inventory.yml")).devices[0].snmp


V3 = {"version": 3, "username": "u", "auth_password": {"env": "A"}, "priv_password": {"env": "P"}}


def test_the_inventory_takes_a_v3_context_and_a_forced_profile():
    credentials = parse_snmp({**V3, "context": "vlan-10", "profile": "huawei"})
    assert (credentials.context, credentials.profile) == ("vlan-10", "huawei")
    plain = parse_snmp({"version": "2c", "community": {"env": "C"}, "profile": "dlink"})
    assert (plain.context, plain.profile) == ("", "dlink")
    assert parse_snmp(V3).profile is None


@pytest.mark.parametrize(
    ("snmp", "said"),
    [
        ({"version": "2c", "community": {"env": "C"}, "context": "vlan-10"}, "context is SNMP v3 only"),
        ({**V3, "context": "has space"}, "1 to 32 printable"),
        ({**V3, "context": "x" * 33}, "1 to 32 printable"),
        ({**V3, "profile": "nokia"}, "profile 'nokia' is not one of standard, cisco"),
    ],
    ids=["context on v2c", "context with a space", "context too long", "unknown profile"],
)
def test_the_inventory_refuses_a_bad_context_or_profile(snmp, said):
    with pytest.raises(InventoryError, match=said):
        parse_snmp(snmp)
