"""SNMP walks of a device: its interfaces, uptime, and the CPU, memory and temperatures its profile knows.

The first walk of a device asks the scalars (sysObjectID, sysUpTime, sysName) first, in one small request,
so that the vendor's profile (:mod:`exporter.probes.snmp_profiles`) is known before its tables are walked;
later walks send them with the first request of the interfaces, and walk again at once if the device turns
out rebooted or replaced. Every table is walked at once (at most ``REQUESTS_IN_FLIGHT`` requests out to one
agent), each with its own GETBULK series carrying all its columns, sized to the rows it had last time and
never past ``MAX_VARBINDS_PER_REQUEST`` a request. Interface names, aliases and descriptions and the other
static columns barely change: they are walked on the first round and again only when sysUpTime goes
backwards (a reboot renumbers interfaces), when the set of rows of a table changes from one walk to the
next, when the profile changes, or every ``NAME_REFRESH_CYCLES`` walks (an operator edited an alias); a
table the device does not have is looked for again only then, or on every walk while the agent has been up
less than ``AGENT_WARM_UP_TICKS``: an agent fills some tables only after it has run a while (net-snmp's
hrProcessorLoad after its first minute), and a CPU missing for the next refresh's five minutes after every
reboot would hide the very load a reboot is often about. What a walk learnt (table sizes, static
columns, the profile) is kept even when the walk does not finish in time, so a slow agent's next walk
starts where this one stood.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass, field

from batiknet.inventory import Device
from exporter.probes.snmp_client import SNMPAuth, SNMPClient, SNMPFailure
from exporter.probes.snmp_codec import VarBindException
from exporter.probes.snmp_interfaces import (
    FALLBACK_COLUMNS,
    INTERFACES,
    CounterState,
    Interface,
    extend_counters,
    fallbacks_needed,
    interfaces_from_columns,
)
from exporter.probes.snmp_profiles import Index, Profile, device_figures, parse_oid, profile_for

__all__ = ["REASONS", "Interface", "SNMPAuth", "SNMPResult", "SNMPWalker"]

REASONS = ("ok", "icmp_down", "timeout", "auth_error", "error")
NAME_REFRESH_CYCLES = 30
AGENT_WARM_UP_TICKS = 10 * 60 * 100  # sysUpTime counts hundredths of a second
MAX_VARBINDS_PER_REQUEST = 512  # keeps responses well under the 64 KiB a UDP datagram can carry
# An agent answers one request after the other (and some drop what queues up): a walk has at most this
# many of its tables' requests out to the device at once.
REQUESTS_IN_FLIGHT = 3

Oid = tuple[int, ...]
Columns = dict[Oid, dict[Index, object]]

SYS_OBJECT_ID = parse_oid("1.3.6.1.2.1.1.2")
SYS_UPTIME = parse_oid("1.3.6.1.2.1.1.3")
SYS_NAME = parse_oid("1.3.6.1.2.1.1.5")
SCALARS = (SYS_OBJECT_ID, SYS_UPTIME, SYS_NAME)


@dataclass(frozen=True)
class SNMPResult:
    device: str
    reason: str  # one of REASONS
    duration: float = 0.0
    uptime_seconds: float | None = None
    interfaces: tuple[Interface, ...] = ()
    cpu_ratio: float | None = None
    memory_ratio: float | None = None
    temperatures: tuple[tuple[str, float], ...] = ()  # (sensor, °C)
    profile: str = ""  # the profile the walk read the device with
    profile_chosen_by: str = ""  # "sysObjectID" or "inventory"
    sys_object_id: str = ""  # dotted; empty when the device did not say
    varbinds: int = 0  # values this walk kept (the agent's overshoot past a column's end not counted)
    requests: int = 0  # GETBULK requests this walk sent (retries not counted)
    detail: str = ""

    @property
    def up(self) -> bool:
        return self.reason == "ok"


@dataclass
class _DeviceCache:
    profile: Profile | None = None  # what the latest walk found the device to be; None: not known yet
    sys_object_id: Oid | None = None
    uptime_ticks: int | None = None
    static: dict[str, Columns] = field(default_factory=dict)  # table -> its static columns, latest refresh
    static_profile: str | None = None  # the profile whose tables ``static`` holds
    walks_since_names: int = NAME_REFRESH_CYCLES  # at the limit: the next walk reads the static columns
    indexes: dict[str, frozenset[Index]] = field(default_factory=dict)  # table -> its rows, latest walk
    rows: dict[str, int] = field(default_factory=dict)  # table (and table.static) -> rows last seen
    fallbacks: frozenset[Oid] = frozenset(FALLBACK_COLUMNS)  # interface fallback columns still needed
    counters: dict[tuple[int, str], CounterState] = field(default_factory=dict)  # 32-bit counters extended
    walked_at: float | None = None  # time.monotonic() of the latest complete walk


class SNMPWalker:
    """Walks devices through one SNMP client; keeps what it learnt of each device between walks."""

    def __init__(self, max_repetitions: int = 25) -> None:
        self.client = SNMPClient()
        self.max_repetitions = max_repetitions  # rows asked first of a table whose size is not known yet
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
        settings = device.snmp
        forced = settings.profile if settings else None
        session = _Session(
            self.client,
            device.address,
            auth,
            settings.context if settings else "",
            timeout,
            retries,
            cache.rows,
            self.max_repetitions,
        )
        try:
            if cache.profile is None or (forced and cache.profile.name != forced):
                # Not known yet: the scalars first, so the vendor's tables are in the first walk.
                await session.read_scalars(SCALARS)
                profile = _identify(cache, session.scalars, forced)
                columns = await _walk_tables(session, cache, profile)
            else:
                # Known: the scalars ride with the first request of the interfaces. A device found
                # rebooted or replaced is walked again at once, with its names (and its new profile).
                columns = await _walk_tables(session, cache, cache.profile, SCALARS)
                profile = _identify(cache, session.scalars, forced)
                if cache.walks_since_names >= NAME_REFRESH_CYCLES or profile is not cache.profile:
                    columns = await _walk_tables(session, cache, profile)
        except SNMPFailure as failure:
            return SNMPResult(device.id, failure.reason, time.monotonic() - started, detail=str(failure))
        cache.profile = profile
        elapsed = None if cache.walked_at is None else started - cache.walked_at
        interfaces, cache.counters = extend_counters(
            interfaces_from_columns(columns, device), cache.counters, elapsed
        )
        cache.walked_at = started
        figures = device_figures(profile, columns)
        uptime = cache.uptime_ticks
        return SNMPResult(
            device=device.id,
            reason="ok",
            duration=time.monotonic() - started,
            uptime_seconds=None if uptime is None else uptime / 100,
            interfaces=interfaces,
            cpu_ratio=figures.cpu_ratio,
            memory_ratio=figures.memory_ratio,
            temperatures=figures.temperatures,
            profile=profile.name,
            profile_chosen_by="inventory" if forced else "sysObjectID",
            sys_object_id=".".join(map(str, cache.sys_object_id)) if cache.sys_object_id else "",
            varbinds=session.varbinds,
            requests=session.requests,
        )


def _identify(cache: _DeviceCache, scalars: dict[Oid, object], forced: str | None) -> Profile:
    """The device's profile by what it says now; a reboot (sysUpTime went back) makes the names due."""
    sys_object_id = _typed(scalars.get(SYS_OBJECT_ID), tuple)
    uptime = _typed(scalars.get(SYS_UPTIME), int)
    if uptime is not None and cache.uptime_ticks is not None and uptime < cache.uptime_ticks:
        cache.walks_since_names = NAME_REFRESH_CYCLES  # interfaces may be renumbered
        cache.counters = {}
    cache.sys_object_id, cache.uptime_ticks = sys_object_id, uptime
    return profile_for(sys_object_id, forced)


