"""SNMP walks of a device's interfaces, uptime, CPU and memory (GETBULK, v2c or v3).

The requests go through :class:`~exporter.probes.snmp_client.SNMPClient`; OIDs are numeric. All wanted
table columns go into each GETBULK together, with the scalars as non-repeaters of the first request, so a
round is a few round trips. Interface names, aliases and descriptions (and the type and size of each
hrStorage entry) barely change: they are walked once and again only when sysUpTime goes backwards (a
reboot renumbers interfaces), when the set of interface or storage indexes changes, or every
``NAME_REFRESH_CYCLES`` walks (an operator edited an alias).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from batiknet.inventory import Device
from exporter.probes.snmp_client import SNMPAuth, SNMPClient, SNMPFailure
from exporter.probes.snmp_codec import VarBindException

__all__ = [
    "REASONS",
    "Interface",
    "SNMPAuth",
    "SNMPResult",
    "SNMPWalker",
    "interfaces_from_columns",
    "usage_ratios",
]

REASONS = ("ok", "icmp_down", "timeout", "auth_error", "error")
NAME_REFRESH_CYCLES = 30

Oid = tuple[int, ...]


def _oid(text: str) -> Oid:
    return tuple(int(part) for part in text.split("."))


SYS_OBJECT_ID = _oid("1.3.6.1.2.1.1.2")
SYS_UPTIME = _oid("1.3.6.1.2.1.1.3")
SYS_NAME = _oid("1.3.6.1.2.1.1.5")
SCALARS = (SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME)

# IF-MIB columns (ifTable 1.3.6.1.2.1.2.2.1, ifXTable 1.3.6.1.2.1.31.1.1.1).
IF_DESCR = _oid("1.3.6.1.2.1.2.2.1.2")
IF_ADMIN_STATUS = _oid("1.3.6.1.2.1.2.2.1.7")
IF_OPER_STATUS = _oid("1.3.6.1.2.1.2.2.1.8")
IF_IN_ERRORS = _oid("1.3.6.1.2.1.2.2.1.14")
IF_OUT_ERRORS = _oid("1.3.6.1.2.1.2.2.1.20")
IF_NAME = _oid("1.3.6.1.2.1.31.1.1.1.1")
IF_HC_IN_OCTETS = _oid("1.3.6.1.2.1.31.1.1.1.6")
IF_HC_OUT_OCTETS = _oid("1.3.6.1.2.1.31.1.1.1.10")
IF_HIGH_SPEED = _oid("1.3.6.1.2.1.31.1.1.1.15")
IF_ALIAS = _oid("1.3.6.1.2.1.31.1.1.1.18")
NAME_COLUMNS = (IF_NAME, IF_ALIAS, IF_DESCR)
COUNTER_COLUMNS = (
    IF_ADMIN_STATUS,
    IF_OPER_STATUS,
    IF_IN_ERRORS,
    IF_OUT_ERRORS,
    IF_HC_IN_OCTETS,
    IF_HC_OUT_OCTETS,
    IF_HIGH_SPEED,
)

# HOST-RESOURCES-MIB (Debian's snmpd, MikroTik RouterOS, most servers).
HR_PROCESSOR_LOAD = _oid("1.3.6.1.2.1.25.3.3.1.2")
HR_STORAGE_TYPE = _oid("1.3.6.1.2.1.25.2.3.1.2")
HR_STORAGE_SIZE = _oid("1.3.6.1.2.1.25.2.3.1.5")
HR_STORAGE_USED = _oid("1.3.6.1.2.1.25.2.3.1.6")
HR_STORAGE_RAM = _oid("1.3.6.1.2.1.25.2.1.2")
# CISCO-PROCESS-MIB cpmCPUTotal5minRev, CISCO-MEMORY-POOL-MIB used and free: for Cisco IOS devices.
CISCO_ENTERPRISE = _oid("1.3.6.1.4.1.9")
CISCO_CPU_5MIN = _oid("1.3.6.1.4.1.9.9.109.1.1.1.1.8")
CISCO_MEMORY_USED = _oid("1.3.6.1.4.1.9.9.48.1.1.1.5")
CISCO_MEMORY_FREE = _oid("1.3.6.1.4.1.9.9.48.1.1.1.6")

# Each table is walked with its own GETBULK, max-repetitions fitted to the rows it had last time: columns
# of different lengths in one request make the agent find, send and us decode rows past the short ones'
# ends.
TABLES = {
    "interfaces": COUNTER_COLUMNS,
    "storage": (HR_STORAGE_USED,),
    "processors": (HR_PROCESSOR_LOAD,),
}
# Columns that change only when the device is reconfigured or rebooted: walked with the names.
STATIC_TABLES = {"interfaces": NAME_COLUMNS, "storage": (HR_STORAGE_TYPE, HR_STORAGE_SIZE)}
CISCO_TABLES = {"cisco_cpu": (CISCO_CPU_5MIN,), "cisco_memory": (CISCO_MEMORY_USED, CISCO_MEMORY_FREE)}
MAX_VARBINDS_PER_REQUEST = 512  # keeps responses well under the 64 KiB a UDP datagram can carry


@dataclass(frozen=True)
class Interface:
    index: int
    name: str
    alias: str
    oper_up: bool
    admin_up: bool
    receive_bytes: int
    transmit_bytes: int
    receive_errors: int
    transmit_errors: int
    speed_bits_per_second: float


@dataclass(frozen=True)
class SNMPResult:
    device: str
    reason: str  # one of REASONS
    duration: float = 0.0
    uptime_seconds: float | None = None
    interfaces: tuple[Interface, ...] = ()
    cpu_ratio: float | None = None
    memory_ratio: float | None = None
    varbinds: int = 0  # values this walk kept (the agent's overshoot past a column's end not counted)
    detail: str = ""

    @property
    def up(self) -> bool:
        return self.reason == "ok"


Columns = dict[Oid, dict[int, object]]


def interfaces_from_columns(columns: Columns, names: Columns, device: Device) -> tuple[Interface, ...]:
    """Rows of the IF-MIB columns as interfaces, only those the device's selection wants.

    The interface label is ifName (ifDescr when ifName is empty); a name the agent repeats gets
    ``#ifIndex`` appended, so every (device, interface) pair is unique.
    """
    indexes = sorted(columns.get(IF_OPER_STATUS, {}))
    raw_names = {
        index: str(names.get(IF_NAME, {}).get(index) or names.get(IF_DESCR, {}).get(index) or f"if{index}")
        for index in indexes
    }
    seen = Counter(raw_names.values())
    result = []
    for index in indexes:
        name = raw_names[index]
        if not device.interfaces.selects(name):
            continue
        if seen[name] > 1:  # agents do repeat names; the label pair must stay unique
            name = f"{name}#{index}"

        def value(column: Oid, default: int = 0, index: int = index) -> int:
            return int(columns.get(column, {}).get(index, default))

        result.append(
            Interface(
                index=index,
                name=name,
                alias=str(names.get(IF_ALIAS, {}).get(index, "")),
                oper_up=value(IF_OPER_STATUS) == 1,
                admin_up=value(IF_ADMIN_STATUS) == 1,
                receive_bytes=value(IF_HC_IN_OCTETS),
                transmit_bytes=value(IF_HC_OUT_OCTETS),
                receive_errors=value(IF_IN_ERRORS),
                transmit_errors=value(IF_OUT_ERRORS),
                speed_bits_per_second=value(IF_HIGH_SPEED) * 1e6,
            )
        )
    return tuple(result)


def usage_ratios(columns: Columns) -> tuple[float | None, float | None]:
    """CPU and memory use (0..1) from HOST-RESOURCES-MIB, else from the Cisco MIBs, when present."""
    cpu = memory = None
    loads = [int(v) for v in columns.get(HR_PROCESSOR_LOAD, {}).values()]
    if loads:
        cpu = sum(loads) / len(loads) / 100
    for index, kind in columns.get(HR_STORAGE_TYPE, {}).items():
        size = int(columns.get(HR_STORAGE_SIZE, {}).get(index, 0))
        if tuple(kind) == HR_STORAGE_RAM and size > 0:
            memory = int(columns.get(HR_STORAGE_USED, {}).get(index, 0)) / size
            break
    cisco_cpu = [int(v) for v in columns.get(CISCO_CPU_5MIN, {}).values()]
    if cpu is None and cisco_cpu:
        cpu = sum(cisco_cpu) / len(cisco_cpu) / 100
    used = sum(int(v) for v in columns.get(CISCO_MEMORY_USED, {}).values())
    free = sum(int(v) for v in columns.get(CISCO_MEMORY_FREE, {}).values())
    if memory is None and used + free > 0:
        memory = used / (used + free)
    return cpu, memory


@dataclass
class _DeviceCache:
    uptime_ticks: int = -1
    static: Columns = field(default_factory=dict)  # the STATIC_TABLES columns of the latest refresh
    walks_since_names: int = 0
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows in the latest walk
    cisco: bool = False


class SNMPWalker:
    """Walks devices through one SNMP client; keeps each device's static columns between walks."""

    def __init__(self, max_repetitions: int = 25) -> None:
        self.client = SNMPClient()
        self.max_repetitions = max_repetitions  # for a table whose size is not known yet
        self._cache: dict[str, _DeviceCache] = {}

    def forget(self, keep: Sequence[Device]) -> None:
        """Drop what is cached about devices no longer in the inventory."""
        for device_id in set(self._cache) - {device.id for device in keep}:
            del self._cache[device_id]
        self.client.forget([device.address for device in keep])

    def close(self) -> None:
        self.client.close()

    async def walk(self, device: Device, auth: SNMPAuth, timeout: float, retries: int) -> SNMPResult:
        started = time.monotonic()
        cache = self._cache.setdefault(device.id, _DeviceCache())
        try:
            session = _Session(self.client, device.address, auth, timeout, retries)
            tables = {**TABLES, **(CISCO_TABLES if cache.cisco else {})}

            def repetitions(name: str, width: int) -> int:
                rows = cache.rows.get(name)
                wanted = self.max_repetitions if rows is None else rows + 1  # +1 shows the table's end
                return max(1, min(wanted, MAX_VARBINDS_PER_REQUEST // width))

            async def walk_table(
                name: str, scalars: tuple[Oid, ...] = ()
            ) -> tuple[dict[Oid, object], Columns]:
                columns = tables[name]
                result = await session.walk(columns, scalars, repetitions(name, len(columns)))
                cache.rows[name] = max((len(rows) for rows in result[1].values()), default=0)
                return result

            (scalars, table), *others = await asyncio.gather(
                walk_table("interfaces", SCALARS),
                *(walk_table(name) for name in tables if name != "interfaces"),
            )
            for _, columns in others:
                table.update(columns)
            uptime = int(scalars.get(SYS_UPTIME, 0))
            cache.cisco = tuple(scalars.get(SYS_OBJECT_ID, ()))[: len(CISCO_ENTERPRISE)] == CISCO_ENTERPRISE
            if (
                uptime < cache.uptime_ticks
                or set(table.get(IF_OPER_STATUS, {})) != set(cache.static.get(IF_DESCR, {}))
                or set(table.get(HR_STORAGE_USED, {})) != set(cache.static.get(HR_STORAGE_TYPE, {}))
                or cache.walks_since_names >= NAME_REFRESH_CYCLES
            ):
                walked = await asyncio.gather(
                    *(
                        session.walk(columns, (), repetitions(name, len(columns)))
                        for name, columns in STATIC_TABLES.items()
                    )
                )
                cache.static = {
                    column: {
                        index: _text(value) if column in NAME_COLUMNS else value
                        for index, value in rows.items()
                    }
                    for _, columns in walked
                    for column, rows in columns.items()
                }
                cache.walks_since_names = 0
            cache.uptime_ticks = uptime
            cache.walks_since_names += 1
        except SNMPFailure as failure:
            return SNMPResult(device.id, failure.reason, time.monotonic() - started, detail=str(failure))
        cpu, memory = usage_ratios({**table, **cache.static})
        return SNMPResult(
            device=device.id,
            reason="ok",
            duration=time.monotonic() - started,
            uptime_seconds=uptime / 100,
            interfaces=interfaces_from_columns(table, cache.static, device),
            cpu_ratio=cpu,
            memory_ratio=memory,
            varbinds=session.varbinds,
        )


def _text(value: object) -> str:
    """An OCTET STRING shown as text; agents send interface names and aliases in UTF-8 or ASCII."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _Session:
    """The requests of one walk of one device."""

    def __init__(
        self, client: SNMPClient, address: str, auth: SNMPAuth, timeout: float, retries: int
    ) -> None:
        self.client = client
        self.address = address
        self.auth = auth
        self.timeout = timeout
        self.retries = retries
        self.varbinds = 0

    async def walk(
        self, columns: Sequence[Oid], scalars: Sequence[Oid], repetitions: int
    ) -> tuple[dict[Oid, object], Columns]:
        """GETBULK the scalars (as non-repeaters: their ``.0`` instance) and every column together.

        ``repetitions`` is how many rows to ask for in all (the expected rows plus one, to see the end).
        Agents cap a response (net-snmp at about 100 varbinds), so a table may take several requests;
        each asks only for the rows still expected, never a full ``repetitions`` again.
        """
        scalar_values: dict[Oid, object] = {}
        table: Columns = {column: {} for column in columns}
        cursor = {column: column for column in columns}
        active = list(columns)
        first = True
        while active or (first and scalars):
            request = [*(scalars if first else ()), *(cursor[c] for c in active)]
            non_repeaters = len(scalars) if first else 0
            fetched = max((len(table[c]) for c in active), default=0)
            varbinds = await self.client.get_bulk(
                self.address,
                self.auth,
                request,
                non_repeaters,
                max(2, repetitions - fetched),
                self.timeout,
                self.retries,
            )
            for (name, value), scalar in zip(varbinds[:non_repeaters], scalars, strict=False):
                if name[: len(scalar)] == scalar:
                    scalar_values[scalar] = value
                    self.varbinds += 1
            repeated = varbinds[non_repeaters:]
            finished: set[Oid] = set()
            width = len(active)
            for position, (name, value) in enumerate(repeated):
                column = active[position % width]
                if column in finished:
                    continue
                if (
                    value is VarBindException.END_OF_MIB_VIEW
                    or name[: len(column)] != column
                    or name <= cursor[column]
                ):
                    finished.add(column)
                    continue
                table[column][name[len(column)]] = value
                cursor[column] = name
                self.varbinds += 1
            if not repeated:
                finished.update(active)
            active = [c for c in active if c not in finished]
            first = False
        return scalar_values, table
