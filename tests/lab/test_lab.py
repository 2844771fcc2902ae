"""The lab against the real kernel, snmpd and dnsmasq: reachability, cuts, SNMP, DNS and a clean down."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import dns.exception
import dns.message
import dns.query
import dns.rcode
import pytest

from lab.network import ROUTE_PROTOCOL, Lab
from lab.plan import LAB_RANGE
from lab.services import WRONG_ANSWER
from tests.support import require_binary

SYS_UPTIME = "1.3.6.1.2.1.1.3.0"
SYS_NAME = "1.3.6.1.2.1.1.5.0"
IF_NAME = "1.3.6.1.2.1.31.1.1.1.1"
IF_ADMIN_STATUS = "1.3.6.1.2.1.2.2.1.7"
IF_OPER_STATUS = "1.3.6.1.2.1.2.2.1.8"
IF_ALIAS = "1.3.6.1.2.1.31.1.1.1.18"
IF_HC_OUT_OCTETS = "1.3.6.1.2.1.31.1.1.1.10"
SNMP_CACHE_SECONDS = 8.0


def unreachable(lab: Lab) -> set[str]:
    return {target for target, answered in lab.reachable().items() if not answered}


def snmp_args(lab: Lab, device_id: str) -> list[str]:
    """Command-line credentials for net-snmp tools, taken from the inventory's secret references."""
    device = next(d for d in lab.inventory.devices if d.id == device_id)
    snmp = device.snmp
    assert snmp is not None
    if snmp.version == "2c":
        assert snmp.community is not None
        return ["-v2c", "-c", snmp.community.resolve()]
    assert snmp.auth_password is not None and snmp.priv_password is not None
    return [
        "-v3",
        "-l",
        "authPriv",
        "-u",
        snmp.username or "",
        "-a",
        snmp.auth_protocol or "SHA",
        "-A",
        snmp.auth_password.resolve(),
        "-x",
        snmp.priv_protocol or "AES",
        "-X",
        snmp.priv_password.resolve(),
    ]


