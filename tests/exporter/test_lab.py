"""The exporter against the simulated Batik.Net (lab/inventory.yml): real namespaces, snmpd, dnsmasq.

One exporter process runs for the module, with the lab's own intervals (ICMP 2 s, DNS 5 s, SNMP 10 s).
Each test breaks one thing, polls /metrics until the expected samples appear (or a deadline passes),
and mends it in a ``finally``.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from batiknet.inventory import load_inventory
from exporter.scheduler import echo_spacing

LAB_INVENTORY = Path(__file__).resolve().parents[2] / "lab" / "inventory.yml"
INVENTORY = load_inventory(LAB_INVENTORY)
ICMP_INTERVAL = INVENTORY.opds[0].probes["icmp"].interval
SNMP_INTERVAL = INVENTORY.devices[0].probes["snmp"].interval
DNS_INTERVAL = INVENTORY.dns_servers[0].probes["dns"].interval

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


class Exporter:
    def __init__(self, port: int, process: subprocess.Popen[bytes], log: Path) -> None:
        self.port, self.process, self.log = port, process, log

    def samples(self) -> Samples:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/metrics", timeout=5) as response:
            text = response.read().decode()
        return {
            (sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text)
            for sample in family.samples
        }

    def value(self, samples: Samples, metric: str, **labels: str) -> float | None:
        return samples.get((metric, frozenset(labels.items())))

    def wait(self, condition: Callable[[Samples], bool], deadline: float, what: str) -> Samples:
        """Poll until ``condition`` holds; fail after ``deadline`` seconds saying what was awaited."""
        end = time.monotonic() + deadline
        samples: Samples = {}
        while time.monotonic() < end:
            try:
                samples = self.samples()
            except OSError:
                samples = {}
            if samples and condition(samples):
                return samples
            time.sleep(0.25)
        pytest.fail(f"not within {deadline:g}s: {what}\nexporter log:\n{self.log.read_text()[-3000:]}")

    def status(self, samples: Samples, target: str) -> str | None:
        for status in ("up", "down", "unreachable"):
            if self.value(samples, "batiknet_target_status", target=target, status=status) == 1:
                return status
        return None


@pytest.fixture(scope="module")
def exporter(lab, tmp_path_factory) -> Iterator[Exporter]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path_factory.mktemp("exporter") / "exporter.log"
    with open(log, "w") as log_file:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "exporter.cli",
                "--config.file",
                str(LAB_INVENTORY),
                "--web.listen-address",
                f"127.0.0.1:{port}",
                "--log.level",
                "debug",
            ],
            stderr=log_file,
        )
    running = Exporter(port, process, log)
    try:
        everyone = [t.id for t in INVENTORY.targets()]
        running.wait(
            lambda s: all(running.status(s, t) == "up" for t in everyone),
            4 * ICMP_INTERVAL + 5,
            "every lab target up",
        )
        yield running
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_every_target_up_and_every_device_walked_with_v2c_and_v3(exporter):
    devices = [d.id for d in INVENTORY.devices]
    versions = {d.snmp.version for d in INVENTORY.devices}
    assert versions == {"2c", "3"}  # the lab has both: core-router/dist-sw2 v2c, dist-sw1 v3 authPriv
    samples = exporter.wait(
        lambda s: all(exporter.value(s, "batiknet_snmp_up", device=d) == 1 for d in devices),
        2 * SNMP_INTERVAL + 5,
        "every device walked",
    )
    for device in devices:
        assert exporter.value(samples, "batiknet_device_uptime_seconds", device=device) > 0
        assert exporter.value(samples, "batiknet_interface_up", device=device, interface="uplink") == 1
        assert exporter.value(samples, "batiknet_device_memory_usage_ratio", device=device) is not None


def test_a_cut_office_link_shows_the_office_down_within_two_intervals(lab, exporter):
    lab.cut("setda")
    try:
        started = time.monotonic()
        samples = exporter.wait(
            lambda s: exporter.status(s, "setda") == "down", 2 * ICMP_INTERVAL + 1, "setda down"
        )
        print(f"setda down after {time.monotonic() - started:.1f}s")
        assert exporter.value(samples, "batiknet_target_up", target="setda") == 0
        assert exporter.status(samples, "dinkes") == "up"
    finally:
        lab.restore("setda")
    exporter.wait(lambda s: exporter.status(s, "setda") == "up", 2 * ICMP_INTERVAL + 1, "setda up again")


def test_a_cut_distribution_switch_shows_it_down_and_its_offices_unreachable(lab, exporter):
    behind = INVENTORY.behind("dist-sw1")
    lab.cut("dist-sw1")
    try:
        samples = exporter.wait(
            lambda s: (
                exporter.status(s, "dist-sw1") == "down"
                and all(exporter.status(s, t) == "unreachable" for t in behind)
            ),
            2 * ICMP_INTERVAL + 1,
            "dist-sw1 down, its offices unreachable",
        )
        assert exporter.status(samples, "dist-sw2") == "up"
        assert exporter.value(samples, "batiknet_exporter_targets", status="down") == 1
        # A device that fails ICMP is not walked: its SNMP status says why, without waiting a timeout.
        samples = exporter.wait(
            lambda s: exporter.value(s, "batiknet_snmp_status", device="dist-sw1", reason="icmp_down") == 1,
            SNMP_INTERVAL + 2 * ICMP_INTERVAL + 1,
            "dist-sw1 not walked (icmp_down)",
        )
        assert exporter.value(samples, "batiknet_snmp_up", device="dist-sw1") == 0
    finally:
        lab.restore("dist-sw1")


def test_a_cut_core_shows_one_down_and_everything_else_unreachable(lab, exporter):
    others = [t.id for t in INVENTORY.targets() if t.id != "core-router"]
    lab.cut("core-router")
    try:
        exporter.wait(
            lambda s: (
                exporter.status(s, "core-router") == "down"
                and all(exporter.status(s, t) == "unreachable" for t in others)
            ),
            2 * ICMP_INTERVAL + 1,
            "core down, the rest unreachable",
        )
    finally:
        lab.restore("core-router")


def test_blackholed_targets_do_not_lengthen_the_round_for_the_others(lab, exporter):
    silent = ["setda", "dindik", "kec-utara"]
    settings = INVENTORY.opds[0].probes["icmp"]
    for target in silent:
        lab.cut(target)
    try:
        samples = exporter.wait(
            lambda s: all(exporter.status(s, t) == "down" for t in silent),
            2 * ICMP_INTERVAL + 1,
            "the three offices down",
        )
        before = {
            t.id: exporter.value(samples, "batiknet_icmp_responses_total", target=t.id)
            for t in INVENTORY.targets()
        }
        time.sleep(2 * ICMP_INTERVAL)
        samples = exporter.samples()
        one_round = (settings.count - 1) * echo_spacing(settings) + settings.timeout
        duration = exporter.value(samples, "batiknet_exporter_cycle_duration_seconds", module="icmp")
        assert duration < one_round + 0.3, f"round took {duration:.3f}s, one timeout allows {one_round:.3f}s"
        for target in INVENTORY.targets():
            if target.id in silent:
                continue
            answered = (
                exporter.value(samples, "batiknet_icmp_responses_total", target=target.id) - before[target.id]
            )
            assert answered >= settings.count, f"{target.id} lost echoes while others were silent"
    finally:
        for target in silent:
            lab.restore(target)


def test_a_stopped_dns_server_gives_timeout_or_refused(lab, exporter):
    def failures(samples: Samples) -> float:
        return sum(
            exporter.value(samples, "batiknet_dns_failures_total", server="dns2", reason=r) or 0
            for r in ("timeout", "refused")
        )

    before = failures(exporter.samples())
    lab.dns_fail("dns2")
    try:
        samples = exporter.wait(lambda s: failures(s) > before, 2 * DNS_INTERVAL + 2, "dns2 timeout/refused")
        assert exporter.value(samples, "batiknet_dns_up", server="dns2", name="pekalongankota.go.id") == 0
        assert exporter.value(samples, "batiknet_dns_up", server="dns1", name="pekalongankota.go.id") == 1
    finally:
        lab.dns_restore("dns2")


def test_a_wrong_answer_gives_wrong_answer(lab, exporter):
    def wrong(samples: Samples) -> float:
        return (
            exporter.value(samples, "batiknet_dns_failures_total", server="dns1", reason="wrong_answer") or 0
        )

    before = wrong(exporter.samples())
    lab.dns_wrong("dns1")
    try:
        samples = exporter.wait(lambda s: wrong(s) > before, 2 * DNS_INTERVAL + 2, "dns1 wrong_answer")
        assert exporter.value(samples, "batiknet_dns_up", server="dns1", name="www.pekalongankota.go.id") == 0
    finally:
        lab.dns_right("dns1")


def test_an_interface_taken_down_gives_interface_up_zero(lab, exporter):
    device = "dist-sw1"
    ifname = lab.interfaces(device)[1]
    exporter.wait(
        lambda s: exporter.value(s, "batiknet_interface_up", device=device, interface=ifname) == 1,
        2 * SNMP_INTERVAL + 5,
        f"{device} {ifname} up first",
    )
    lab.interface_down(device, ifname)
    try:
        samples = exporter.wait(
            lambda s: exporter.value(s, "batiknet_interface_up", device=device, interface=ifname) == 0,
            2 * SNMP_INTERVAL + 5,
            f"{device} {ifname} oper down",
        )
        assert exporter.value(samples, "batiknet_interface_admin_up", device=device, interface=ifname) == 0
        assert exporter.value(samples, "batiknet_interface_up", device=device, interface="uplink") == 1
    finally:
        lab.interface_up(device, ifname)