def _typed(value: object, kind: type) -> object:
    """``value`` if the agent sent it as the type the object has, else None (absent)."""
    return value if isinstance(value, kind) else None


async def _walk_tables(
    session: _Session, cache: _DeviceCache, profile: Profile, scalars: Sequence[Oid] = ()
) -> Columns:
    """Every table of the interfaces and the profile, the static columns too when they are due (or when
    a table's rows changed since the last walk): all the columns of the device, changing and static.
    ``scalars`` go with the interfaces' first request (into ``session.scalars``)."""
    tables = (INTERFACES, *profile.tables)
    refresh = cache.walks_since_names >= NAME_REFRESH_CYCLES or cache.static_profile != profile.name
    fallbacks = tuple(sorted(FALLBACK_COLUMNS if refresh else cache.fallbacks))

    async def walk_static() -> None:
        with_static = [t for t in tables if t.static]
        walked = await _all(*(session.walk(f"{t.name}.static", t.static) for t in with_static))
        cache.static = {t.name: columns for t, columns in zip(with_static, walked, strict=True)}
        cache.static_profile = profile.name
        cache.walks_since_names = 0

    # A table the device did not have (no rows last time) is looked for again only with the static columns
    # or while the agent warms up; the interfaces always (they carry the scalars).
    look_again = refresh or (cache.uptime_ticks is not None and cache.uptime_ticks < AGENT_WARM_UP_TICKS)
    changing = [
        t for t in tables if t is INTERFACES or (t.columns and (look_again or cache.rows.get(t.name) != 0))
    ]
    walked = await _all(
        *(
            session.walk(t.name, t.columns + fallbacks, scalars)
            if t is INTERFACES
            else session.walk(t.name, t.columns)
            for t in changing
        ),
        *((walk_static(),) if refresh else ()),
    )
    indexes = {
        t.name: frozenset(index for column in t.columns for index in table[column])
        for t, table in zip(changing, walked, strict=False)
    }
    if not refresh and any(
        t.static and t.name in cache.indexes and indexes[t.name] != cache.indexes[t.name] for t in changing
    ):
        await walk_static()  # rows came or went: their names must be read again
    columns: Columns = {}
    for table in (*walked[: len(changing)], *(cache.static.get(t.name, {}) for t in tables)):
        columns.update(table)
    cache.indexes = indexes
    cache.fallbacks = fallbacks_needed(columns)
    cache.walks_since_names += 1
    return columns


