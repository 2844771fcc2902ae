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
                temperatures=(("CPU", 41.5),),
                profile="standard",
                profile_chosen_by="sysObjectID",
                sys_object_id="1.3.6.1.4.1.8072.3.2.10",
                interfaces=(
                    Interface(
                        index=1,
                        name='ether1 "uplink"',
                        alias="Telkom \\ backup\nline",
                        oper_up=True,
                        admin_up=True,
                        receive_bytes=2**64 - 1,
                        transmit_bytes=0,
                        receive_counter_bits=64,
                        transmit_counter_bits=64,
                        receive_errors=1,
                        transmit_errors=2,
                        speed_bytes_per_second=1.25e8,
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
