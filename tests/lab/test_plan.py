"""The lab planner and daemon configs, without root: addressing, names, routes, and a walk of the routing
tables the plan installs (host → core → switches / ISP gateways → OPDs and back)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

import pytest

from batiknet.inventory import Inventory, load_inventory, parse_inventory
from lab.network import DEFAULT_INVENTORY, NeedsRoot, check_root
from lab.plan import (
    FALLBACK_METRIC,
    IFNAME_MAX,
    LAB_RANGE,
    LabPlan,
    PlanError,
    Route,
    build_plan,
    host_setup_batch,
    namespace_batch,
    node_sysctls,
    short_name,
)
from lab.services import WRONG_ANSWER, dns_records, dnsmasq_config, interface_aliases, snmpd_config

HOST = None  # the host namespace, in the walk below


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return load_inventory(DEFAULT_INVENTORY)


@pytest.fixture(scope="module")
def plan(inventory: Inventory) -> LabPlan:
    return build_plan(inventory)


# --- a small model of the kernel's routing, to walk packets through the planned tables ----------------


@dataclass(frozen=True)
class Entry:
    network: ipaddress.IPv4Network
    via: str | None  # None: connected (on-link) or blackhole
    device: str | None  # None: blackhole
    metric: int


def tables(plan: LabPlan, down: frozenset[tuple[str | None, str]] = frozenset()) -> dict:
    """Per namespace: its addresses (address → interface) and route table, as the kernel would have them
    after the plan is applied and the interfaces in ``down`` (namespace, ifname) are set down (which
    flushes every route through them, connected ones included)."""
    result: dict[str | None, tuple[dict[str, str], list[Entry]]] = {}

    def add_address(namespace: str | None, ifname: str, address: str, network: str) -> None:
        addresses, routes = result.setdefault(namespace, ({}, []))
        addresses[address] = ifname
        if (namespace, ifname) not in down:
            routes.append(Entry(ipaddress.IPv4Network(network), None, ifname, 0))

    for link in plan.links:
        add_address(link.target_namespace, link.target_ifname, link.target_address, link.network)
        add_address(link.upstream_namespace, link.upstream_ifname, link.upstream_address, link.network)
    result[HOST][1].append(Entry(ipaddress.IPv4Network(plan.blackhole), None, None, 0))
    planned = [(HOST, route) for route in plan.host_routes]
    planned += [(node.namespace, route) for node in plan.nodes for route in node.routes]
    for namespace, route in planned:
        if (namespace, route.device) in down:
            continue
        result[namespace][1].append(
            Entry(ipaddress.IPv4Network(route.destination), route.via, route.device, route.metric or 0)
        )
    return result


def walk(plan: LabPlan, source: str | None, destination: str, down=frozenset()) -> list:
    """Follow a packet hop by hop; the last element says how it ended: 'delivered', 'blackhole',
    'no route' or 'loop'."""
    routing = tables(plan, frozenset(down))
    peers = {}
    for link in plan.links:
        peers[(link.target_namespace, link.target_ifname)] = link.upstream_namespace
        peers[(link.upstream_namespace, link.upstream_ifname)] = link.target_namespace
    forwarding = {node.namespace for node in plan.nodes if node.forwards}
    path: list = [source]
    here = source
    target = ipaddress.IPv4Address(destination)
    for _ in range(32):
        addresses, routes = routing[here]
        if destination in addresses:
            return [*path, "delivered"]
        if here is not source and here not in forwarding:
            return [*path, "not forwarded"]
        matching = [r for r in routes if target in r.network]
        if not matching:
            return [*path, "no route"]
        best = min(matching, key=lambda r: (-r.network.prefixlen, r.metric))
        if best.device is None:
            return [*path, "blackhole"]
        here = peers[(here, best.device)]
        # the next hop (or on-link destination) must sit on the far side of that very link
        next_hop = best.via or destination
        if next_hop not in routing[here][0]:
            return [*path, here, f"nobody has {next_hop}"]
        path.append(here)
    return [*path, "loop"]


def every_lab_address(plan: LabPlan) -> list[str]:
    return [a for link in plan.links for a in (link.target_address, link.upstream_address)]


def test_every_lab_address_is_reached_from_the_host_and_answers_back(plan: LabPlan) -> None:
    host_address = plan.host_links[0].upstream_address
    owner = {}
    for link in plan.links:
        owner[link.target_address] = link.target_namespace
        owner[link.upstream_address] = link.upstream_namespace
    for address in every_lab_address(plan):
        there = walk(plan, HOST, address)
        assert there[-1] == "delivered", (address, there)
        assert there[-2] == owner[address]
        back = walk(plan, owner[address], host_address)
        assert back[-1] == "delivered" and back[-2] is HOST, (address, back)


def test_opds_are_reached_through_their_upstream(plan: LabPlan, inventory: Inventory) -> None:
    for opd in inventory.opds:
        path = walk(plan, HOST, opd.address)
        expected = [plan.node(a).namespace for a in reversed(inventory.ancestors(opd.id))]
        assert path == [HOST, *expected, plan.node(opd.id).namespace, "delivered"]


def test_a_down_downlink_drops_traffic_where_it_is_instead_of_looping(plan: LabPlan) -> None:
    # `if-down dist-sw1 dl-setda` flushes the routes through the port: the fallback blackhole catches it
    path = walk(plan, HOST, "198.18.1.2", down={("bnl-dist-sw1", "dl-setda")})
    assert path == [HOST, "bnl-core-router", "bnl-dist-sw1", "blackhole"]
    path = walk(plan, HOST, "198.18.1.2", down={("bnl-core-router", "dl-dist-sw1")})
    assert path == [HOST, "bnl-core-router", "blackhole"]


def test_a_down_core_link_sends_lab_traffic_into_the_host_blackhole(plan: LabPlan) -> None:
    # the host ignores routes through a link without carrier (ignore_routes_with_linkdown)
    core = plan.host_links[0]
    for address in plan.addresses().values():
        assert walk(plan, HOST, address, down={(HOST, core.upstream_ifname)}) == [HOST, "blackhole"]


def test_addressing_rule(plan: LabPlan, inventory: Inventory) -> None:
    for target in inventory.targets():
        link = plan.link(target.id)
        network = ipaddress.IPv4Network(link.network)
        assert network.prefixlen == 30 and network.subnet_of(LAB_RANGE)
        assert link.target_address == target.address == str(network.network_address + 2)
        assert link.upstream_address == str(network.network_address + 1)
        if target.upstream is None:
            assert link.upstream_namespace is None and link.upstream_address == "198.18.0.1"
        else:
            assert link.upstream_namespace == plan.node(target.upstream).namespace
    assert len({link.network for link in plan.links}) == len(plan.links)


def test_names_are_short_unique_and_prefixed(plan: LabPlan) -> None:
    for node in plan.nodes:
        assert node.namespace == f"bnl-{node.target_id}"
        assert all(len(name) <= IFNAME_MAX for name in node.interfaces)
        assert len(set(node.interfaces)) == len(node.interfaces)
        assert node.interfaces[0] == "uplink"
    assert [link.upstream_ifname for link in plan.host_links] == ["bnl-core-router"]
    assert plan.node("dist-sw1").interfaces == (
        "uplink", "dl-setda", "dl-setwan", "dl-bappeda", "dl-dinkes", "dl-bpkad", "dl-inspektorat",
        "access1", "access2", "access3", "access4",
    )  # fmt: skip
    assert plan.node("dist-sw1").ports_namespace == "bnlp-dist-sw1"
    assert plan.node("setda").interfaces == ("uplink",)


def test_short_name_is_deterministic_and_keeps_long_ids_apart() -> None:
    assert short_name("dl-", "setda") == "dl-setda"
    first = short_name("dl-", "dinas-komunikasi-informatika")
    second = short_name("dl-", "dinas-komunikasi-statistik")
    assert len(first) == len(second) == IFNAME_MAX
    assert first != second
    assert first == short_name("dl-", "dinas-komunikasi-informatika")


def test_no_default_route_and_every_route_inside_the_lab(plan: LabPlan) -> None:
    for route in (*plan.host_routes, *(r for node in plan.nodes for r in node.routes)):
        assert ipaddress.IPv4Network(route.destination).subnet_of(LAB_RANGE), route
    for node in plan.nodes:
        whole_range = [r for r in node.routes if r.destination == str(LAB_RANGE)]
        assert whole_range == [
            Route(str(LAB_RANGE), via=node.uplink.upstream_address, device="uplink"),
            Route(str(LAB_RANGE), metric=FALLBACK_METRIC),  # when the uplink is down
        ]
        assert [r for r in node.routes if r.via == node.uplink.upstream_address] == whole_range[:1]


def test_a_cut_uplink_leaves_the_namespace_nothing_but_blackholes(plan: LabPlan) -> None:
    # `cut setda` sets setda's uplink down: the kernel flushes its routes, the fallback blackhole remains
    assert walk(plan, "bnl-setda", "198.18.0.1", down={("bnl-setda", "uplink")}) == ["bnl-setda", "blackhole"]
    assert walk(plan, "bnl-setda", "192.0.2.1", down=set()) == ["bnl-setda", "no route"]


def test_only_routers_switches_and_isp_gateways_forward(plan: LabPlan) -> None:
    forwarding = {
        node.target_id for node in plan.nodes if node_sysctls(node).get("net.ipv4.ip_forward") == "1"
    }
    assert forwarding == {"core-router", "dist-sw1", "dist-sw2", "isp-telkom", "isp-metro"}


def test_batches_create_namespaces_before_links_and_address_every_interface(plan: LabPlan) -> None:
    host = host_setup_batch(plan)
    namespace_lines = [line for line in host if line.startswith("netns add")]
    assert host[: len(namespace_lines)] == namespace_lines
    assert len(namespace_lines) == len(plan.namespaces) == len(plan.nodes) + 2  # + the two switches' ports
    batch = namespace_batch(plan.node("dist-sw1"))
    assert "addr add 198.18.0.10/30 dev uplink" in batch
    assert "addr add 198.18.1.1/30 dev dl-setda" in batch
    assert "route replace 198.18.0.0/15 via 198.18.0.9 dev uplink" in batch


def write_inventory(tmp_path: Path, opd_address: str) -> Inventory:
    document = {
        "devices": [{"id": "core", "name": "Core", "kind": "router", "address": "198.18.0.2"}],
        "opds": [{"id": "opd", "name": "OPD", "kecamatan": "K", "address": opd_address, "upstream": "core"}],
    }
    return parse_inventory(document, tmp_path / "inventory.yml")


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("192.0.2.6", "outside the lab range"),
        ("2001:db8::2", "outside the lab range"),
        ("198.18.1.3", "not the second host of its /30 198.18.1.0/30"),
        ("198.18.0.2", "198.18.0.0/30 is already the link of core"),
    ],
)
def test_plan_refuses_inventories_that_break_the_rule(tmp_path: Path, address: str, message: str) -> None:
    with pytest.raises(PlanError, match=message) as error:
        build_plan(write_inventory(tmp_path, address))
    assert str(error.value).startswith("opd: ")


def test_snmpd_config_uses_the_inventory_secrets(inventory: Inventory) -> None:
    devices = {d.id: d for d in inventory.devices}
    v2c = snmpd_config(devices["core-router"], inventory)
    community = devices["core-router"].snmp.community.resolve()
    assert "agentAddress udp:198.18.0.2:161" in v2c
    assert f"rocommunity {community} 198.18.0.0/15" in v2c
    assert "sysName core-router" in v2c
    v3 = snmpd_config(devices["dist-sw1"], inventory)
    snmp = devices["dist-sw1"].snmp
    assert f"createUser batiknet SHA {snmp.auth_password.resolve()} AES {snmp.priv_password.resolve()}" in v3
    assert "rouser batiknet priv" in v3
    assert "community" not in v3


def test_snmpd_config_describes_the_ports(inventory: Inventory, plan: LabPlan) -> None:
    aliases = interface_aliases(plan.node("dist-sw1"), inventory)
    assert aliases["uplink"] == "uplink to Router inti Diskominfo"
    assert aliases["dl-bappeda"] == "Bappeda"
    assert aliases["access4"] == "access port 4"
    assert set(aliases) == set(plan.node("dist-sw1").interfaces)
    assert interface_aliases(plan.node("core-router"), inventory)["uplink"] == "uplink to the NOC"
    config = snmpd_config(inventory.devices[1], inventory, {3: 'Kantor "Baru"'})
    assert 'override .1.3.6.1.2.1.31.1.1.1.18.3 octet_str "Kantor \\"Baru\\""' in config


def test_dnsmasq_config_answers_the_checks_and_never_forwards(inventory: Inventory) -> None:
    server = inventory.dns_servers[0]
    config = dnsmasq_config(server).splitlines()
    assert {"no-resolv", "no-hosts", "listen-address=198.18.0.22", "auth-zone=pekalongankota.go.id"} <= set(
        config
    )
    assert not any(line.startswith("server=") for line in config)
    assert "host-record=www.pekalongankota.go.id,198.18.2.80" in config
    assert "host-record=mail.pekalongankota.go.id,198.18.2.25" in config
    wrong = dns_records(server, wrong=True)
    assert set(wrong) == {c.name for c in server.checks}
    assert all(addresses == (WRONG_ANSWER,) for addresses in wrong.values())
    assert all(WRONG_ANSWER not in check.expect for check in server.checks)
    assert ipaddress.IPv4Address(WRONG_ANSWER) in LAB_RANGE


def test_check_root_refuses_other_users() -> None:
    with pytest.raises(NeedsRoot, match="needs root"):
        check_root(euid=1000)
    check_root(euid=0)
