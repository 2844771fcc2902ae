"""The YAML of an inventory is parsed by libyaml (in C, from PyYAML's wheels) and composed and checked in
Python; where libyaml refuses a file, PyYAML's own parser reads it again so that the refusal says what
it always said. These tests hold the two parsers to one behaviour (docs/inventory.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from batiknet import yamlfile
from batiknet.yamlfile import YAMLFileError, load_yaml_file
from tests.fuzzing import FUZZ, dumped, kept_targets, replaced_part

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = (ROOT / "examples" / "inventory.yml", ROOT / "lab" / "inventory.yml")
CORE = "devices: [{id: core, name: Core, kind: router, address: 192.0.2.1}]\n"


def outcome(path: Path) -> object:
    """The data of a file, or the message of its refusal."""
    try:
        return load_yaml_file(path)
    except YAMLFileError as error:
        return str(error)


def outcomes(path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[object, object]:
    """What the default loader and the pure-Python one make of a file."""
    with_libyaml = outcome(path)
    with monkeypatch.context() as patched:
        patched.setattr(yamlfile, "LIBYAML_LOADER", None)
        return with_libyaml, outcome(path)


def test_pyyaml_brings_libyaml():
    # The wheels of PyYAML on PyPI carry it; without it every load takes four times the CPU.
    assert yaml.__with_libyaml__
    assert yamlfile.LIBYAML_LOADER is not None


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_a_valid_file_is_parsed_by_libyaml_alone(path, monkeypatch):
    def python_parser(text: str, name: str) -> None:
        raise AssertionError("PyYAML's Python parser ran on a valid file")

    monkeypatch.setattr(yamlfile, "_PythonLoader", python_parser)
    assert load_yaml_file(path)["opds"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.parent.name)
def test_the_shipped_inventories_load_alike_with_either_parser(path, monkeypatch):
    with_libyaml, in_python = outcomes(path, monkeypatch)
    assert with_libyaml == in_python


@pytest.mark.parametrize(
    "content",
    [
        "version: 1\nopds: [this is: not, valid\n",  # libyaml and PyYAML word syntax errors differently
        "version: 1\nnetwork: " + "[" * 5000 + "]" * 5000 + "\n" + CORE,  # libyaml's own bound of 1,000
        'version: 1\nnetwork: {name: "Core\\ud800"}\n' + CORE,  # libyaml refuses the escape itself
        'version: 1\nnetwork: {name: "\\U00110000"}\n' + CORE,
        "version: 1\nnetwork: {name: a\x07b}\n" + CORE,  # libyaml's reader places it by byte offset
        "version: 1\nnetwork: {name: \u00e9\u00e9\x07b}\n" + CORE,
        "version: 1\n\tnetwork: {}\n" + CORE,
        "version: 1\nnetwork: &n {x: *n}\n" + CORE,
        "version: 1\ndevices: [{id: core, name: A, kind: router, name: B, address: 192.0.2.1}]\n",
    ],
)
def test_a_refusal_reads_the_same_with_either_parser(tmp_path, monkeypatch, content):
    path = tmp_path / "inventory.yml"
    path.write_bytes(content.encode("utf-8"))
    with_libyaml, in_python = outcomes(path, monkeypatch)
    assert isinstance(with_libyaml, str), with_libyaml
    assert with_libyaml == in_python


def test_deep_nesting_on_one_line_is_placed_where_it_passes_the_bound(tmp_path):
    # libyaml alone stops at its 1,000th level (column 1009); the refusal names the 33rd.
    path = tmp_path / "inventory.yml"
    path.write_text("version: 1\nnetwork: " + "[" * 5000 + "]" * 5000 + "\n" + CORE, encoding="utf-8")
    assert outcome(path) == "inventory.yml: line 2, column 41: nested deeper than 32 levels"


@FUZZ
@given(content=st.one_of(replaced_part().map(dumped), kept_targets()))
def test_both_parsers_load_what_pyyaml_writes_alike(tmp_path, monkeypatch, content):
    # Any value, key or entry, written as PyYAML writes it (escapes, quoting, flow and block styles):
    # the same data, or the same refusal in the same words at the same place.
    path = tmp_path / "inventory.yml"
    path.write_bytes(content)
    with_libyaml, in_python = outcomes(path, monkeypatch)
    assert with_libyaml == in_python
