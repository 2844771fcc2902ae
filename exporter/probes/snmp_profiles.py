"""Where a device keeps its CPU, memory and temperatures: one profile per vendor, chosen by sysObjectID.

A profile is data, not code: the tables to walk (columns read every walk, and static columns read with
the interface names) and how to read each figure from them: which column, which rows, which scale, as the
vendor's public MIB defines them (docs/exporter.md lists every one). The profile is chosen by the
enterprise number in sysObjectID (1.3.6.1.4.1.<enterprise>...), or forced per device in the inventory;
any other device gets the ``standard`` profile (HOST-RESOURCES-MIB and ENTITY-SENSOR-MIB). A figure the
device does not give, or gives as a value its MIB calls "not available", is absent: never a 0.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from exporter.probes.snmp_text import label_text, unique_names

__all__ = [
    "BY_NAME",
    "PROFILES",
    "Figures",
    "Profile",
    "Table",
    "device_figures",
    "parse_oid",
    "profile_for",
]

Oid = tuple[int, ...]
Index = tuple[int, ...]
Columns = Mapping[Oid, Mapping[Index, object]]


def parse_oid(text: str) -> Oid:
    return tuple(int(part) for part in text.split("."))


ENTERPRISES = parse_oid("1.3.6.1.4.1")


@dataclass(frozen=True)
class Table:
    """Columns of one table (or group of scalars), walked together in one GETBULK series."""

    name: str  # the walker sizes its requests by what this table had last time
    columns: tuple[Oid, ...] = ()  # read on every walk
    static: tuple[Oid, ...] = ()  # read once and again with the interface names (reboot, change, 30 walks)


@dataclass(frozen=True)
class Rows:
    """Which rows of a column a figure reads: by default every row with a whole-number value."""

    where: tuple[tuple[Oid, frozenset[object]], ...] = ()  # another column of the row must hold one of these
    unless: tuple[tuple[Oid, frozenset[object]], ...] = ()  # ... must not hold one of these
    index_prefix: Index = ()  # the row index starts so (Juniper's Routing Engine rows: 9.x.x.x)
    unset: frozenset[int] = frozenset()  # values the MIB defines as "not available" in this column


@dataclass(frozen=True)
class Percent:
    """A 0..100 column; the device's figure is the mean over the rows read."""

    column: Oid
    rows: Rows = Rows()


@dataclass(frozen=True)
class Share:
    """Memory as a share summed over the rows read: used / total, or used / (used + free)."""

    used: Oid
    total: Oid | None = None
    free: Oid | None = None
    rows: Rows = Rows()


@dataclass(frozen=True)
class Celsius:
    """One temperature per row read: value / divisor in °C (a DISPLAY-HINT "d-1" is a divisor of 10),
    named by a column of the row, or a fixed name (a scalar)."""

    column: Oid
    divisor: int = 1
    name: Oid | None = None
    fixed_name: str = ""  # for a scalar
    rows: Rows = Rows()


@dataclass(frozen=True)
class EntitySensors:
    """A table shaped as ENTITY-SENSOR-MIB's entPhySensorTable: the rows of type celsius(8) whose status is
    ok(1), each value × 10^(3·(scale − 9)) / 10^precision, named by entPhysicalName."""

    entry: Oid
    name: Oid | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    enterprise: int | None  # None: the standard profile, for every enterprise without its own
    tables: tuple[Table, ...]
    cpu: Percent | None = None
    memory: Percent | Share | None = None
    temperatures: tuple[Celsius | EntitySensors, ...] = ()


@dataclass(frozen=True)
class Figures:
    cpu_ratio: float | None = None
    memory_ratio: float | None = None
    temperatures: tuple[tuple[str, float], ...] = ()  # (sensor name, °C)


