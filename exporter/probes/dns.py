"""One DNS lookup against one server, judged against what the inventory expects.

The query type is the check's (A unless configured; the inventory refuses ANY). The answer is right when
the records of the asked type in the answer section are exactly the expected ones (when the inventory
lists any). Every failure has one reason from :data:`REASONS`.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass

import dns.asyncbackend
import dns.asyncquery
import dns.exception
import dns.inet
import dns.message
import dns.rcode
import dns.rdatatype

from batiknet.inventory import DNSCheck

__all__ = ["REASONS", "DNSResult", "judge", "lookup"]

REASONS = ("timeout", "refused", "servfail", "nxdomain", "wrong_answer", "network")


@dataclass(frozen=True)
class DNSResult:
    server: str  # server id
    name: str
    reason: str | None  # None when the lookup succeeded with the expected answer
    duration: float | None  # seconds until the response; None when no response came
    answers: tuple[str, ...] = ()

    @property
    def up(self) -> bool:
        return self.reason is None


def _normalise(record: str) -> str:
    return record.rstrip(".").lower()


def judge(response: dns.message.Message, check: DNSCheck) -> tuple[str | None, tuple[str, ...]]:
    """The failure reason of a response (None when good) and the answers of the asked type."""
    rcode = response.rcode()
    if rcode == dns.rcode.NXDOMAIN:
        return "nxdomain", ()
    if rcode == dns.rcode.SERVFAIL:
        return "servfail", ()
    if rcode == dns.rcode.REFUSED:
        return "refused", ()
    if rcode != dns.rcode.NOERROR:
        return "servfail", ()
    wanted = dns.rdatatype.from_text(check.type)
    answers = tuple(
        sorted(
            _normalise(rdata.to_text())
            for rrset in response.answer
            if rrset.rdtype == wanted
            for rdata in rrset
        )
    )
    if not answers:
        return "wrong_answer", ()
    if check.expect and set(answers) != {_normalise(e) for e in check.expect}:
        return "wrong_answer", answers
    return None, answers


async def lookup(server_id: str, address: str, port: int, check: DNSCheck, timeout: float) -> DNSResult:
    query = dns.message.make_query(check.name, check.type)
    backend = dns.asyncbackend.get_default_backend()
    family = dns.inet.af_for_address(address)
    started = time.monotonic()
    try:
        # A connected socket, so that "port unreachable" comes back as ECONNREFUSED instead of a timeout.
        async with await backend.make_socket(family, socket.SOCK_DGRAM, 0, None, (address, port)) as sock:
            response = await dns.asyncquery.udp(query, address, timeout=timeout, port=port, sock=sock)
    except dns.exception.Timeout:
        return DNSResult(server_id, check.name, "timeout", None)
    except ConnectionRefusedError:
        # ICMP port unreachable: nothing listens on the server's port.
        return DNSResult(server_id, check.name, "refused", None)
    except (OSError, EOFError, dns.exception.DNSException):
        return DNSResult(server_id, check.name, "network", None)
    duration = time.monotonic() - started
    reason, answers = judge(response, check)
    return DNSResult(server_id, check.name, reason, duration, answers)
