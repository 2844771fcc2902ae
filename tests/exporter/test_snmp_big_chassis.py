"""A big chassis behind a slow agent: 1,317 interfaces, every answer 30 ms late (snmpsim behind a relay on
loopback), walked as the scheduler walks it (cut at 0.9 × the interval). Every round must complete, with
GETBULK requests sized to the table: as few as the agent's answer size allows, not 2 rows a request past
the 73rd (633 requests a round before). A walk cut short keeps what it learnt, and the next one completes.
"""

from __future__ import annotations

import asyncio
import math

import pytest

from batiknet.inventory import Device as InventoryDevice
from exporter.probes.snmp import SNMPAuth, SNMPWalker
from exporter.probes.snmp_interfaces import INTERFACES
from exporter.probes.snmp_profiles import BY_NAME

from .snmp_simulator import Device, SlowRelay, big_chassis_recording, simulated

pytestmark = pytest.mark.system  # snmpsim serves the recordings

PORTS = 1317
DELAY = 0.030
INTERVAL = 30.0  # a 30 s SNMP interval: the scheduler cuts a walk at 0.9 × this
AGENT_VARBINDS = 64  # what snmpsim (pysnmp's responder) puts in one GETBULK answer at most
ROUNDS = 3


def least_requests(rows: int, columns: int) -> int:
    """GETBULK requests a table of ``rows`` needs at the least from this agent: every answer full, and one
    more row asked to see the table's end."""
    return math.ceil((rows + 1) / (AGENT_VARBINDS // columns))


def walk_rounds(port: int, deadlines: list[float]) -> list[tuple[object, dict[str, int]]]:
    """Walk rounds one after the other with one walker, each cut at its deadline as the scheduler cuts it:
    each round's result (None when cut) and the table sizes the walker knew after it."""
    device = InventoryDevice("big", "big", "127.0.0.1", None, "switch", {})
    auth = SNMPAuth("2c", port, community="big")

    async def run():
        walker = SNMPWalker()
        results = []
        try:
            for deadline in deadlines:
                try:
                    result = await asyncio.wait_for(walker.walk(device, auth, 2.0, 1), deadline)
                except TimeoutError:
                    result = None
                results.append((result, dict(walker._cache["big"].rows)))
        finally:
            walker.close()
        return results

    return asyncio.run(run())


def test_a_1317_port_switch_behind_a_30_ms_agent_completes_every_round(tmp_path):
    simulated_device = Device("big", big_chassis_recording(tmp_path / "big.snmprec", PORTS))
    with (
        simulated([simulated_device], tmp_path / "snmpsim"),
        SlowRelay(simulated_device.port, DELAY) as relay,
    ):
        results = [result for result, _ in walk_rounds(relay.port, [0.9 * INTERVAL] * ROUNDS)]
    assert all(result is not None and result.reason == "ok" for result in results), results
    assert all(len(result.interfaces) == PORTS for result in results)
    assert results[-1].cpu_ratio == 0.23 and results[-1].profile == "cisco"
    # Steady rounds: the scalars, the interface columns, and the Cisco profile's tables (one row or none).
    steady = 1 + least_requests(PORTS, len(INTERFACES.columns)) + len(BY_NAME["cisco"].tables)
    assert all(result.requests <= steady for result in results[1:]), [r.requests for r in results]


def test_a_walk_cut_short_keeps_what_it_learnt(tmp_path):
    simulated_device = Device("big", big_chassis_recording(tmp_path / "big.snmprec", PORTS))
    with (
        simulated([simulated_device], tmp_path / "snmpsim"),
        SlowRelay(simulated_device.port, DELAY) as relay,
    ):
        (cut, learnt), (complete, _) = walk_rounds(relay.port, [2.0, 0.9 * INTERVAL])
    assert cut is None  # 2 s is far too short for this walk
    assert 0 < learnt["interfaces"] < PORTS  # the rows fetched before the cut
    assert complete is not None and complete.reason == "ok" and len(complete.interfaces) == PORTS