# HOST-RESOURCES-MIB (RFC 2790): net-snmp, Windows, MikroTik RouterOS.
HR_PROCESSOR_LOAD = parse_oid("1.3.6.1.2.1.25.3.3.1.2")
HR_STORAGE_TYPE = parse_oid("1.3.6.1.2.1.25.2.3.1.2")
HR_STORAGE_SIZE = parse_oid("1.3.6.1.2.1.25.2.3.1.5")
HR_STORAGE_USED = parse_oid("1.3.6.1.2.1.25.2.3.1.6")
HR_STORAGE_RAM = parse_oid("1.3.6.1.2.1.25.2.1.2")
HR_TABLES = (
    Table("hrProcessorTable", (HR_PROCESSOR_LOAD,)),
    Table("hrStorageTable", (HR_STORAGE_USED,), (HR_STORAGE_TYPE, HR_STORAGE_SIZE)),
)
HR_CPU = Percent(HR_PROCESSOR_LOAD)
HR_MEMORY = Share(
    HR_STORAGE_USED, total=HR_STORAGE_SIZE, rows=Rows(where=((HR_STORAGE_TYPE, frozenset({HR_STORAGE_RAM})),))
)

# ENTITY-MIB (RFC 6933) names and ENTITY-SENSOR-MIB (RFC 3433) sensors.
ENT_PHYSICAL_NAME = parse_oid("1.3.6.1.2.1.47.1.1.1.1.7")
ENTITY_NAMES = Table("entPhysicalTable", static=(ENT_PHYSICAL_NAME,))
ENT_PHY_SENSOR = parse_oid("1.3.6.1.2.1.99.1.1.1")
SENSOR_TYPE, SENSOR_SCALE, SENSOR_PRECISION, SENSOR_VALUE, SENSOR_STATUS = 1, 2, 3, 4, 5
CELSIUS_TYPE, SENSOR_OK, UNITS_SCALE = 8, 1, 9


def sensor_table(name: str, entry: Oid) -> Table:
    return Table(
        name,
        ((*entry, SENSOR_VALUE), (*entry, SENSOR_STATUS)),
        ((*entry, SENSOR_TYPE), (*entry, SENSOR_SCALE), (*entry, SENSOR_PRECISION)),
    )


# CISCO-PROCESS-MIB, CISCO-MEMORY-POOL-MIB, CISCO-ENVMON-MIB.
CISCO_CPU_5MIN = parse_oid("1.3.6.1.4.1.9.9.109.1.1.1.1.8")  # cpmCPUTotal5minRev
CISCO_MEMORY_USED = parse_oid("1.3.6.1.4.1.9.9.48.1.1.1.5")  # ciscoMemoryPoolUsed, bytes
CISCO_MEMORY_FREE = parse_oid("1.3.6.1.4.1.9.9.48.1.1.1.6")  # ciscoMemoryPoolFree, bytes
CISCO_TEMPERATURE_DESCR = parse_oid("1.3.6.1.4.1.9.9.13.1.3.1.2")  # ciscoEnvMonTemperatureStatusDescr
CISCO_TEMPERATURE = parse_oid("1.3.6.1.4.1.9.9.13.1.3.1.3")  # ciscoEnvMonTemperatureStatusValue, °C
CISCO_TEMPERATURE_STATE = parse_oid("1.3.6.1.4.1.9.9.13.1.3.1.6")  # ciscoEnvMonTemperatureState
CISCO_PRESENT_STATES = frozenset({1, 2, 3, 4})  # normal, warning, critical, shutdown; not notPresent(5) ...

# HUAWEI-ENTITY-EXTENT-MIB hwEntityStateTable, indexed by entPhysicalIndex.
HUAWEI_CPU = parse_oid("1.3.6.1.4.1.2011.5.25.31.1.1.1.1.5")  # hwEntityCpuUsage, %
HUAWEI_CPU_THRESHOLD = parse_oid("1.3.6.1.4.1.2011.5.25.31.1.1.1.1.6")  # hwEntityCpuUsageThreshold
HUAWEI_MEMORY = parse_oid("1.3.6.1.4.1.2011.5.25.31.1.1.1.1.7")  # hwEntityMemUsage, %
HUAWEI_MEMORY_THRESHOLD = parse_oid("1.3.6.1.4.1.2011.5.25.31.1.1.1.1.8")  # hwEntityMemUsageThreshold
HUAWEI_TEMPERATURE = parse_oid("1.3.6.1.4.1.2011.5.25.31.1.1.1.1.11")  # hwEntityTemperature, °C

