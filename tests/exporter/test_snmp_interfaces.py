"""The pure IF-MIB reading: labels, counters and their width, speeds, fallback columns, 32-bit wraps."""

from __future__ import annotations

from batiknet.inventory import InterfaceSelection
from exporter.probes import snmp_interfaces as ifmib
from exporter.probes.snmp_interfaces import CounterState, Interface, extend_counters, speed_bits
from exporter.probes.snmp_text import label_text, unique_names

from .fakes import inventory


def device(include=(".*",), exclude=()):
    base = inventory().target("core")
    return type(base)(**{**base.__dict__, "interfaces": InterfaceSelection(tuple(include), tuple(exclude))})


def rows(**columns: dict[int, object]) -> dict:
    """IF-MIB columns by their name in snmp_interfaces (``IF_OPER_STATUS``...), rows by ifIndex."""
    return {
        getattr(ifmib, name): {(index,): value for index, value in values.items()}
        for name, values in columns.items()
    }


def test_labels_never_carry_nul_control_characters_or_invalid_utf8():
    assert label_text(b"MS TCP Loopback interface\x00") == "MS TCP Loopback interface"
    assert label_text(b"  ether1 \x00\x00 ") == "ether1"
    assert label_text(b"to\tOPD\x07x") == "to\ufffdOPD\ufffdx"
    assert label_text(b"Dinas Kesehatan") == "Dinas Kesehatan"
    assert label_text(b"\xc9\xcf\xc1\xaa core") == "\ufffd" * 4 + " core"  # GB2312, not UTF-8
    assert label_text("Jl. Pemuda – lantai 2".encode()) == "Jl. Pemuda – lantai 2"


def test_repeated_names_get_their_own_index():
    assert unique_names({(1,): "a", (2,): "b", (3,): "a"}, lambda index: index) == {
        (1,): "a#1",
        (2,): "b",
        (3,): "a#3",
    }


def test_interfaces_take_what_each_row_has():
    columns = rows(
        IF_OPER_STATUS={1: 1, 2: 2, 3: 1, 4: 1, 5: 1},
        IF_ADMIN_STATUS={1: 1, 2: 1, 3: 1, 4: 2, 5: 1},
        IF_HC_IN_OCTETS={1: 2**40, 2: 5},
        IF_HC_OUT_OCTETS={1: 2**41},
        IF_IN_OCTETS={1: 99, 2: 98, 3: 7},
        IF_OUT_OCTETS={2: 12, 3: 8},
        IF_IN_ERRORS={1: 3},
        IF_HIGH_SPEED={1: 1000, 2: 100},
        IF_NAME={1: b"ether1", 2: b"ether2", 3: b"", 4: b"vlan", 5: b"vlan"},
        IF_DESCR={3: b"Serial0/0\x00"},
        IF_ALIAS={1: b"uplink Telkom"},
    )
    by_name = {i.name: i for i in ifmib.interfaces_from_columns(columns, device())}
    assert set(by_name) == {"ether1", "ether2", "Serial0/0", "vlan#4", "vlan#5"}
    ether1, ether2, serial = by_name["ether1"], by_name["ether2"], by_name["Serial0/0"]
    assert (ether1.receive_bytes, ether1.transmit_bytes, ether1.counter_bits) == (2**40, 2**41, 64)
    assert (ether2.receive_bytes, ether2.transmit_bytes, ether2.counter_bits) == (5, 12, 32)  # no HC out
    assert (serial.receive_bytes, serial.transmit_bytes, serial.counter_bits) == (7, 8, 32)
    assert (ether1.receive_errors, ether1.transmit_errors, ether2.receive_errors) == (3, None, None)
    assert (ether1.speed_bytes_per_second, serial.speed_bytes_per_second) == (125e6, None)
    assert by_name["vlan#4"].counter_bits is None and by_name["vlan#4"].receive_bytes is None
    assert (ether1.alias, ether2.alias) == ("uplink Telkom", "")
    assert (ether2.oper_up, ether2.admin_up, by_name["vlan#4"].admin_up) == (False, True, False)


def test_selection_is_by_the_agents_name_and_keeps_the_unique_names():
    columns = rows(IF_OPER_STATUS={1: 1, 2: 1, 3: 1}, IF_NAME={1: b"ether1", 2: b"vlan", 3: b"vlan"})
    selected = ifmib.interfaces_from_columns(columns, device(exclude=("^ether",)))
    assert [i.name for i in selected] == ["vlan#2", "vlan#3"]


