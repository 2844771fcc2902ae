"""Turn an inventory into the plan of a simulated Batik.Net: namespaces, links, addresses and routes.

Pure: nothing here touches the system, so the addressing and routing rules are tested without root.
The executor (:mod:`lab.network`) feeds the plan's commands to ``ip`` and starts the daemons.

Addressing rule (see ``lab/inventory.yml``): every target sits on its own /30 link to its upstream. The
target's inventory address is the second host of that /30, the upstream's side is the first host. A
target without upstream (the core router) links the same way to the host namespace, where the exporter,
Prometheus and the rest run.

Routing: the host sends everything lab-bound to the root's address; each forwarding namespace (device or
ISP gateway) has a route per /30 behind each child, via that child; every namespace sends the rest of
198.18.0.0/15 up its uplink and has no default route, so no lab packet can reach anything outside the lab.
Blackholes catch traffic when a link is down, instead of letting it loop or leave: one for the whole range
in the host and in every namespace (behind its uplink route), one per downstream /30 in every forwarding
namespace (behind the route to the child).
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass

from batiknet.inventory import Inventory, Target

LAB_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
NAMESPACE_PREFIX = "bnl-"
PORTS_NAMESPACE_PREFIX = "bnlp-"
ACCESS_PORTS_CONNECTED = 2
HOST_LINK_PREFIX = "bnl-"
DOWNLINK_PREFIX = "dl-"
UPLINK_NAME = "uplink"
IFNAME_MAX = 15  # IFNAMSIZ - 1
# A blackhole of the same prefix with a worse metric takes over when the real route disappears (an
# interface set down flushes the routes through it), so a downstream address never loops back upstream.
FALLBACK_METRIC = 4000
FORWARDING_KINDS = ("router", "switch", "isp")


class PlanError(ValueError):
    """The inventory cannot be built as a lab; the message names the target."""


@dataclass(frozen=True)
class Route:
    destination: str  # CIDR
    via: str | None = None  # None: blackhole
    device: str | None = None
    metric: int | None = None

    def ip_args(self) -> str:
        """The route in ``ip route`` syntax, without the verb."""
        words = [self.destination] if self.via else ["blackhole", self.destination]
        if self.via:
            words += ["via", self.via]
        if self.device:
            words += ["dev", self.device]
        if self.metric is not None:
            words += ["metric", str(self.metric)]
        return " ".join(words)


@dataclass(frozen=True)
class Link:
    """The /30 veth link between a target and its upstream (or the host namespace for a root)."""

    target_id: str
    upstream_id: str | None  # None: the host namespace
    network: str  # the /30
    target_namespace: str
    target_ifname: str
    target_address: str
    upstream_namespace: str | None  # None: the host namespace
    upstream_ifname: str
    upstream_address: str

    @property
    def prefixlen(self) -> int:
        return ipaddress.IPv4Network(self.network).prefixlen


@dataclass(frozen=True)
class Node:
    """One target's namespace: its interfaces, routes and whether it forwards."""

    target_id: str
    kind: str  # opd, router, switch, isp, dns
    namespace: str
    address: str
    uplink: Link
    downlinks: tuple[Link, ...]
    # A switch's access ports: veths whose peers sit in a namespace of their own (``ports_namespace``).
    # The first ACCESS_PORTS_CONNECTED have their peer up (a PC plugged in), the rest are oper down.
    access_ports: tuple[str, ...]
    routes: tuple[Route, ...]

    @property
    def forwards(self) -> bool:
        return self.kind in FORWARDING_KINDS

    @property
    def interfaces(self) -> tuple[str, ...]:
        """Interface names inside the namespace, loopback excluded, in creation order."""
        return (self.uplink.target_ifname, *(d.upstream_ifname for d in self.downlinks), *self.access_ports)

    @property
    def ports_namespace(self) -> str | None:
        return PORTS_NAMESPACE_PREFIX + self.target_id if self.access_ports else None


