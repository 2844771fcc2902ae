"""IF-MIB rows as interfaces, each figure right or absent, row by row.

Real agents leave columns out: no ifXTable at all (Windows, old switches), ifXTable rows without the 64-bit
counters (some Cisco and Brocade releases), no ifHighSpeed, rows with no counter at all (stack
sub-interfaces). Each row takes what it has: the 64-bit counters, else the 32-bit ones (and says which);
ifSpeed where it is exact, else ifHighSpeed; nothing where the row has nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple

from batiknet.inventory import Device
from exporter.probes.snmp_profiles import Columns, Index, Table, parse_oid
from exporter.probes.snmp_text import label_text, unique_names

__all__ = [
    "FALLBACK_COLUMNS",
    "INTERFACES",
    "CounterState",
    "Interface",
    "extend_counters",
    "fallbacks_needed",
    "interfaces_from_columns",
]

# ifTable 1.3.6.1.2.1.2.2.1 and ifXTable 1.3.6.1.2.1.31.1.1.1 (RFC 2863).
IF_DESCR = parse_oid("1.3.6.1.2.1.2.2.1.2")
IF_SPEED = parse_oid("1.3.6.1.2.1.2.2.1.5")
IF_ADMIN_STATUS = parse_oid("1.3.6.1.2.1.2.2.1.7")
IF_OPER_STATUS = parse_oid("1.3.6.1.2.1.2.2.1.8")
IF_IN_OCTETS = parse_oid("1.3.6.1.2.1.2.2.1.10")
IF_IN_ERRORS = parse_oid("1.3.6.1.2.1.2.2.1.14")
IF_OUT_OCTETS = parse_oid("1.3.6.1.2.1.2.2.1.16")
IF_OUT_ERRORS = parse_oid("1.3.6.1.2.1.2.2.1.20")
IF_NAME = parse_oid("1.3.6.1.2.1.31.1.1.1.1")
IF_HC_IN_OCTETS = parse_oid("1.3.6.1.2.1.31.1.1.1.6")
IF_HC_OUT_OCTETS = parse_oid("1.3.6.1.2.1.31.1.1.1.10")
IF_HIGH_SPEED = parse_oid("1.3.6.1.2.1.31.1.1.1.15")
IF_ALIAS = parse_oid("1.3.6.1.2.1.31.1.1.1.18")

# ifTable and ifXTable share their rows (ifIndex), so they are walked as one table.
INTERFACES = Table(
    "interfaces",
    (
        IF_ADMIN_STATUS,
        IF_OPER_STATUS,
        IF_IN_ERRORS,
        IF_OUT_ERRORS,
        IF_HC_IN_OCTETS,
        IF_HC_OUT_OCTETS,
        IF_HIGH_SPEED,
    ),
    (IF_NAME, IF_ALIAS, IF_DESCR),
)
# Read on every full walk (with the names), and in between only while some row needs them.
FALLBACK_COLUMNS = (IF_IN_OCTETS, IF_OUT_OCTETS, IF_SPEED)
UP = 1  # ifAdminStatus and ifOperStatus up(1)
GAUGE32_MAX = 2**32 - 1  # ifSpeed says this for any link at least that fast
COUNTER32 = 2**32
WRAP_SLACK = 1.25  # the link may carry up to this much more than its speed × the time between two walks


class Interface(NamedTuple):  # a tuple: a switch has thousands, built anew on every walk
    index: int  # ifIndex
    name: str
    alias: str
    oper_up: bool | None = None
    admin_up: bool | None = None
    receive_bytes: int | None = None
    transmit_bytes: int | None = None
    receive_counter_bits: int | None = None  # 64 (ifHCInOctets) or 32 (ifInOctets)
    transmit_counter_bits: int | None = None
    receive_errors: int | None = None
    transmit_errors: int | None = None
    speed_bytes_per_second: float | None = None

    @property
    def counter_bits(self) -> int | None:
        """The narrower of the two counters (what a rule must allow for), None for a row without any."""
        widths = [bits for bits in (self.receive_counter_bits, self.transmit_counter_bits) if bits]
        return min(widths) if widths else None


def _whole(column: Mapping[Index, object], index: Index) -> int | None:
    value = column.get(index)
    return value if isinstance(value, int) else None


def _whole_numbers(column: Mapping[Index, object]) -> dict[Index, int]:
    """The rows of a column that hold a whole number (an agent may send anything)."""
    return {index: value for index, value in column.items() if isinstance(value, int)}


def speed_bits(if_speed: int | None, if_high_speed: int | None) -> int | None:
    """The link speed in bit/s: ifSpeed where it is exact (below its 4,294,967,295 ceiling and within the
    rounding of ifHighSpeed, or under 1 Mbit/s where ifHighSpeed says 0), else ifHighSpeed × 10⁶; absent
    where neither says a speed (0: "no concept of bandwidth")."""
    exact = if_speed is not None and 0 < if_speed < GAUGE32_MAX
    if exact and (if_high_speed is None or round(if_speed / 1e6) == if_high_speed):
        return if_speed
    if if_high_speed:
        return if_high_speed * 1_000_000
    return if_speed if exact else None


def _counter(wide: int | None, narrow: int | None) -> tuple[int | None, int | None]:
    return (wide, 64) if wide is not None else (narrow, 32) if narrow is not None else (None, None)


def interfaces_from_columns(columns: Columns, device: Device) -> tuple[Interface, ...]:
    """The rows of the IF-MIB columns (changing and static together) as interfaces, only those the device's
    selection wants. The interface label is ifName (ifDescr when empty, ``if<ifIndex>`` when both are);
    a name the agent repeats gets ``#ifIndex`` appended, so every (device, interface) pair is unique."""
    changing = (*INTERFACES.columns, *FALLBACK_COLUMNS)
    number = {oid: _whole_numbers(columns.get(oid, {})) for oid in changing}
    rows = sorted({index for oid in changing for index in columns.get(oid, {}) if len(index) == 1})
    names, aliases, descriptions = (columns.get(oid, {}) for oid in (IF_NAME, IF_ALIAS, IF_DESCR))
    agent_names = {
        index: label_text(names.get(index, b""))
        or label_text(descriptions.get(index, b""))
        or f"if{index[0]}"
        for index in rows
    }
    unique = unique_names(agent_names, lambda index: index)
    oper, admin = number[IF_OPER_STATUS], number[IF_ADMIN_STATUS]
    in_errors, out_errors = number[IF_IN_ERRORS], number[IF_OUT_ERRORS]
    speeds, high_speeds = number[IF_SPEED], number[IF_HIGH_SPEED]
    result = []
    for index in rows:
        if not device.interfaces.selects(agent_names[index]):
            continue
        received, receive_bits = _counter(number[IF_HC_IN_OCTETS].get(index), number[IF_IN_OCTETS].get(index))
        sent, transmit_bits = _counter(number[IF_HC_OUT_OCTETS].get(index), number[IF_OUT_OCTETS].get(index))
        status, wanted = oper.get(index), admin.get(index)
        bits = speed_bits(speeds.get(index), high_speeds.get(index))
        result.append(
            Interface(
                index[0],
                unique[index],
                label_text(aliases.get(index, b"")),
                None if status is None else status == UP,
                None if wanted is None else wanted == UP,
                received,
                sent,
                receive_bits,
                transmit_bits,
                in_errors.get(index),
                out_errors.get(index),
                None if bits is None else bits / 8,
            )
        )
    return tuple(result)