# HH3C-ENTITY-EXT-MIB hh3cEntityExtStateTable (H3C, HPE Comware), indexed by entPhysicalIndex.
H3C_CPU = parse_oid("1.3.6.1.4.1.25506.2.6.1.1.1.1.6")  # hh3cEntityExtCpuUsage, %
H3C_MEMORY = parse_oid("1.3.6.1.4.1.25506.2.6.1.1.1.1.8")  # hh3cEntityExtMemUsage, %
H3C_TEMPERATURE = parse_oid("1.3.6.1.4.1.25506.2.6.1.1.1.1.12")  # hh3cEntityExtTemperature, °C

# JUNIPER-MIB jnxOperatingTable, indexed by container, L1, L2, L3; container 9 is the Routing Engine.
JUNIPER_DESCR = parse_oid("1.3.6.1.4.1.2636.3.1.13.1.5")  # jnxOperatingDescr
JUNIPER_TEMPERATURE = parse_oid("1.3.6.1.4.1.2636.3.1.13.1.7")  # jnxOperatingTemp, °C
JUNIPER_CPU = parse_oid("1.3.6.1.4.1.2636.3.1.13.1.8")  # jnxOperatingCPU, %
JUNIPER_BUFFER = parse_oid("1.3.6.1.4.1.2636.3.1.13.1.11")  # jnxOperatingBuffer, %
JUNIPER_ROUTING_ENGINE = Rows(index_prefix=(9,))

# FORTINET-FORTIGATE-MIB fgSystemInfo scalars.
FORTIGATE_CPU = parse_oid("1.3.6.1.4.1.12356.101.4.1.3")  # fgSysCpuUsage, %
FORTIGATE_MEMORY = parse_oid("1.3.6.1.4.1.12356.101.4.1.4")  # fgSysMemUsage, %

# MIKROTIK-MIB mtxrHealth: RouterOS 6 scalars in tenths of °C, RouterOS 7 gauge table.
MIKROTIK_TEMPERATURE = parse_oid("1.3.6.1.4.1.14988.1.1.3.10")  # mtxrHlTemperature
MIKROTIK_PROCESSOR_TEMPERATURE = parse_oid("1.3.6.1.4.1.14988.1.1.3.11")  # mtxrHlProcessorTemperature
MIKROTIK_GAUGE_NAME = parse_oid("1.3.6.1.4.1.14988.1.1.3.100.1.2")  # mtxrGaugeName
MIKROTIK_GAUGE_VALUE = parse_oid("1.3.6.1.4.1.14988.1.1.3.100.1.3")  # mtxrGaugeValue, in mtxrGaugeUnit
MIKROTIK_GAUGE_UNIT = parse_oid("1.3.6.1.4.1.14988.1.1.3.100.1.4")  # mtxrGaugeUnit
MIKROTIK_CELSIUS = 1

# RUIJIE-PROCESS-MIB, RUIJIE-MEMORY-MIB, RUIJIE-SYSTEM-MIB.
RUIJIE_CPU_5MIN = parse_oid("1.3.6.1.4.1.4881.1.1.10.2.36.1.1.3")  # ruijieCPUUtilization5Min, %
RUIJIE_MEMORY = parse_oid("1.3.6.1.4.1.4881.1.1.10.2.35.1.1.1.3")  # ruijieMemoryPoolCurrentUtilization, %
RUIJIE_TEMPERATURE_NAME = parse_oid(
    "1.3.6.1.4.1.4881.1.1.10.2.1.1.44.1.4"
)  # ruijieSystemMultipleTemperatureName
RUIJIE_TEMPERATURE = parse_oid(
    "1.3.6.1.4.1.4881.1.1.10.2.1.1.44.1.5"
)  # ruijieSystemMultipleTemperatureCurrent

