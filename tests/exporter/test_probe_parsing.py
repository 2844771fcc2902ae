"""The pure part of the DNS probe: judging answers (the SNMP ones are in test_snmp_*.py)."""

import dns.message
import dns.rcode
import dns.rrset

from batiknet.inventory import DNSCheck
from exporter.probes.dns import judge


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
