"""Hypothesis strategies for inventory files: raw bytes, YAML assembled from its own syntax (anchors,
aliases, tags, flow and block collections, escapes), and valid inventories with one part replaced by an
arbitrary value. Shared by the loader's fuzz and the exporter's reload fuzz."""

from __future__ import annotations

import copy
from datetime import timedelta
from typing import Any

import yaml
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Bounded so that the whole fuzz runs in seconds. The deadline is no speed target: each example loads a
# few kilobytes in milliseconds, and ten seconds only catch a hang.
FUZZ = settings(
    max_examples=150,
    deadline=timedelta(seconds=10),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

VALID = {
    "version": 1,
    "network": {"name": "Batik.Net", "timezone": "Asia/Jakarta"},
    "defaults": {"icmp": {"interval": "15s", "timeout": "1s", "count": 3}},
    "isps": [{"id": "isp-a", "name": "ISP A", "address": "192.0.2.1", "upstream": "core"}],
    "devices": [
        {
            "id": "core",
            "name": "Core",
            "kind": "router",
            "address": "192.0.2.2",
            "snmp": {"version": "2c", "community": {"env": "C"}, "port": 161},
            "interfaces": {"include": ["^ether"]},
        },
    ],
    "dns_servers": [
        {
            "id": "dns1",
            "name": "DNS",
            "address": "192.0.2.53",
            "port": 53,
            "upstream": "core",
            "checks": [{"name": "pekalongankota.go.id", "type": "A", "expect": ["198.51.100.80"]}],
        },
    ],
    "opds": [
        {
            "id": f"opd-{i}",
            "name": f"OPD {i}",
            "kecamatan": "Pekalongan Barat",
            "address": f"198.51.100.{i + 10}",
            "upstream": "core",
            "isp": "isp-a",
            "contact": {"name": "Operator", "phone": "+62 285 000"},
        }
        for i in range(4)
    ],
}

YAML_PIECES = [
    *("\n", "\n  ", "\n    ", "- ", ": ", ", ", "? ", "---\n", "...\n", "# note\n", "|\n  ", ">-\n  "),
    *("[", "]", "{", "}", "'", '"', "&a ", "&b ", "*a", "*b", "<<: ", "!!binary ", "!!int ", "!!float "),
    *(
        "!!map ",
        "!!seq ",
        "!!str ",
        "!!set ",
        "!!bool ",
        "!!timestamp ",
        "!custom ",
        "!!python/name:os.system",
    ),
    *("version: 1\n", "opds", "devices", "isps", "dns_servers", "defaults", "icmp", "count", "port"),
    *("id", "name", "kind", "router", "address", "upstream", "core", "192.0.2.1", "kecamatan", "checks"),
    *("true", "no", "~", "null", ".inf", ".nan", "1e3", "1.0e+999", "0x1F", "0b101", "0o17", "1:30", "-0"),
    *("9" * 25, "2024-01-01", '"\\ud800"', '"\\x00"', '"\\e"', '"\\u0085"', "\t", "\\", "%YAML 1.1\n"),
]


@st.composite
def replaced_part(draw: st.DrawFn) -> dict[str, Any]:
    """A valid inventory with one value, key or entry replaced by something arbitrary."""
    document = copy.deepcopy(VALID)
    anything = st.recursive(
        st.none()
        | st.booleans()
        | st.integers(min_value=-(2**70), max_value=2**70)
        | st.floats()
        | st.text(st.characters(codec=None, exclude_categories=()), max_size=20),
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
        max_leaves=12,
    )
    node: Any = document
    while True:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        if not keys:
            break
        key = draw(st.sampled_from(keys))
        if not isinstance(node[key], dict | list) or draw(st.booleans()):
            if isinstance(node, dict) and draw(st.booleans()):
                node[draw(st.text(max_size=10))] = node.pop(key)  # a key instead of a value
            else:
                node[key] = draw(anything)
            break
        node = node[key]
    return document


def dumped(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=False).encode("ascii")


def kept_targets() -> st.SearchStrategy[bytes]:
    """A valid inventory keeping some of its OPDs: a reload drops none, a few, or most targets."""
    return st.integers(min_value=0, max_value=4).map(lambda n: dumped({**VALID, "opds": VALID["opds"][:n]}))


def inventory_files() -> st.SearchStrategy[bytes]:
    """The content of an inventory file: anything from noise to almost right."""
    return st.one_of(
        st.binary(max_size=300),
        st.lists(st.sampled_from(YAML_PIECES), max_size=60).map(lambda pieces: "".join(pieces).encode()),
        replaced_part().map(dumped),
        kept_targets(),
    )