# ZXR10-MIB zxr10SystemUnitTable (ZTE), one row per unit; UnitRunStatus up(1).
ZTE_RUN_STATUS = parse_oid("1.3.6.1.4.1.3902.3.3.1.1.2")  # zxr10SystemUnitRunStatus
ZTE_MEMORY = parse_oid("1.3.6.1.4.1.3902.3.3.1.1.4")  # zxr10SystemMemUsed, %
ZTE_CPU_5MIN = parse_oid("1.3.6.1.4.1.3902.3.3.1.1.12")  # zxr10SystemCpuUtility5m, %
ZTE_UNIT_UP = Rows(where=((ZTE_RUN_STATUS, frozenset({1})),))

# D-Link AGENT-GENERAL-MIB (agentBasicInfo) and EQUIPMENT-MIB swTemperatureTable.
DLINK_CPU_5MIN = parse_oid("1.3.6.1.4.1.171.12.1.1.6.3")  # agentCPUutilizationIn5min, %
DLINK_MEMORY = parse_oid("1.3.6.1.4.1.171.12.1.1.9.1.4")  # agentDRAMutilization, %
DLINK_TEMPERATURE = parse_oid("1.3.6.1.4.1.171.12.11.1.8.1.2")  # swTemperatureCurrent, °C per unit