@dataclass(frozen=True)
class LabPlan:
    nodes: tuple[Node, ...]
    links: tuple[Link, ...]
    host_routes: tuple[Route, ...]  # after the blackhole, via the host-side links
    blackhole: str = str(LAB_RANGE)

    def node(self, target_id: str) -> Node:
        for node in self.nodes:
            if node.target_id == target_id:
                return node
        raise KeyError(target_id)

    def link(self, target_id: str) -> Link:
        return self.node(target_id).uplink

    @property
    def namespaces(self) -> tuple[str, ...]:
        """Every namespace of the lab: one per target, plus one per switch for its access-port peers."""
        ports = tuple(node.ports_namespace for node in self.nodes if node.ports_namespace)
        return (*(node.namespace for node in self.nodes), *ports)

    @property
    def host_links(self) -> tuple[Link, ...]:
        return tuple(link for link in self.links if link.upstream_namespace is None)

    def addresses(self) -> dict[str, str]:
        """Every target's address by id."""
        return {node.target_id: node.address for node in self.nodes}


def short_name(prefix: str, ident: str) -> str:
    """A Linux interface name (at most 15 characters) derived deterministically from an id.

    Short ids are kept readable (``dl-setda``); long ones are cut and suffixed with a hash of the whole
    id so that two ids with the same beginning still get different names.
    """
    name = prefix + ident
    if len(name) <= IFNAME_MAX:
        return name
    digest = hashlib.sha1(ident.encode()).hexdigest()[:4]
    return f"{prefix}{ident[: IFNAME_MAX - len(prefix) - 5]}-{digest}"


def namespace_name(target_id: str) -> str:
    return NAMESPACE_PREFIX + target_id


def build_plan(inventory: Inventory, access_ports: int = 4) -> LabPlan:
    """The lab for an inventory; :class:`PlanError` when the addressing rule is not kept."""
    targets = list(inventory.targets())
    links = {t.id: _link(t) for t in targets}
    _check_distinct(links)
    subtree_networks = {t.id: _subtree_networks(inventory, t.id, links) for t in targets}

    nodes = []
    for target in targets:
        link = links[target.id]
        downlinks = tuple(links[child] for child in inventory.children(target.id))
        ports = tuple(f"access{n}" for n in range(1, access_ports + 1)) if target.kind == "switch" else ()
        nodes.append(
            Node(
                target_id=target.id,
                kind=target.kind,
                namespace=namespace_name(target.id),
                address=target.address,
                uplink=link,
                downlinks=downlinks,
                access_ports=ports,
                routes=_node_routes(link, downlinks, subtree_networks),
            )
        )
        _check_ifnames(nodes[-1])

    host_routes = tuple(
        Route(network, via=link.target_address, device=link.upstream_ifname)
        for link in links.values()
        if link.upstream_namespace is None
        for network in subtree_networks[link.target_id][1:]  # its own /30 is connected
    )
    host_ifnames = [link.upstream_ifname for link in links.values() if link.upstream_namespace is None]
    if len(set(host_ifnames)) != len(host_ifnames):
        raise PlanError(f"host-side interface names collide: {sorted(host_ifnames)}")
    return LabPlan(nodes=tuple(nodes), links=tuple(links.values()), host_routes=host_routes)


def _link(target: Target) -> Link:
    address = ipaddress.ip_address(target.address)
    if not isinstance(address, ipaddress.IPv4Address) or address not in LAB_RANGE:
        raise PlanError(f"{target.id}: address {address} is outside the lab range {LAB_RANGE}")
    network = ipaddress.IPv4Network(f"{address}/30", strict=False)
    if address != network.network_address + 2:
        raise PlanError(
            f"{target.id}: address {address} is not the second host of its /30 {network} "
            f"(expected {network.network_address + 2})"
        )
    upstream = target.upstream
    return Link(
        target_id=target.id,
        upstream_id=upstream,
        network=str(network),
        target_namespace=namespace_name(target.id),
        target_ifname=UPLINK_NAME,
        target_address=str(address),
        upstream_namespace=namespace_name(upstream) if upstream else None,
        upstream_ifname=short_name(DOWNLINK_PREFIX, target.id)
        if upstream
        else short_name(HOST_LINK_PREFIX, target.id),
        upstream_address=str(network.network_address + 1),
    )


def _check_distinct(links: dict[str, Link]) -> None:
    owner: dict[str, str] = {}
    for link in links.values():
        if link.network in owner:
            raise PlanError(
                f"{link.target_id}: its /30 {link.network} is already the link of {owner[link.network]}"
            )
        owner[link.network] = link.target_id


