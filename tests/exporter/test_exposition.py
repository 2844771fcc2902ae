"""Our text writer must give exactly what prometheus_client's generate_latest gives."""

import random

from prometheus_client import CollectorRegistry, generate_latest

from exporter.collector import BatiknetCollector
from exporter.exposition import render
from exporter.probes.dns import DNSResult
from exporter.probes.snmp import Interface, SNMPResult
from exporter.store import Store

from .fakes import echo, inventory


def test_byte_for_byte_the_same_as_generate_latest():
    inv = inventory()
    store = Store(inv)
    rng = random.Random(3)
    store.record_icmp(
        [echo(inv, t.id, *(rng.random() / 100 for _ in range(rng.randrange(4)))) for t in inv.targets()]
    )
    store.record_dns([DNSResult("dns1", "pekalongankota.go.id", "wrong_answer", 0.003, ("203.0.113.1",))])
    store.record_snmp(
        [
            SNMPResult(
                "core",
                "ok",
                uptime_seconds=12.5,
                cpu_ratio=0.1,
                memory_ratio=0.3,
                interfaces=(
                    Interface(
                        1, 'ether1 "uplink"', "Telkom \\ backup\nline", True, True, 2**64 - 1, 0, 1, 2, 1e9
                    ),
                ),
            ),
        ]
    )
    store.record_cycle("icmp", 0.5, 1_700_000_000.5)
    collector = BatiknetCollector(store)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    expected = generate_latest(registry)
    assert b'alias="Telkom \\\\ backup\\nline"' in expected  # the escaping is really exercised
    assert render(collector.collect()) == expected