async def _all(*steps: Awaitable) -> list:
    """Run the steps at once; the first failure cancels the others (a timed-out agent is not asked on)."""
    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(step) for step in steps]
    except BaseExceptionGroup as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]


class _Session:
    """The requests of one walk of one device."""

    def __init__(
        self,
        client: SNMPClient,
        address: str,
        auth: SNMPAuth,
        context: str,
        timeout: float,
        retries: int,
        rows: dict[str, int],
        first_repetitions: int,
    ) -> None:
        self.client = client
        self.address = address
        self.auth = auth
        self.context = context.encode()
        self.timeout = timeout
        self.retries = retries
        self.rows = rows  # the device's table sizes: read to size requests, updated as rows arrive
        self.first_repetitions = first_repetitions
        self.varbinds = 0
        self.requests = 0
        self.in_flight = asyncio.Semaphore(REQUESTS_IN_FLIGHT)
        self.scalars: dict[Oid, object] = {}  # the ``.0`` instance of each scalar asked that the agent has

    async def _get_bulk(self, oids: Sequence[Oid], non_repeaters: int, repetitions: int) -> list:
        self.requests += 1
        async with self.in_flight:
            return await self.client.get_bulk(
                self.address,
                self.auth,
                oids,
                non_repeaters,
                repetitions,
                self.timeout,
                self.retries,
                context=self.context,
            )

    async def read_scalars(self, oids: Sequence[Oid]) -> None:
        """Ask the scalars alone: non-repeaters of one GETBULK."""
        self._keep_scalars(oids, await self._get_bulk(oids, len(oids), 0))

    def _keep_scalars(self, oids: Sequence[Oid], varbinds: Sequence) -> None:
        for (name, value), oid in zip(varbinds, oids, strict=False):
            if name == (*oid, 0) and not isinstance(value, VarBindException):
                self.scalars[oid] = value
                self.varbinds += 1

    def _repetitions(self, expected: int | None, fetched: int, width: int) -> int:
        """Rows to ask for next: the rest of what the table had last time plus one (to see its end); for a
        table never seen, or grown past that, as many as fetched so far (at least the first request's
        size), so requests grow with the table. Never more than ``MAX_VARBINDS_PER_REQUEST`` varbinds."""
        wanted = expected + 1 - fetched if expected is not None and fetched <= expected else None
        if wanted is None:
            wanted = max(self.first_repetitions, fetched)
        return max(1, min(wanted, MAX_VARBINDS_PER_REQUEST // width))

    async def walk(self, key: str, columns: Sequence[Oid], scalars: Sequence[Oid] = ()) -> Columns:
        """GETBULK every column of one table together until all of them end (and ``scalars``, as
        non-repeaters of the first request).

        Agents cap a response (pysnmp at 64 varbinds, net-snmp at about 100), so a table takes several
        requests; each asks only for the rows still expected. The rows fetched are recorded under ``key``
        as they come, so a walk cut short still sizes the next one.
        """
        table: Columns = {column: {} for column in columns}
        cursor = {column: column for column in columns}
        active = list(columns)
        expected, fetched = self.rows.get(key), 0
        while active:
            repetitions = self._repetitions(expected, fetched, len(active))
            repeated = await self._get_bulk(
                [*scalars, *(cursor[c] for c in active)], len(scalars), repetitions
            )
            self._keep_scalars(scalars, repeated[: len(scalars)])
            repeated, scalars = repeated[len(scalars) :], ()
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
                table[column][name[len(column) :]] = value
                cursor[column] = name
                self.varbinds += 1
            if not repeated:
                finished.update(active)
            active = [c for c in active if c not in finished]
            fetched = max((len(rows) for rows in table.values()), default=0)
            self.rows[key] = max(fetched, self.rows.get(key, 0)) if active else fetched
        return table
