"""The pure parts of the DNS and SNMP probes: judging answers, turning columns into interfaces."""

import dns.message
import dns.rcode
import dns.rrset

from batiknet.inventory import DNSCheck, InterfaceSelection
from exporter.probes import snmp
from exporter.probes.dns import judge

from .fakes import inventory


def response(name: str, *addresses: str, rcode: int = dns.rcode.NOERROR) -> dns.message.Message:
    message = dns.message.make_response(dns.message.make_query(name, "A"))
    message.set_rcode(rcode)
    if addresses:
        message.answer.append(dns.rrset.from_text(name, 60, "IN", "A", *addresses))
    return message


def test_expected_answer_is_good():
    check = DNSCheck("pekalongankota.go.id", "A", ("198.51.100.80",))
    assert judge(response("pekalongankota.go.id", "198.51.100.80"), check) == (None, ("198.51.100.80",))


def test_other_answer_is_wrong_answer():
    check = DNSCheck("pekalongankota.go.id", "A", ("198.51.100.80",))
    assert judge(response("pekalongankota.go.id", "203.0.113.66"), check)[0] == "wrong_answer"


def test_an_empty_answer_is_wrong_even_without_expectations():
    assert judge(response("pekalongankota.go.id"), DNSCheck("pekalongankota.go.id"))[0] == "wrong_answer"


def test_rcodes_map_to_reasons():
    check = DNSCheck("x.example")
    assert judge(response("x.example", rcode=dns.rcode.NXDOMAIN), check)[0] == "nxdomain"
    assert judge(response("x.example", rcode=dns.rcode.SERVFAIL), check)[0] == "servfail"
    assert judge(response("x.example", rcode=dns.rcode.REFUSED), check)[0] == "refused"


def device(include=(".*",), exclude=()):
    base = inventory().target("core")
    return type(base)(**{**base.__dict__, "interfaces": InterfaceSelection(tuple(include), tuple(exclude))})


COLUMNS = {
    snmp.IF_OPER_STATUS: {1: 1, 2: 2, 3: 1, 4: 1},
    snmp.IF_ADMIN_STATUS: {1: 1, 2: 1, 3: 1, 4: 2},
    snmp.IF_HC_IN_OCTETS: {1: 2**40, 2: 5},
    snmp.IF_HIGH_SPEED: {1: 1000},
}
NAMES = {
    snmp.IF_NAME: {1: "ether1", 2: "ether2", 3: "vlan", 4: "vlan"},
    snmp.IF_ALIAS: {1: "uplink Telkom"},
    snmp.IF_DESCR: {1: "ether1", 2: "ether2", 3: "vlan", 4: "vlan"},
}


def test_interfaces_from_columns_and_selection():
    interfaces = snmp.interfaces_from_columns(COLUMNS, NAMES, device(exclude=("^vlan",)))
    assert [i.name for i in interfaces] == ["ether1", "ether2"]
    first, second = interfaces
    assert first.oper_up and first.admin_up and not second.oper_up
    assert first.receive_bytes == 2**40 and first.speed_bits_per_second == 1e9
    assert first.alias == "uplink Telkom" and second.alias == ""


def test_repeated_interface_names_stay_unique():
    names = [i.name for i in snmp.interfaces_from_columns(COLUMNS, NAMES, device())]
    assert names == ["ether1", "ether2", "vlan#3", "vlan#4"]


def test_usage_ratios_from_host_resources():
    columns = {
        snmp.HR_PROCESSOR_LOAD: {1: 10, 2: 30},
        snmp.HR_STORAGE_TYPE: {1: (1, 3, 6, 1, 2, 1, 25, 2, 1, 4), 2: snmp.HR_STORAGE_RAM},
        snmp.HR_STORAGE_SIZE: {1: 100, 2: 1000},
        snmp.HR_STORAGE_USED: {1: 90, 2: 250},
    }
    assert snmp.usage_ratios(columns) == (0.2, 0.25)


def test_usage_ratios_from_cisco_mibs_when_host_resources_is_absent():
    columns = {
        snmp.CISCO_CPU_5MIN: {1: 40},
        snmp.CISCO_MEMORY_USED: {1: 300},
        snmp.CISCO_MEMORY_FREE: {1: 700},
    }
    assert snmp.usage_ratios(columns) == (0.4, 0.3)
    assert snmp.usage_ratios({}) == (None, None)
