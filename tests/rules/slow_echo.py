"""A degraded OPD for the lab: answers ICMP echo requests from user space, late and not all of them.

The lab's kernel has no netem qdisc, so latency and loss are made here instead: run inside a lab
namespace whose kernel echo replies are switched off (``net.ipv4.icmp_echo_ignore_all=1``), this answers
one echo request in ``--answer-every`` after ``--delay`` seconds. Used by test_expressions.py to make
BatiknetOPDPacketLoss and BatiknetOPDHighLatency (and the panels showing loss and RTT) real.

    ip netns exec bnl-bappeda python slow_echo.py --delay 0.2 --answer-every 3
"""

from __future__ import annotations

import argparse
import socket
import struct
import threading

ECHO_REQUEST, ECHO_REPLY = 8, 0


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_reply(request: bytes) -> bytes:
    """The reply to an ICMP echo request (ICMP header and payload, no IP header): same id, sequence, data."""
    body = request[4:]
    unsummed = struct.pack("!BBH", ECHO_REPLY, 0, 0) + body
    return struct.pack("!BBH", ECHO_REPLY, 0, checksum(unsummed)) + body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--delay", type=float, required=True, help="seconds before each answer")
    parser.add_argument("--answer-every", type=int, required=True, help="answer one request in N")
    args = parser.parse_args()
    sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    seen = 0
    while True:
        packet, (source, _) = sock.recvfrom(65535)
        icmp = packet[(packet[0] & 0x0F) * 4 :]
        if icmp[0] != ECHO_REQUEST:
            continue
        seen += 1
        if seen % args.answer_every:
            continue
        reply = echo_reply(icmp)
        threading.Timer(args.delay, sock.sendto, (reply, (source, 0))).start()


if __name__ == "__main__":
    main()