def fallbacks_needed(columns: Columns) -> frozenset[tuple[int, ...]]:
    """The fallback columns some row needs: the 32-bit counter of a row without the 64-bit one, ifSpeed of
    a row without ifHighSpeed or whose speed ifSpeed makes more exact (a 2.048 Mbit/s E1 says ifHighSpeed
    2). A column not walked this time is judged by its counterpart alone, which is enough: a column is
    walked again for as long as it was needed."""
    rows = {index for oid in INTERFACES.columns for index in columns.get(oid, {})}
    high_speeds, speeds = columns.get(IF_HIGH_SPEED, {}), columns.get(IF_SPEED, {})
    needed = {
        narrow
        for narrow, wide in ((IF_IN_OCTETS, IF_HC_IN_OCTETS), (IF_OUT_OCTETS, IF_HC_OUT_OCTETS))
        if not rows <= columns.get(wide, {}).keys()
    }
    if not rows <= high_speeds.keys() or any(
        speed_bits(_whole(speeds, index), _whole(high_speeds, index))
        != speed_bits(None, _whole(high_speeds, index))
        for index in speeds.keys() & rows
    ):
        needed.add(IF_SPEED)
    return frozenset(needed)


@dataclass(frozen=True)
class CounterState:
    """A 32-bit counter as last read, and the 64-bit total the exporter has made of it."""

    raw: int
    total: int


def _extended(previous: CounterState | None, raw: int, capacity: float | None) -> CounterState:
    if previous is None:
        return CounterState(raw, raw)
    if raw >= previous.raw:
        return CounterState(raw, previous.total + raw - previous.raw)
    wrapped = raw + COUNTER32 - previous.raw
    if capacity is not None and wrapped <= capacity:
        return CounterState(raw, previous.total + wrapped)
    return CounterState(raw, raw)  # more than the link could carry: the counter was reset, not wrapped


def extend_counters(
    interfaces: tuple[Interface, ...], before: Mapping[tuple[int, str], CounterState], elapsed: float | None
) -> tuple[tuple[Interface, ...], dict[tuple[int, str], CounterState]]:
    """Carry each 32-bit counter on into 64 bits: a counter that went down wrapped round when the bytes that
    implies fit through the link in the ``elapsed`` seconds since the last walk, else it was reset and
    restarts from the device's value. Right as long as the counter wraps at most once between two walks
    (2³² bytes is 34 s at 1 Gbit/s). 64-bit counters pass through as the device says them."""
    after: dict[tuple[int, str], CounterState] = {}
    result = []
    for interface in interfaces:
        if interface.receive_counter_bits != 32 and interface.transmit_counter_bits != 32:
            result.append(interface)
            continue
        capacity = (
            interface.speed_bytes_per_second * elapsed * WRAP_SLACK
            if interface.speed_bytes_per_second and elapsed
            else None
        )
        extended = {}
        for direction, raw, bits in (
            ("receive", interface.receive_bytes, interface.receive_counter_bits),
            ("transmit", interface.transmit_bytes, interface.transmit_counter_bits),
        ):
            if bits == 32 and raw is not None:
                key = (interface.index, direction)
                after[key] = _extended(before.get(key), raw, capacity)
                extended[f"{direction}_bytes"] = after[key].total
        result.append(interface._replace(**extended) if extended else interface)
    return tuple(result), after