def test_a_row_without_a_status_column_has_no_status():
    interface = ifmib.interfaces_from_columns(rows(IF_HC_IN_OCTETS={9: 1}), device())[0]
    assert (interface.name, interface.oper_up, interface.admin_up) == ("if9", None, None)


def test_speed_is_ifspeed_where_exact_else_ifhighspeed():
    assert speed_bits(1_000_000_000, 1000) == 1_000_000_000
    assert speed_bits(2_048_000, 2) == 2_048_000  # an E1: ifHighSpeed rounds
    assert speed_bits(64_000, 0) == 64_000  # under 1 Mbit/s ifHighSpeed says 0
    assert speed_bits(4_294_967_295, 10_000) == 10_000_000_000  # ifSpeed at its ceiling
    assert speed_bits(1_410_065_408, 10_000) == 10_000_000_000  # 10 Gbit/s wrapped into 32 bits by the agent
    assert speed_bits(100_000_000, None) == 100_000_000  # no ifHighSpeed
    assert speed_bits(None, 40_000) == 40_000_000_000  # no ifSpeed
    assert speed_bits(0, 0) is None and speed_bits(None, None) is None  # no concept of bandwidth
    assert speed_bits(4_294_967_295, None) is None  # "at least 4.29 Gbit/s" is not a speed


def test_fallback_columns_are_needed_only_where_a_row_lacks_its_better_column():
    complete = rows(
        IF_OPER_STATUS={1: 1}, IF_HC_IN_OCTETS={1: 1}, IF_HC_OUT_OCTETS={1: 1}, IF_HIGH_SPEED={1: 1000}
    )
    assert ifmib.fallbacks_needed(complete) == frozenset()
    assert ifmib.fallbacks_needed({**complete, **rows(IF_SPEED={1: 1_000_000_000})}) == frozenset()
    assert ifmib.fallbacks_needed({**complete, **rows(IF_OPER_STATUS={1: 1, 2: 1})}) == frozenset(
        ifmib.FALLBACK_COLUMNS
    )  # row 2 has no HC counters and no ifHighSpeed
    e1 = {**complete, **rows(IF_HIGH_SPEED={1: 2}, IF_SPEED={1: 2_048_000})}
    assert ifmib.fallbacks_needed(e1) == {ifmib.IF_SPEED}


def counted(index: int, raw: int, speed: float | None = 1.25e6, bits: int = 32) -> Interface:
    return Interface(
        index=index,
        name=f"if{index}",
        alias="",
        receive_bytes=raw,
        receive_counter_bits=bits,
        speed_bytes_per_second=speed,
    )


def test_32_bit_counters_are_carried_past_their_wraps():
    key = (1, "receive")
    first, state = extend_counters((counted(1, 4_000_000_000),), {}, None)
    assert first[0].receive_bytes == 4_000_000_000  # the device's own value, first time
    # 60 s later the counter reads 5 MB: a wrap would mean 2**32 - 4e9 + 5e6 = about 300 MB in a minute,
    # more than a 10 Mbit/s link carries (75 MB): so it was reset, and restarts at the device's value.
    reset, _ = extend_counters((counted(1, 5_000_000),), state, 60.0)
    assert reset[0].receive_bytes == 5_000_000
    # On a 100 Mbit/s link (750 MB a minute) the same drop is a wrap.
    wrapped, after = extend_counters((counted(1, 5_000_000, speed=12.5e6),), state, 60.0)
    assert wrapped[0].receive_bytes == 4_000_000_000 + (2**32 - 4_000_000_000) + 5_000_000
    assert after[key] == CounterState(5_000_000, wrapped[0].receive_bytes)
    grown, _ = extend_counters((counted(1, 6_000_000, speed=12.5e6),), after, 60.0)
    assert grown[0].receive_bytes == wrapped[0].receive_bytes + 1_000_000


def test_64_bit_counters_pass_through_and_a_speedless_drop_is_a_reset():
    wide, state = extend_counters((counted(1, 2**40, bits=64),), {}, None)
    assert wide[0].receive_bytes == 2**40 and state == {}
    _, state = extend_counters((counted(1, 10, speed=None),), {}, None)
    dropped, _ = extend_counters((counted(1, 5, speed=None),), state, 60.0)
    assert dropped[0].receive_bytes == 5
