"""Configuration of the daemons that make lab namespaces answer like the real network.

Pure text rendering: snmpd for each core device (serving the namespace's real interfaces through IF-MIB),
dnsmasq for each DNS server (authoritative for the city's zone, never forwarding anywhere). The executor
writes these files and starts the programs.
"""

from __future__ import annotations

import ipaddress

from batiknet.inventory import Device, DNSServer, Inventory

from .plan import LAB_RANGE, Node

# Served by dns-wrong for every checked name: inside the lab range, never an expected answer.
WRONG_ANSWER = "198.18.255.254"
IF_ALIAS = ".1.3.6.1.2.1.31.1.1.1.18"
SNMP_ACCESS = {"noAuthNoPriv": "noauth", "authNoPriv": "auth", "authPriv": "priv"}


def snmpd_config(device: Device, inventory: Inventory, aliases: dict[int, str] | None = None) -> str:
    """snmpd.conf for one device: listen on its address, answer only lab sources, its own system group,
    and ``aliases`` (ifIndex → description) as IF-MIB ifAlias, which Linux interfaces do not carry."""
    snmp = device.snmp
    if snmp is None:
        raise ValueError(f"{device.id} has no SNMP settings")
    lines = [
        f"agentAddress udp:{device.address}:{snmp.port}",
        f"sysName {device.id}",
        f"sysDescr Batik.Net lab {device.kind} {device.id}: {device.name}",
        f"sysLocation {inventory.network_name}",
        f"sysContact {inventory.organisation or inventory.network_name}",
        "dontLogTCPWrappersConnects yes",
    ]
    lines += [
        f"override {IF_ALIAS}.{index} octet_str {_quoted(alias, always=True)}"
        for index, alias in sorted((aliases or {}).items())
    ]
    if snmp.version == "2c":
        assert snmp.community is not None
        lines.append(f"rocommunity {_quoted(snmp.community.resolve())} {LAB_RANGE}")
    else:
        level = snmp.security_level or "authPriv"
        user = [snmp.username or ""]
        if level != "noAuthNoPriv":
            assert snmp.auth_password is not None
            user += [snmp.auth_protocol or "SHA", _quoted(snmp.auth_password.resolve())]
        if level == "authPriv":
            assert snmp.priv_password is not None
            user += [snmp.priv_protocol or "AES", _quoted(snmp.priv_password.resolve())]
        lines.append("createUser " + " ".join(user))
        lines.append(f"rouser {snmp.username} {SNMP_ACCESS[level]}")
    return "\n".join(lines) + "\n"


def dns_records(server: DNSServer, wrong: bool = False) -> dict[str, tuple[str, ...]]:
    """Name → addresses served for the server's A/AAAA checks: the expected ones, or the wrong one."""
    records: dict[str, tuple[str, ...]] = {}
    for check in server.checks:
        if check.type not in ("A", "AAAA") or not check.expect:
            continue
        name = check.name.rstrip(".")
        addresses = (WRONG_ANSWER,) if wrong else check.expect
        records[name] = tuple(dict.fromkeys(records.get(name, ()) + addresses))
    return records


def zones(records: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    """The zones the server is authoritative for: the shortest checked names (pekalongankota.go.id)."""
    names = sorted(records, key=lambda n: n.count("."))
    found: list[str] = []
    for name in names:
        if not any(name == z or name.endswith("." + z) for z in found):
            found.append(name)
    return tuple(found)


def dnsmasq_config(server: DNSServer, wrong: bool = False) -> str:
    """dnsmasq.conf: authoritative answers for the checked names, NXDOMAIN for other names in the zone,
    REFUSED for everything else; no upstream, no /etc/hosts, no DHCP."""
    records = dns_records(server, wrong)
    lines = [
        "no-resolv",
        "no-hosts",
        "no-poll",
        "bind-interfaces",
        f"listen-address={server.address}",
        f"port={server.port}",
        "log-facility=-",
        "pid-file=",
    ]
    served_zones = zones(records)
    if served_zones:
        lines.append(f"auth-server=ns.{served_zones[0]},{server.address}")
    for zone in served_zones:
        lines += [f"auth-zone={zone}", f"local=/{zone}/"]
    for name, addresses in records.items():
        valid = [str(ipaddress.ip_address(a)) for a in addresses]
        lines.append(f"host-record={name},{','.join(valid)}")
    return "\n".join(lines) + "\n"


def interface_aliases(node: Node, inventory: Inventory) -> dict[str, str]:
    """Interface name → description, as an operator would write it on the device's ports."""
    names = {target.id: target.name for target in inventory.targets()}
    upstream = node.uplink.upstream_id
    aliases = {node.uplink.target_ifname: f"uplink to {names[upstream]}" if upstream else "uplink to the NOC"}
    aliases.update({link.upstream_ifname: names[link.target_id] for link in node.downlinks})
    aliases.update({port: f"access port {n}" for n, port in enumerate(node.access_ports, start=1)})
    return aliases


def _quoted(text: str, always: bool = False) -> str:
    """snmpd.conf tokens with spaces or quotes must be quoted; the text itself stays verbatim."""
    if always or any(c in text for c in ' \t"#'):
        escaped = text.replace("\\", "\\\\").replace('"', '\\"')
        return f'"{escaped}"'
    return text