STANDARD = Profile(
    "standard",
    None,
    (*HR_TABLES, sensor_table("entPhySensorTable", ENT_PHY_SENSOR), ENTITY_NAMES),
    HR_CPU,
    HR_MEMORY,
    (EntitySensors(ENT_PHY_SENSOR, ENT_PHYSICAL_NAME),),
)
PROFILES: tuple[Profile, ...] = (
    STANDARD,
    Profile(
        "cisco",
        9,
        (
            Table("cpmCPUTotalTable", (CISCO_CPU_5MIN,)),
            Table("ciscoMemoryPoolTable", (CISCO_MEMORY_USED, CISCO_MEMORY_FREE)),
            Table(
                "ciscoEnvMonTemperatureStatusTable",
                (CISCO_TEMPERATURE, CISCO_TEMPERATURE_STATE),
                (CISCO_TEMPERATURE_DESCR,),
            ),
        ),
        Percent(CISCO_CPU_5MIN),
        Share(CISCO_MEMORY_USED, free=CISCO_MEMORY_FREE),
        (
            Celsius(
                CISCO_TEMPERATURE,
                name=CISCO_TEMPERATURE_DESCR,
                rows=Rows(where=((CISCO_TEMPERATURE_STATE, CISCO_PRESENT_STATES),)),
            ),
        ),
    ),
    Profile(
        "huawei",
        2011,
        (
            Table(
                "hwEntityStateTable",
                (HUAWEI_CPU, HUAWEI_MEMORY, HUAWEI_TEMPERATURE),
                (HUAWEI_CPU_THRESHOLD, HUAWEI_MEMORY_THRESHOLD),
            ),
            ENTITY_NAMES,
        ),
        # Entities without a processor or memory (ports, fans, power) give 0 with a threshold of 0.
        Percent(HUAWEI_CPU, Rows(unless=((HUAWEI_CPU_THRESHOLD, frozenset({0})),))),
        Percent(HUAWEI_MEMORY, Rows(unless=((HUAWEI_MEMORY_THRESHOLD, frozenset({0})),))),
        (Celsius(HUAWEI_TEMPERATURE, name=ENT_PHYSICAL_NAME, rows=Rows(unset=frozenset({0, 0x7FFFFFFF}))),),
    ),
    Profile(
        "h3c",
        25506,
        (Table("hh3cEntityExtStateTable", (H3C_CPU, H3C_MEMORY, H3C_TEMPERATURE)), ENTITY_NAMES),
        # Entities without a processor or memory give 0; without a sensor, 0 or 65535 (not supported).
        Percent(H3C_CPU, Rows(unset=frozenset({0}))),
        Percent(H3C_MEMORY, Rows(unset=frozenset({0}))),
        (Celsius(H3C_TEMPERATURE, name=ENT_PHYSICAL_NAME, rows=Rows(unset=frozenset({0, 65535}))),),
    ),
    Profile(
        "juniper",
        2636,
        (Table("jnxOperatingTable", (JUNIPER_CPU, JUNIPER_BUFFER, JUNIPER_TEMPERATURE), (JUNIPER_DESCR,)),),
        Percent(JUNIPER_CPU, JUNIPER_ROUTING_ENGINE),
        Percent(JUNIPER_BUFFER, JUNIPER_ROUTING_ENGINE),
        (Celsius(JUNIPER_TEMPERATURE, name=JUNIPER_DESCR, rows=Rows(unset=frozenset({0}))),),  # 0: none
    ),
    Profile(
        "fortinet",
        12356,
        (Table("fgSystemInfo", (FORTIGATE_CPU, FORTIGATE_MEMORY)),),
        Percent(FORTIGATE_CPU),
        Percent(FORTIGATE_MEMORY),
    ),
    Profile(
        "mikrotik",
        14988,
        (
            *HR_TABLES,
            Table("mtxrHealth", (MIKROTIK_TEMPERATURE, MIKROTIK_PROCESSOR_TEMPERATURE)),
            Table("mtxrGaugeTable", (MIKROTIK_GAUGE_VALUE,), (MIKROTIK_GAUGE_NAME, MIKROTIK_GAUGE_UNIT)),
        ),
        HR_CPU,
        HR_MEMORY,
        (
            Celsius(MIKROTIK_TEMPERATURE, divisor=10, fixed_name="temperature"),
            Celsius(MIKROTIK_PROCESSOR_TEMPERATURE, divisor=10, fixed_name="processor-temperature"),
            Celsius(
                MIKROTIK_GAUGE_VALUE,
                name=MIKROTIK_GAUGE_NAME,
                rows=Rows(where=((MIKROTIK_GAUGE_UNIT, frozenset({MIKROTIK_CELSIUS})),)),
            ),
        ),
    ),
    Profile(
        "ruijie",
        4881,
        (
            Table("ruijieCpuGeneralMibsGroup", (RUIJIE_CPU_5MIN,)),
            Table("ruijieMemoryPoolUtilizationTable", (RUIJIE_MEMORY,)),
            Table("ruijieSystemMultipleTemperatureTable", (RUIJIE_TEMPERATURE,), (RUIJIE_TEMPERATURE_NAME,)),
        ),
        Percent(RUIJIE_CPU_5MIN),
        Percent(RUIJIE_MEMORY),
        (Celsius(RUIJIE_TEMPERATURE, name=RUIJIE_TEMPERATURE_NAME),),
    ),
    Profile(
        "zte",
        3902,
        (Table("zxr10SystemUnitTable", (ZTE_CPU_5MIN, ZTE_MEMORY, ZTE_RUN_STATUS)),),
        Percent(ZTE_CPU_5MIN, ZTE_UNIT_UP),
        Percent(ZTE_MEMORY, ZTE_UNIT_UP),
    ),
    Profile(
        "dlink",
        171,
        (
            Table("agentCPUutilization", (DLINK_CPU_5MIN,)),
            Table("agentDRAMutilizationTable", (DLINK_MEMORY,)),
            Table("swTemperatureTable", (DLINK_TEMPERATURE,)),
        ),
        Percent(DLINK_CPU_5MIN),
        Percent(DLINK_MEMORY),
        (Celsius(DLINK_TEMPERATURE),),
    ),
)
BY_NAME = {profile.name: profile for profile in PROFILES}
BY_ENTERPRISE = {profile.enterprise: profile for profile in PROFILES if profile.enterprise is not None}


