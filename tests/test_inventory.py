"""The inventory is validated on load and every error names the file, the entry and the field."""

from __future__ import annotations

import copy
import ipaddress
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from batiknet.inventory import (
    OPD,
    InventoryError,
    SecretRef,
    SecretUnavailable,
    load_inventory,
    parse_duration,
    parse_inventory,
)

ROOT = Path(__file__).resolve().parent.parent
LAB = ROOT / "lab" / "inventory.yml"
EXAMPLE = ROOT / "examples" / "inventory.yml"
DOCUMENTATION_RANGES = [
    ipaddress.ip_network(n) for n in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24")
]
LAB_RANGE = ipaddress.ip_network("198.18.0.0/15")


def minimal() -> dict:
    return {
        "version": 1,
        "devices": [{"id": "core-1", "name": "Core", "kind": "router", "address": "192.0.2.1"}],
        "opds": [
            {
                "id": "dinkes",
                "name": "Dinas Kesehatan",
                "kecamatan": "Pekalongan Barat",
                "address": "198.51.100.10",
                "upstream": "core-1",
            },
        ],
    }


def error_of(document: dict, name: str = "inventory.yml") -> str:
    with pytest.raises(InventoryError) as caught:
        parse_inventory(document, Path(name))
    return str(caught.value)


def test_the_shipped_example_is_valid_and_uses_only_documentation_addresses():
    inventory = load_inventory(EXAMPLE)
    assert len(inventory.opds) >= 12
    names = {opd.name for opd in inventory.opds}
    assert {"Sekretariat Daerah", "Dinas Kesehatan", "Bappeda", "RSUD Bendan"} <= names
    assert len({opd.kecamatan for opd in inventory.opds}) == 4
    for target in inventory.targets():
        address = ipaddress.ip_address(target.address)
        assert any(address in net for net in DOCUMENTATION_RANGES), (target.id, target.address)


def test_the_lab_inventory_is_valid_and_stays_in_the_lab_range():
    inventory = load_inventory(LAB)
    assert len(inventory.opds) >= 12
    for target in inventory.targets():
        assert ipaddress.ip_address(target.address) in LAB_RANGE, target.id
    for server in inventory.dns_servers:
        for check in server.checks:
            assert all(ipaddress.ip_address(a) in LAB_RANGE for a in check.expect)


def test_unknown_upstream_names_file_entry_and_field():
    document = minimal()
    document["opds"][0]["upstream"] = "core-9"
    assert error_of(document) == (
        "inventory.yml: opds[0] 'dinkes': upstream 'core-9' is not a known device or ISP uplink"
    )


def test_an_opd_cannot_be_the_upstream_of_another():
    document = minimal()
    document["opds"].append(
        {**document["opds"][0], "id": "bappeda", "address": "198.51.100.11", "upstream": "dinkes"}
    )
    assert "opds[1] 'bappeda': upstream 'dinkes' is not a known device" in error_of(document)


def test_a_cycle_in_the_topology_is_refused():
    document = minimal()
    document["devices"][0]["upstream"] = "sw-1"
    document["devices"].append(
        {"id": "sw-1", "name": "Switch", "kind": "switch", "address": "192.0.2.2", "upstream": "core-1"}
    )
    message = error_of(document)
    assert "upstream forms a cycle" in message
    assert "core-1 -> sw-1 -> core-1" in message


def test_duplicate_ids_are_refused_across_sections():
    document = minimal()
    document["opds"][0]["id"] = "core-1"
    assert error_of(document) == "inventory.yml: opds[0] 'core-1': id is already used by devices[0] 'core-1'"


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (
            lambda d: d["opds"][0].update(address="not-an-ip"),
            "opds[0] 'dinkes': address 'not-an-ip' is not an IP",
        ),
        (lambda d: d["opds"][0].pop("kecamatan"), "opds[0] 'dinkes': kecamatan is required"),
        (lambda d: d["opds"][0].update(colour="red"), "opds[0] 'dinkes': unknown field 'colour'"),
        (lambda d: d["opds"][0].update(id="Dinkes!"), "opds[0] 'Dinkes!': id is required"),
        (
            lambda d: d["devices"][0].update(kind="firewall"),
            "devices[0] 'core-1': kind 'firewall' is not one of",
        ),
        (
            lambda d: d["opds"][0].update(isp="isp-x"),
            "opds[0] 'dinkes': isp 'isp-x' is not a known ISP uplink",
        ),
        (
            lambda d: d["opds"][0].update(icmp={"interval": "1s", "timeout": "2s"}),
            "opds[0] 'dinkes': icmp: timeout (2s) must not exceed interval (1s)",
        ),
        (lambda d: d["opds"][0].update(icmp={"count": 0}), "opds[0] 'dinkes': icmp: count must be"),
        (
            lambda d: d.update(defaults={"icmp": {"interval": "soon"}}),
            "defaults: icmp: not a duration: 'soon'",
        ),
        (lambda d: d.update(version=2), "version: unsupported version 2"),
    ],
)
def test_field_errors_name_the_entry_and_the_field(mutate, expected):
    document = copy.deepcopy(minimal())
    mutate(document)
    assert expected in error_of(document)