def _subtree_networks(inventory: Inventory, target_id: str, links: dict[str, Link]) -> tuple[str, ...]:
    """The target's own /30 and those of everything behind it."""
    return (links[target_id].network, *(links[t].network for t in inventory.behind(target_id)))


def _node_routes(
    link: Link, downlinks: tuple[Link, ...], subtree_networks: dict[str, tuple[str, ...]]
) -> tuple[Route, ...]:
    # up the uplink, or (when it is down) nowhere: there is no default route, so nothing leaves the range
    routes = [
        Route(str(LAB_RANGE), via=link.upstream_address, device=link.target_ifname),
        Route(str(LAB_RANGE), metric=FALLBACK_METRIC),
    ]
    for child in downlinks:
        behind_child = subtree_networks[child.target_id]
        # the child's own /30 is connected; the ones further down go via the child
        routes += [
            Route(net, via=child.target_address, device=child.upstream_ifname) for net in behind_child[1:]
        ]
        routes += [Route(net, metric=FALLBACK_METRIC) for net in behind_child]
    return tuple(routes)


def _check_ifnames(node: Node) -> None:
    names = node.interfaces
    too_long = [n for n in names if len(n) > IFNAME_MAX]
    if too_long or len(set(names)) != len(names):
        raise PlanError(f"{node.target_id}: interface names are too long or collide: {list(names)}")


def host_setup_batch(plan: LabPlan) -> list[str]:
    """``ip -batch`` lines run in the host namespace: the namespaces and every veth pair, placed directly
    into their namespaces so that in-namespace names only have to be unique within one namespace."""
    lines = [f"netns add {namespace}" for namespace in plan.namespaces]
    for link in plan.links:
        upstream = f"netns {link.upstream_namespace}" if link.upstream_namespace else ""
        lines.append(
            f"link add name {link.target_ifname} netns {link.target_namespace} type veth "
            f"peer name {link.upstream_ifname} {upstream}".rstrip()
        )
    for node in plan.nodes:
        lines += [
            f"link add name {port} netns {node.namespace} type veth peer name {port} "
            f"netns {node.ports_namespace}"
            for port in node.access_ports
        ]
    return lines


def namespace_batch(node: Node) -> list[str]:
    """``ip -n NAMESPACE -batch`` lines that address the node's interfaces, bring them up and route."""
    lines = ["link set lo up"]
    uplink = node.uplink
    lines.append(f"addr add {uplink.target_address}/{uplink.prefixlen} dev {uplink.target_ifname}")
    lines += [f"addr add {d.upstream_address}/{d.prefixlen} dev {d.upstream_ifname}" for d in node.downlinks]
    lines += [f"link set {name} up" for name in node.interfaces]
    lines += route_lines(node.routes)
    return lines


def ports_batch(node: Node) -> list[str]:
    """``ip -n PORTS_NAMESPACE -batch`` lines: plug something into the first access ports."""
    return [f"link set {port} up" for port in node.access_ports[:ACCESS_PORTS_CONNECTED]]


def host_batch(plan: LabPlan) -> list[str]:
    """``ip -batch`` lines that address and raise the host side of each root link and route the lab."""
    lines = []
    for link in plan.host_links:
        lines.append(f"addr add {link.upstream_address}/{link.prefixlen} dev {link.upstream_ifname}")
        lines.append(f"link set {link.upstream_ifname} up")
    return lines + route_lines(plan.host_routes)


def route_lines(routes: tuple[Route, ...]) -> list[str]:
    """``replace`` so that re-applying after a link comes back up (which lost its routes) is harmless."""
    return [f"route replace {route.ip_args()}" for route in routes]


def node_sysctls(node: Node) -> dict[str, str]:
    """Kernel settings inside the node's namespace."""
    settings = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1"}
    if node.forwards:
        settings["net.ipv4.ip_forward"] = "1"
    return settings


def host_link_sysctls(link: Link) -> dict[str, str]:
    """On the host side of a root link: when the link is down, ignore the routes through it so lab
    traffic falls into the host's blackhole instead of queueing on a dead interface."""
    return {
        f"net.ipv4.conf.{link.upstream_ifname}.ignore_routes_with_linkdown": "1",
        f"net.ipv6.conf.{link.upstream_ifname}.disable_ipv6": "1",
    }