def snmp(lab: Lab, tool: str, device_id: str, *oids: str) -> dict[str, str]:
    """OID → value (numeric OIDs, bare values) from snmpget/snmpwalk against a lab device."""
    binary = require_binary(tool)
    result = subprocess.run(
        [
            binary,
            *snmp_args(lab, device_id),
            "-m",
            "",
            "-Onqt",
            "-t",
            "1",
            "-r",
            "1",
            lab.address(device_id),
            *oids,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=20,
    )
    values = {}
    for line in result.stdout.splitlines():
        oid, _, value = line.partition(" ")
        values[oid.lstrip(".")] = value.strip().strip('"')
    return values


def snmp_eventually(lab: Lab, device_id: str, expected: dict[str, str]) -> dict[str, str]:
    """snmpget of the expected OIDs until they have the expected values, or the last answer after a few
    seconds: snmpd caches its interface table, so a change in the namespace reaches SNMP a bit later."""
    deadline = time.monotonic() + SNMP_CACHE_SECONDS
    while True:
        current = snmp(lab, "snmpget", device_id, *expected)
        if current == expected or time.monotonic() > deadline:
            return current
        time.sleep(0.25)


def interface_index(lab: Lab, device_id: str, ifname: str) -> str:
    names = snmp(lab, "snmpwalk", device_id, IF_NAME)
    return next(oid.rsplit(".", 1)[1] for oid, name in names.items() if name == ifname)


def dns_answer(server: str, name: str) -> list[str]:
    query = dns.message.make_query(name, "A")
    response = dns.query.udp(query, server, timeout=1.0)
    assert response.rcode() == dns.rcode.NOERROR
    return sorted(item.address for rrset in response.answer for item in rrset)


def test_every_target_answers_ping_from_the_host(lab: Lab) -> None:
    assert unreachable(lab) == set()


def test_status_reports_everything_up(lab: Lab) -> None:
    status = lab.status()
    assert status.up
    assert all(status.namespaces.values())
    assert {(p.target, p.program) for p in status.processes} == {
        ("core-router", "snmpd"),
        ("dist-sw1", "snmpd"),
        ("dist-sw2", "snmpd"),
        ("dns1", "dnsmasq"),
        ("dns2", "dnsmasq"),
    }
    assert all(p.alive for p in status.processes)
    assert all(link.target_side == "UP" and link.upstream_side == "UP" for link in status.links)
    assert all(status.reachable.values()) and len(status.reachable) == len(lab.plan.nodes)


def test_status_json_from_the_cli(lab: Lab) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "lab.cli",
            "--inventory",
            str(lab.inventory_path),
            "--run-dir",
            str(lab.run_dir),
            "status",
            "--json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    status = json.loads(result.stdout)
    assert status["up"] is True
    assert set(status["reachable"]) == set(lab.plan.addresses())


def test_cut_of_an_opd_makes_exactly_it_unreachable(lab: Lab) -> None:
    try:
        lab.cut("setda")
        assert unreachable(lab) == {"setda"}
        assert "setda" in lab.status(probe=False).cut
    finally:
        lab.restore("setda")
    assert unreachable(lab) == set()


def test_cut_of_a_switch_takes_everything_behind_it(lab: Lab) -> None:
    behind = set(lab.inventory.behind("dist-sw1"))
    assert behind == {"setda", "setwan", "bappeda", "dinkes", "bpkad", "inspektorat"}
    try:
        lab.cut("dist-sw1")
        assert unreachable(lab) == {"dist-sw1", *behind}
        # like a cut cable: the core router's port to the switch is administratively up, operationally down
        index = interface_index(lab, "core-router", "dl-dist-sw1")
        admin, oper = f"{IF_ADMIN_STATUS}.{index}", f"{IF_OPER_STATUS}.{index}"
        up_but_no_carrier = {admin: "1", oper: "2"}
        assert snmp_eventually(lab, "core-router", up_but_no_carrier) == up_but_no_carrier
    finally:
        lab.restore("dist-sw1")
    assert unreachable(lab) == set()


def test_cut_of_the_core_falls_into_the_host_blackhole(lab: Lab) -> None:
    try:
        lab.cut("core-router")
        assert unreachable(lab) == set(lab.plan.addresses())
        route = subprocess.run(
            ["ip", "route", "get", "198.18.1.2"], capture_output=True, text=True, check=False
        )
        # with the only link down, the lab range resolves to the blackhole: the kernel refuses to send
        assert route.returncode != 0 or "blackhole" in route.stdout
    finally:
        lab.restore("core-router")
    assert unreachable(lab) == set()


def test_lab_range_outside_the_lab_is_blackholed(lab: Lab) -> None:
    route = subprocess.run(
        ["ip", "route", "get", "198.19.200.1"], capture_output=True, text=True, check=False
    )
    assert route.returncode != 0 or "blackhole" in route.stdout


@pytest.mark.parametrize("device_id", ["core-router", "dist-sw1", "dist-sw2"])
def test_snmp_answers_with_the_inventory_credentials(lab: Lab, device_id: str) -> None:
    values = snmp(lab, "snmpget", device_id, SYS_UPTIME, SYS_NAME)
    assert int(values[SYS_UPTIME]) > 0
    assert values[SYS_NAME] == device_id


def test_snmp_v3_is_refused_with_a_wrong_passphrase(lab: Lab) -> None:
    binary = require_binary("snmpget")
    args = snmp_args(lab, "dist-sw1")
    args[args.index("-X") + 1] = "not-the-passphrase"
    result = subprocess.run(
        [binary, *args, "-m", "", "-t", "1", "-r", "0", lab.address("dist-sw1"), SYS_UPTIME],
        capture_output=True,
        text=True,
        timeout=20,
        check=False,
    )
    assert result.returncode != 0


def test_snmp_serves_the_namespace_interfaces(lab: Lab) -> None:
    names = set(snmp(lab, "snmpwalk", "dist-sw1", IF_NAME).values())
    assert names == {"lo", *lab.interfaces("dist-sw1")}
    assert {"uplink", "dl-setda", "access1", "access4"} <= names


def test_snmp_serves_port_descriptions_as_ifalias(lab: Lab) -> None:
    names = snmp(lab, "snmpwalk", "dist-sw1", IF_NAME)
    aliases = snmp(lab, "snmpwalk", "dist-sw1", IF_ALIAS)
    by_name = {name: aliases[f"{IF_ALIAS}.{oid.rsplit('.', 1)[1]}"] for oid, name in names.items()}
    assert by_name["dl-setda"] == "Sekretariat Daerah"
    assert by_name["uplink"] == "uplink to Router inti Diskominfo"
    assert by_name["access2"] == "access port 2"
    assert by_name["lo"] == ""


def test_snmp_fail_silences_snmp_but_not_ping(lab: Lab) -> None:
    try:
        lab.snmp_fail("dist-sw2")
        with pytest.raises(subprocess.CalledProcessError):
            snmp(lab, "snmpget", "dist-sw2", SYS_UPTIME)
        assert lab.reachable(["dist-sw2"]) == {"dist-sw2": True}
        assert snmp(lab, "snmpget", "dist-sw1", SYS_NAME) == {SYS_NAME: "dist-sw1"}
    finally:
        lab.snmp_restore("dist-sw2")
    assert snmp(lab, "snmpget", "dist-sw2", SYS_NAME) == {SYS_NAME: "dist-sw2"}


def test_reboot_restarts_sysuptime_and_keeps_v3_working(lab: Lab) -> None:
    time.sleep(1.5)  # so that a restarted uptime is distinguishable from a running one
    before = int(snmp(lab, "snmpget", "dist-sw1", SYS_UPTIME)[SYS_UPTIME])
    lab.reboot("dist-sw1")
    after = int(snmp(lab, "snmpget", "dist-sw1", SYS_UPTIME)[SYS_UPTIME])
    assert before >= 150 and after < before  # hundredths of a second


def test_interface_counters_count_real_traffic(lab: Lab) -> None:
    index = interface_index(lab, "core-router", "dl-dist-sw1")
    out_octets = f"{IF_HC_OUT_OCTETS}.{index}"
    before = int(snmp(lab, "snmpget", "core-router", out_octets)[out_octets])
    fping = require_binary("fping")
    subprocess.run([fping, "-q", "-c", "20", "-p", "20", "-b", "1000", lab.address("setda")], check=True)
    deadline = time.monotonic() + SNMP_CACHE_SECONDS
    after = before
    while after - before < 20 * 1000 and time.monotonic() < deadline:
        time.sleep(0.5)
        after = int(snmp(lab, "snmpget", "core-router", out_octets)[out_octets])
    assert after - before >= 20 * 1000  # 20 echoes of 1000 bytes went out of that port


def test_interface_down_and_up_show_in_snmp(lab: Lab) -> None:
    index = interface_index(lab, "dist-sw1", "access1")
    admin, oper = f"{IF_ADMIN_STATUS}.{index}", f"{IF_OPER_STATUS}.{index}"
    up, down = {admin: "1", oper: "1"}, {admin: "2", oper: "2"}
    assert snmp_eventually(lab, "dist-sw1", up) == up
    try:
        lab.interface_down("dist-sw1", "access1")
        assert snmp_eventually(lab, "dist-sw1", down) == down
    finally:
        lab.interface_up("dist-sw1", "access1")
    assert snmp_eventually(lab, "dist-sw1", up) == up


def test_interface_down_of_a_downlink_cuts_the_opd_without_loops(lab: Lab) -> None:
    try:
        lab.interface_down("dist-sw1", "dl-setda")
        assert unreachable(lab) == {"setda"}
    finally:
        lab.interface_up("dist-sw1", "dl-setda")
    assert unreachable(lab) == set()


def test_dns_answers_the_inventory_expectations(lab: Lab) -> None:
    for server in lab.inventory.dns_servers:
        for check in server.checks:
            assert dns_answer(server.address, check.name) == sorted(check.expect)


def test_dns_other_names_in_the_zone_are_nxdomain_and_others_refused(lab: Lab) -> None:
    server = lab.address("dns1")
    unknown = dns.query.udp(dns.message.make_query("nope.pekalongankota.go.id", "A"), server, timeout=1.0)
    assert unknown.rcode() == dns.rcode.NXDOMAIN
    outside = dns.query.udp(dns.message.make_query("example.com", "A"), server, timeout=1.0)
    assert outside.rcode() == dns.rcode.REFUSED


def test_dns_fail_stops_answering_and_restore_brings_it_back(lab: Lab) -> None:
    server = lab.address("dns1")
    try:
        lab.dns_fail("dns1")
        with pytest.raises((dns.exception.Timeout, ConnectionRefusedError)):
            dns.query.udp(dns.message.make_query("pekalongankota.go.id", "A"), server, timeout=1.0)
        assert dns_answer(lab.address("dns2"), "pekalongankota.go.id") == ["198.18.2.80"]
    finally:
        lab.dns_restore("dns1")
    assert dns_answer(server, "pekalongankota.go.id") == ["198.18.2.80"]


def test_dns_wrong_serves_a_wrong_answer_until_right(lab: Lab) -> None:
    server = lab.address("dns1")
    try:
        lab.dns_wrong("dns1")
        assert dns_answer(server, "www.pekalongankota.go.id") == [WRONG_ANSWER]
        assert dns_answer(server, "mail.pekalongankota.go.id") == [WRONG_ANSWER]
    finally:
        lab.dns_right("dns1")
    assert dns_answer(server, "www.pekalongankota.go.id") == ["198.18.2.80"]


def test_reset_undoes_every_fault(lab: Lab) -> None:
    try:
        lab.cut("isp-metro")
        lab.cut("kec-barat")
        lab.interface_down("dist-sw2", "dl-dindik")
        lab.dns_wrong("dns2")
        lab.dns_fail("dns2")
        lab.snmp_fail("core-router")
        assert unreachable(lab) == {
            "isp-metro",
            "kec-barat",
            "kec-timur",
            "kec-utara",
            "kec-selatan",
            "dindik",
        }
    finally:
        lab.reset()
    assert unreachable(lab) == set()
    status = lab.status(probe=False)
    assert (status.cut, status.interfaces_down, status.dns_failed, status.dns_wrong, status.snmp_failed) == (
        [],
        {},
        [],
        [],
        [],
    )
    assert all(process.alive for process in status.processes) and len(status.processes) == 5
    assert dns_answer(lab.address("dns2"), "pekalongankota.go.id") == ["198.18.2.80"]


def leftovers(lab: Lab) -> list[str]:
    """Anything of the lab still on the machine: namespaces, host links, lab-range routes, processes."""
    found = []
    namespaces = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    found += [f"namespace {ns}" for ns in lab.plan.namespaces if ns in namespaces.split()]
    links = json.loads(
        subprocess.run(["ip", "-j", "link", "show"], capture_output=True, text=True, check=True).stdout
    )
    host_links = {link.upstream_ifname for link in lab.plan.host_links}
    found += [f"link {entry['ifname']}" for entry in links if entry["ifname"] in host_links]
    routes = json.loads(
        subprocess.run(
            ["ip", "-j", "route", "show", "table", "all"], capture_output=True, text=True, check=True
        ).stdout
    )
    for route in routes:
        if route.get("protocol") == ROUTE_PROTOCOL or route.get("dev") in host_links:
            found.append(f"route {route}")
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().decode(errors="replace")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(lab.run_dir) in cmdline and state != "Z":
            found.append(f"process {proc.name}: {cmdline}")
    return found


def host_blackholes() -> list[dict]:
    result = subprocess.run(
        ["ip", "-j", "route", "show", "exact", str(LAB_RANGE), "type", "blackhole"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout or "[]")


def test_a_blackhole_covers_the_lab_range_while_up(lab: Lab) -> None:
    # the lab's own (marked ROUTE_PROTOCOL), or one another program (the exporter benchmark) left in place
    assert len(host_blackholes()) == 1


def test_down_leaves_nothing_even_after_a_crash(lab: Lab) -> None:
    try:
        assert lab.down() == []
        assert leftovers(lab) == []
        assert lab.down() == []  # idempotent

        lab.up()
        lab.cut("dist-sw1")
        lab.state_path.unlink()  # as if the process that brought it up had been killed and lost its state
        assert lab.down() == []
        assert leftovers(lab) == []
    finally:
        lab.down()
        lab.up()
    assert unreachable(lab) == set()


def test_a_blackhole_set_up_by_someone_else_is_left_alone(lab: Lab) -> None:
    lab.down()
    foreign = host_blackholes()
    added = not foreign
    try:
        if added:
            subprocess.run(["ip", "route", "add", "blackhole", str(LAB_RANGE), "proto", "static"], check=True)
            foreign = host_blackholes()
        lab.up()
        assert unreachable(lab) == set()
        assert host_blackholes() == foreign
        assert lab.down() == []
        assert host_blackholes() == foreign
    finally:
        if added:
            subprocess.run(
                ["ip", "route", "del", "blackhole", str(LAB_RANGE), "proto", "static"], check=False
            )
        lab.down()
        lab.up()
    assert len(host_blackholes()) == 1