def test_snmp_secrets_must_never_be_inline():
    document = minimal()
    document["devices"][0]["snmp"] = {"version": "2c", "community": "public"}
    assert "devices[0] 'core-1': snmp: community must not be written inline" in error_of(document)


def test_snmp_v3_authpriv_requires_both_passwords():
    document = minimal()
    document["devices"][0]["snmp"] = {"version": 3, "username": "noc", "auth_password": {"env": "A"}}
    assert "priv_password is required for authPriv" in error_of(document)


def test_snmp_probe_settings_sit_beside_the_credentials():
    document = minimal()
    document["devices"][0]["snmp"] = {"version": "2c", "community": {"env": "C"}, "interval": "30s"}
    device = parse_inventory(document, Path("inventory.yml")).devices[0]
    assert device.probes["snmp"].interval == 30.0
    assert device.snmp.community == SecretRef(env="C")


def test_secret_references_resolve_from_environment_or_file(tmp_path):
    secret_file = tmp_path / "community"
    secret_file.write_text("s3cret\n")
    assert SecretRef(env="COMMUNITY").resolve({"COMMUNITY": "abc"}) == "abc"
    assert SecretRef(file=secret_file).resolve() == "s3cret"
    with pytest.raises(SecretUnavailable, match="COMMUNITY is not set"):
        SecretRef(env="COMMUNITY").resolve({})
    with pytest.raises(SecretUnavailable, match="cannot read secret file"):
        SecretRef(file=tmp_path / "missing").resolve()


def test_relative_secret_files_are_relative_to_the_inventory(tmp_path):
    document = minimal()
    document["devices"][0]["snmp"] = {"version": "2c", "community": {"file": "secrets/community"}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(document))
    device = load_inventory(path).devices[0]
    assert device.snmp.community.file == tmp_path / "secrets" / "community"


def test_invalid_yaml_and_missing_files_are_inventory_errors(tmp_path):
    broken = tmp_path / "inventory.yml"
    broken.write_text("opds: [\n")
    with pytest.raises(InventoryError, match=r"inventory\.yml: not valid YAML"):
        load_inventory(broken)
    with pytest.raises(InventoryError, match="cannot read"):
        load_inventory(tmp_path / "absent.yml")


def test_topology_queries_follow_the_lab_tree():
    inventory = load_inventory(LAB)
    assert inventory.ancestors("setda") == ("dist-sw1", "core-router")
    assert inventory.ancestors("core-router") == ()
    behind_switch = set(inventory.behind("dist-sw1"))
    assert behind_switch == {o.id for o in inventory.opds if o.upstream == "dist-sw1"}
    assert set(inventory.behind("core-router")) == {t.id for t in inventory.targets()} - {"core-router"}
    assert set(inventory.children("isp-metro")) == set(inventory.behind("isp-metro"))
    assert isinstance(inventory.target("dinkes"), OPD)


def test_per_target_probe_settings_override_the_defaults():
    document = minimal()
    document["defaults"] = {"icmp": {"interval": "20s", "count": 5}}
    document["opds"][0]["icmp"] = {"interval": "5s"}
    inventory = parse_inventory(document, Path("inventory.yml"))
    assert inventory.devices[0].probes["icmp"].interval == 20.0
    assert inventory.opds[0].probes["icmp"].interval == 5.0
    assert inventory.opds[0].probes["icmp"].count == 5


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("500ms", 0.5), ("15s", 15.0), ("2m", 120.0), ("1h", 3600.0), ("1m30s", 90.0), (3, 3.0)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0s", "soon", "5", "-1", 0, True])
def test_invalid_durations(text):
    with pytest.raises(ValueError):
        parse_duration(text)


@given(hours=st.integers(0, 48), minutes=st.integers(0, 59), seconds=st.integers(0, 59))
def test_duration_parts_add_up(hours, minutes, seconds):
    text = "".join(f"{v}{u}" for v, u in ((hours, "h"), (minutes, "m"), (seconds, "s")) if v)
    if not text:
        return
    assert parse_duration(text) == hours * 3600 + minutes * 60 + seconds
