"""Hostile and careless inventory files are refused with one clean line, never a crash, a hang or a
memory blow-up: what ``batiknet.yamlfile`` and the inventory parser refuse, and why (docs/inventory.md)."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from batiknet import yamlfile
from batiknet.inventory import InventoryError, load_inventory
from batiknet.yamlfile import MAX_BYTES, MAX_DEPTH, MAX_VALUES

pytestmark = pytest.mark.usefixtures("yaml_parser")  # each refusal holds with either YAML parser
ROOT = Path(__file__).resolve().parent.parent
CORE = "devices: [{id: core, name: Core, kind: router, address: 192.0.2.1}]\n"
OPD = "opds: [{id: setda, name: Setda, kecamatan: Barat, address: 198.51.100.2, upstream: core}]\n"


def write(tmp_path: Path, content: str | bytes) -> Path:
    path = tmp_path / "inventory.yml"
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)
    return path


def refusal(tmp_path: Path, content: str | bytes) -> str:
    with pytest.raises(InventoryError) as caught:
        load_inventory(write(tmp_path, content))
    message = str(caught.value)
    assert "\n" not in message and len(message) < 300, message
    assert message.startswith("inventory.yml: "), message
    return message


def test_a_plain_inventory_still_loads(tmp_path):
    inventory = load_inventory(write(tmp_path, "version: 1\n" + CORE + OPD))
    assert [t.id for t in inventory.targets()] == ["core", "setda"]


@pytest.mark.parametrize("content", ["", "version: 1\n", "version: 1\nopds: []\ndevices: []\n"])
def test_an_inventory_without_targets_is_refused(tmp_path, content):
    assert "lists no targets" in refusal(tmp_path, content)


def test_bytes_that_are_not_utf8_are_refused_with_their_place(tmp_path):
    message = refusal(tmp_path, b"version: 1\nnetwork: {name: Batik\xff}\n" + CORE.encode())
    assert message == "inventory.yml: not UTF-8: byte 0xff at line 2, column 22"


def test_deep_nesting_is_refused(tmp_path):
    message = refusal(tmp_path, "version: 1\nnetwork: " + "[" * 5000 + "]" * 5000 + "\n" + CORE)
    assert f"nested deeper than {MAX_DEPTH} levels" in message
    assert "line 2" in message


@pytest.mark.parametrize(
    "number", ["9" * 5000, str(2**64), str(-(2**63) - 1), "0x" + "f" * 17, "1" + ":59" * 40]
)
def test_integers_out_of_range_are_refused(tmp_path, number):
    message = refusal(tmp_path, f"version: 1\ndefaults: {{icmp: {{count: {number}}}}}\n" + CORE)
    assert "integer out of range" in message and "line 2" in message


@pytest.mark.parametrize("number", [".inf", "-.inf", ".nan", "1.0e+999"])
def test_numbers_that_are_not_finite_are_refused(tmp_path, number):
    message = refusal(tmp_path, f"version: 1\ndefaults: {{icmp: {{interval: {number}}}}}\n" + CORE)
    assert "not a finite number" in message


@pytest.mark.parametrize(
    ("escaped", "shown"),
    [
        ("\\ud800", "U+D800"),
        ("\\udfff", "U+DFFF"),
        ("\\x00", "U+0000"),
        ("\\e[31m", "U+001B"),
        ("\\x85", "U+0085"),
        ("line\\nbreak", "U+000A"),
        ("tab\\there", "U+0009"),
        ("\\u2028", "U+2028"),
        ("evil\\u202egnp.exe", "U+202E"),
    ],
)
def test_lone_surrogates_and_control_characters_in_strings_are_refused(tmp_path, escaped, shown):
    document = (
        f'version: 1\ndevices: [{{id: core, name: "Core{escaped}", kind: router, address: 192.0.2.1}}]\n'
    )
    message = refusal(tmp_path, document)
    assert shown in message and "line 2" in message


def test_an_escape_beyond_the_last_code_point_is_refused(tmp_path):
    # PyYAML's own parser let chr()'s ValueError out of load_inventory: a traceback, not a refusal.
    message = refusal(tmp_path, 'version: 1\nnetwork: {name: "\\U00110000"}\n' + CORE)
    assert message == (
        "inventory.yml: not valid YAML: line 2, column 20: while scanning a double-quoted scalar: "
        "found an escape beyond U+10FFFF, the last Unicode character"
    )


def test_control_characters_in_keys_are_refused_too(tmp_path):
    assert "U+0007" in refusal(tmp_path, 'version: 1\n"na\\ame": x\n' + CORE)


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path):
    levels = ["lol: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]"]
    levels += [f"l{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]" for i in range(1, 9)]
    # Under 1 KB; expanded, 387 million strings. Put where a string belongs, it used to be str()-ed whole.
    bomb = "version: 1\nnetwork:\n  name: {" + ", ".join(levels) + "}\n" + CORE
    assert len(bomb) < 1024
    message = refusal(tmp_path, bomb)
    assert f"more than {MAX_VALUES} values" in message


def test_aliases_that_share_a_value_are_accepted(tmp_path):
    shared = (
        "version: 1\n"
        "devices:\n"
        "  - {id: core, name: Core, kind: router, address: 192.0.2.1,\n"
        "     snmp: &snmp {version: 2c, community: {env: COMMUNITY}}}\n"
        "  - {id: sw, name: Switch, kind: switch, address: 192.0.2.2, upstream: core, snmp: *snmp}\n"
    )
    inventory = load_inventory(write(tmp_path, shared))
    assert inventory.devices[1].snmp == inventory.devices[0].snmp


def test_a_recursive_alias_is_refused(tmp_path):
    assert "refers to a value that contains it" in refusal(
        tmp_path, "version: 1\nnetwork: &n {x: *n}\n" + CORE
    )


def test_too_many_values_are_refused_even_without_aliases(tmp_path, monkeypatch):
    # The count is what is tested, not the figure: with a limit of 2,000 it takes milliseconds, not the
    # 20 s that 200,000 values take to parse.
    monkeypatch.setattr(yamlfile, "MAX_VALUES", 2_000)
    many = "version: 1\nnetwork: {name: [" + "1," * 2_000 + "1]}\n" + CORE
    assert "more than 2000 values" in refusal(tmp_path, many)
    assert "more than" not in refusal(
        tmp_path, "version: 1\nnetwork: {name: [" + "1," * 1_900 + "1]}\n" + CORE
    )


def test_duplicate_keys_are_refused(tmp_path):
    message = refusal(
        tmp_path, "version: 1\ndevices: [{id: core, name: A, kind: router, name: B, address: 192.0.2.1}]\n"
    )
    assert message == "inventory.yml: line 2, column 45: duplicate key 'name' (first at line 2, column 22)"


@pytest.mark.parametrize("document", ["? [a]\n: b\n", "? {a: b}\n: c\n", "!!map :\n", "!!seq : x\n"])
def test_keys_that_are_lists_or_mappings_are_refused(tmp_path, document):
    assert "a key must be a plain value" in refusal(tmp_path, document)


@pytest.mark.parametrize("key", ["~", "1", "true", "null"])
def test_keys_that_are_not_strings_are_unknown_fields(tmp_path, key):
    assert "unknown field" in refusal(tmp_path, f"{key} : x\nicmp: 1\n" + CORE)


def test_merge_keys_are_refused(tmp_path):
    document = (
        "version: 1\ndevices:\n  - &core {id: core, name: Core, kind: router, address: 192.0.2.1}\n"
        "  - {<<: *core, id: core-2, address: 192.0.2.2}\n"
    )
    assert "merge key" in refusal(tmp_path, document)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("!!binary aGVsbG8=", "tag !!binary is not accepted"),
        ("!!set {a, b}", "tag !!set is not accepted"),
        ("!!python/object:os.system {}", "tag !!python/object:os.system is not accepted"),
        ("!custom x", "tag !custom is not accepted"),
        ("2024-01-01", "'2024-01-01' would be read as a date"),
    ],
)
def test_values_other_than_plain_data_are_refused(tmp_path, value, expected):
    assert expected in refusal(tmp_path, f"version: 1\nnetwork: {{name: {value}}}\n" + CORE)


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("version: true\n" + CORE, "version: unsupported version True"),
        (
            "version: 1\n"
            + CORE
            + "dns_servers: [{id: d, name: D, address: 192.0.2.3, port: true, checks: [{name: x}]}]\n",
            "port must be a whole number from 1 to 65535, not True",
        ),
        (
            "version: 1\ndevices: [{id: core, name: C, kind: router, address: 192.0.2.1,"
            " snmp: {version: 2c, community: {env: C}, port: yes}}]\n",
            "port must be a whole number from 1 to 65535, not True",
        ),
        ("version: 1\ndefaults: {icmp: {count: on}}\n" + CORE, "count must be a whole number"),
        ("version: 1\nopds: false\n" + CORE, "opds: must be a list"),
        ("version: 1\nnetwork: {name: true}\n" + CORE, "network: name must be a string"),
    ],
)
def test_booleans_and_numbers_where_they_do_not_belong_are_refused(tmp_path, document, expected):
    assert expected in refusal(tmp_path, document)


def test_a_huge_interval_is_refused(tmp_path):
    message = refusal(tmp_path, "version: 1\ndefaults: {icmp: {interval: 9223372036854775807}}\n" + CORE)
    assert "interval must be at most 24h" in message


def test_a_container_where_a_value_belongs_is_named_not_printed(tmp_path):
    message = refusal(tmp_path, "version: 1\ndefaults: {icmp: {count: [" + "1, " * 5000 + "1]}}\n" + CORE)
    assert "count must be a whole number from 1 to 100, not a list" in message


def test_a_file_over_the_size_limit_is_refused_unread(tmp_path):
    big = "version: 1\n" + CORE + "#" * MAX_BYTES + "\n"
    assert refusal(tmp_path, big) == f"inventory.yml: larger than {MAX_BYTES // 1024 // 1024} MiB"


def test_a_fifo_is_refused_without_waiting_for_a_writer(tmp_path):
    fifo = tmp_path / "inventory.yml"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    reader = threading.Thread(target=lambda: outcome.append(_error_of(fifo)), daemon=True)
    reader.start()
    reader.join(timeout=30)
    if reader.is_alive():  # free the blocked reader before failing
        with open(fifo, "w"):
            pass
        pytest.fail("load_inventory blocked on a FIFO")
    assert "not a regular file" in str(outcome[0])


def _error_of(path: Path) -> BaseException:
    try:
        load_inventory(path)
    except BaseException as error:
        return error
    raise AssertionError("a FIFO was accepted as an inventory")


def test_yaml_syntax_errors_are_one_line_with_their_place(tmp_path):
    message = refusal(tmp_path, "version: 1\nopds: [this is: not, valid\n")
    assert message.startswith("inventory.yml: not valid YAML: ")
    assert "line 3, column 1" in message


def test_a_raw_control_character_in_the_file_is_one_line_too(tmp_path):
    message = refusal(tmp_path, b"version: 1\nnetwork: {name: a\x07b}\n" + CORE.encode())
    assert message.startswith("inventory.yml: not valid YAML: ") and "#x0007" in message


def test_the_shipped_inventories_stay_well_inside_the_limits():
    for path in (ROOT / "examples" / "inventory.yml", ROOT / "lab" / "inventory.yml"):
        assert path.stat().st_size < MAX_BYTES / 100
        assert load_inventory(path).opds
