"""A small inventory and fake probe results for the exporter's unit tests (no network, no clock)."""

from __future__ import annotations

from pathlib import Path

from batiknet.inventory import Inventory, parse_inventory
from exporter.probes.icmp import EchoResult, RoundResult

DOCUMENT = {
    "version": 1,
    "isps": [
        {
            "id": "isp-a",
            "name": "ISP A",
            "address": "192.0.2.1",
            "upstream": "core",
            "support": {"phone": "+62 21 000", "email": "noc@isp-a.example"},
        },
    ],
    "devices": [
        {
            "id": "core",
            "name": "Core router",
            "kind": "router",
            "address": "192.0.2.2",
            "snmp": {"version": "2c", "community": {"env": "TEST_COMMUNITY"}},
        },
        {
            "id": "dist",
            "name": "Distribution switch",
            "kind": "switch",
            "address": "192.0.2.3",
            "upstream": "core",
            "icmp": {"interval": "5s", "timeout": "1s", "count": 2},
        },
    ],
    "dns_servers": [
        {
            "id": "dns1",
            "name": "DNS",
            "address": "192.0.2.53",
            "upstream": "core",
            "checks": [{"name": "pekalongankota.go.id", "expect": ["198.51.100.80"]}],
        },
    ],
    "opds": [
        {
            "id": "setda",
            "name": "Sekretariat Daerah",
            "kecamatan": "Pekalongan Barat",
            "address": "198.51.100.2",
            "upstream": "dist",
            "isp": "isp-a",
        },
        {
            "id": "dinkes",
            "name": "Dinas Kesehatan",
            "kecamatan": "Pekalongan Barat",
            "address": "198.51.100.6",
            "upstream": "dist",
            "isp": "isp-a",
        },
        {
            "id": "kec-utara",
            "name": "Kecamatan Pekalongan Utara",
            "kecamatan": "Pekalongan Utara",
            "address": "198.51.100.10",
            "upstream": "isp-a",
        },
    ],
}


def inventory() -> Inventory:
    return parse_inventory(DOCUMENT, Path("test-inventory.yml"))


def echo(inventory: Inventory, target: str, *rtts: float, sent: int = 3) -> EchoResult:
    return EchoResult(target=target, address=inventory.target(target).address, sent=sent, rtts=tuple(rtts))


def round_where(inventory: Inventory, silent: set[str]) -> list[EchoResult]:
    """Every target answers all three echoes in 1 ms, except the silent ones."""
    return [
        echo(inventory, t.id, *(() if t.id in silent else (0.001, 0.001, 0.001))) for t in inventory.targets()
    ]


class FakeICMP:
    """An ICMP engine without sockets (no root needed): every address answers each echo in 1 ms, except
    the targets or addresses named silent. Records the targets of each round."""

    def __init__(self, silent: set[str] = frozenset()) -> None:
        self.silent = set(silent)
        self.rounds: list[list[str]] = []

    async def round(self, targets, count, timeout, spacing) -> RoundResult:
        self.rounds.append([target for target, _ in targets])
        results = tuple(
            EchoResult(
                target=target,
                address=address,
                sent=count,
                rtts=() if {target, address} & self.silent else (0.001,) * count,
            )
            for target, address in targets
        )
        return RoundResult(results=results, duration=0.01, receive_lag=0.0)

    def close(self) -> None:
        pass