def profile_for(sys_object_id: Oid | None, forced: str | None = None) -> Profile:
    """The profile named in the inventory, else the one of the enterprise in sysObjectID, else standard."""
    if forced is not None:
        return BY_NAME[forced]
    if sys_object_id and sys_object_id[: len(ENTERPRISES)] == ENTERPRISES and len(sys_object_id) > 6:
        return BY_ENTERPRISE.get(sys_object_id[6], STANDARD)
    return STANDARD


# Reading


def _selected(columns: Columns, column: Oid, rows: Rows) -> dict[Index, int]:
    """The whole-number values of ``column`` in the rows ``rows`` selects."""
    selected = {}
    for index, value in columns.get(column, {}).items():
        if (
            isinstance(value, int)
            and value not in rows.unset
            and index[: len(rows.index_prefix)] == rows.index_prefix
            and all(columns.get(other, {}).get(index) in wanted for other, wanted in rows.where)
            and not any(columns.get(other, {}).get(index) in unwanted for other, unwanted in rows.unless)
        ):
            selected[index] = value
    return selected


def _percent(columns: Columns, reading: Percent) -> float | None:
    values = [v for v in _selected(columns, reading.column, reading.rows).values() if 0 <= v <= 100]
    return sum(values) / len(values) / 100 if values else None


def _share(columns: Columns, reading: Share) -> float | None:
    used = total = 0
    for index, value in _selected(columns, reading.used, reading.rows).items():
        other = columns.get(reading.total or reading.free or (), {}).get(index)
        if not isinstance(other, int) or value < 0 or other < 0:
            continue
        used += value
        total += other if reading.total else value + other
    return used / total if total > 0 else None


def _name(columns: Columns, column: Oid | None, index: Index) -> str:
    name = label_text(columns.get(column, {}).get(index, b"")) if column else ""
    return name or ".".join(map(str, index))


def _celsius(columns: Columns, reading: Celsius) -> dict[Index, tuple[str, float]]:
    return {
        index: (reading.fixed_name or _name(columns, reading.name, index), value / reading.divisor)
        for index, value in _selected(columns, reading.column, reading.rows).items()
    }


def _entity_sensors(columns: Columns, reading: EntitySensors) -> dict[Index, tuple[str, float]]:
    def column(number: int) -> Mapping[Index, object]:
        return columns.get((*reading.entry, number), {})

    found = {}
    types, scales, precisions, statuses = map(
        column, (SENSOR_TYPE, SENSOR_SCALE, SENSOR_PRECISION, SENSOR_STATUS)
    )
    for index, value in column(SENSOR_VALUE).items():
        scale, precision = scales.get(index), precisions.get(index)
        if (
            types.get(index) == CELSIUS_TYPE
            and statuses.get(index) == SENSOR_OK
            and isinstance(value, int)
            and isinstance(scale, int)
            and 1 <= scale <= 17
            and isinstance(precision, int)
            and -8 <= precision <= 9
        ):
            exponent = 3 * (scale - UNITS_SCALE) - precision
            celsius = value * 10**exponent if exponent >= 0 else value / 10**-exponent
            found[index] = (_name(columns, reading.name, index), float(celsius))
    return found


def device_figures(profile: Profile, columns: Columns) -> Figures:
    """The profile's figures from the columns of one walk (static and changing together)."""
    temperatures: dict[tuple[int, Index], tuple[str, float]] = {}
    for number, reading in enumerate(profile.temperatures):
        read = (
            _celsius(columns, reading) if isinstance(reading, Celsius) else _entity_sensors(columns, reading)
        )
        temperatures.update({(number, index): read[index] for index in sorted(read)})
    names = unique_names({key: name for key, (name, _) in temperatures.items()}, lambda key: key[1])
    memory = profile.memory
    if memory is None:
        memory_ratio = None
    else:
        memory_ratio = _percent(columns, memory) if isinstance(memory, Percent) else _share(columns, memory)
    return Figures(
        cpu_ratio=_percent(columns, profile.cpu) if profile.cpu else None,
        memory_ratio=memory_ratio,
        temperatures=tuple((names[key], celsius) for key, (_, celsius) in temperatures.items()),
    )
