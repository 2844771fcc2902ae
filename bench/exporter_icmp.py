"""ICMP benchmark: 2,000 targets (1,800 alive, 200 dead), 3 echoes each, side by side.

Runs, one after the other on the same targets: our ICMP engine (one round, in a child process), the
whole ``batiknet-exporter`` (several rounds, all-inclusive CPU, /metrics scrapes), ``fping -C 3 -i 0.1``,
prometheus-blackbox-exporter (one /probe per echo), and icmplib's ``async_multiping`` used naively.
Prints a table and the ratios against fping and blackbox_exporter.

The targets live in one namespace (``bnb-icmp``) behind a veth: 198.19.0.0/21 is a ``local`` route there,
so it answers for every address in it; 198.19.8.0/24 is blackholed there. Needs root; holds the lab lock.

    sudo .venv/bin/python bench/exporter_icmp.py
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import random
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import exporter_netns as netns

NAMESPACE = "bnb-icmp"
HOST_IF = "bnb-icmp0"
HOST_ADDRESS, FAR_ADDRESS = "198.19.255.1", "198.19.255.2"
ALIVE_NET, DEAD_NET = "198.19.0.0/21", "198.19.8.0/24"
ALIVE, DEAD, COUNT, TIMEOUT = 1800, 200, 3, 0.5
BLACKBOX_CONCURRENCY = 100
EXPORTER_PORT, BLACKBOX_PORT = 19917, 19915


def targets() -> list[str]:
    alive = [str(a) for a in ipaddress.ip_network(ALIVE_NET).hosts() if 0 < a.packed[3] < 255][:ALIVE]
    dead = [str(a) for a in ipaddress.ip_network(DEAD_NET).hosts()][:DEAD]
    everyone = alive + dead
    random.Random(7).shuffle(everyone)  # dead ones spread through the list, as in a real inventory
    return everyone


def alive_set() -> set[str]:
    network = ipaddress.ip_network(ALIVE_NET)
    return {a for a in targets() if ipaddress.ip_address(a) in network}


# --- children: each runs in its own process so CPU and RSS are its own ------------------------------


def child_ours(path: str) -> dict:
    from batiknet.inventory import ProbeSettings
    from exporter.probes.icmp import ICMPEngine
    from exporter.scheduler import echo_spacing

    addresses = Path(path).read_text().split()
    spacing = echo_spacing(ProbeSettings(interval=15.0, timeout=TIMEOUT, count=COUNT))

    async def main():
        engine = ICMPEngine()
        engine.open()
        pairs = [(a, a) for a in addresses]
        await engine.round(pairs[:10], count=1, timeout=TIMEOUT)  # warm: imports, ARP for the next hop
        cpu = time.process_time()
        result = await engine.round(pairs, count=COUNT, timeout=TIMEOUT, spacing=spacing)
        cpu = time.process_time() - cpu
        engine.close()
        return result, cpu

    result, cpu = asyncio.run(main())
    return {
        "wall": result.duration,
        "cpu": cpu,
        "replies": sum(r.received for r in result.results),
        "rtts": [rtt for r in result.results for rtt in r.rtts],
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "spacing": spacing,
    }


def child_icmplib(path: str, tasks: int) -> dict:
    from icmplib import async_multiping

    addresses = Path(path).read_text().split()
    started, cpu = time.monotonic(), time.process_time()
    hosts = asyncio.run(
        async_multiping(
            addresses, count=COUNT, interval=0.25, timeout=TIMEOUT, concurrent_tasks=tasks, privileged=True
        )
    )
    return {
        "wall": time.monotonic() - started,
        "cpu": time.process_time() - cpu,
        "replies": sum(h.packets_received for h in hosts),
        "rtts": [rtt / 1000 for h in hosts for rtt in h.rtts],
        "rss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def run_child(*argv: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *argv], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


# --- the tools ----------------------------------------------------------------------------------------


def run_fping(path: str) -> dict:
    started = time.monotonic()
    process = subprocess.Popen(
        ["fping", "-C", str(COUNT), "-q", "-i", "0.1", "-t", str(int(TIMEOUT * 1000)), "-f", path],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _, _, usage = os.wait4(process.pid, 0)
    wall = time.monotonic() - started
    output = process.stderr.read()
    rtts = []
    for line in output.splitlines():
        if " : " in line:
            rtts += [float(v) / 1000 for v in line.split(" : ", 1)[1].split() if v != "-"]
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "replies": len(rtts),
        "rtts": rtts,
        "rss": usage.ru_maxrss / 1024,
    }


def run_blackbox(addresses: list[str], workdir: Path) -> dict:
    import aiohttp

    config = workdir / "blackbox.yml"
    config.write_text(
        f"modules:\n  icmp:\n    prober: icmp\n    timeout: {int(TIMEOUT * 1000)}ms\n"
        "    icmp:\n      preferred_ip_protocol: ip4\n      ip_protocol_fallback: false\n"
    )
    process = subprocess.Popen(
        [
            "prometheus-blackbox-exporter",
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{BLACKBOX_PORT}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        netns.wait_port("127.0.0.1", BLACKBOX_PORT)
        rtt_pattern = re.compile(r'^probe_icmp_duration_seconds\{phase="rtt"\} (\S+)$', re.M)

        async def drive():
            semaphore = asyncio.Semaphore(BLACKBOX_CONCURRENCY)
            rtts: list[float] = []
            async with aiohttp.ClientSession(f"http://127.0.0.1:{BLACKBOX_PORT}") as client:

                async def one(address: str) -> None:
                    async with (
                        semaphore,
                        client.get("/probe", params={"module": "icmp", "target": address}) as r,
                    ):
                        text = await r.text()
                    if "probe_success 1" in text:
                        rtts.append(float(rtt_pattern.search(text).group(1)))

                await asyncio.gather(*(one(a) for a in addresses for _ in range(COUNT)))
            return rtts

        cpu = netns.process_cpu_seconds(process.pid)
        started = time.monotonic()
        rtts = asyncio.run(drive())
        wall = time.monotonic() - started
        cpu = netns.process_cpu_seconds(process.pid) - cpu
        return {
            "wall": wall,
            "cpu": cpu,
            "replies": len(rtts),
            "rtts": rtts,
            "rss": netns.process_peak_rss_mb(process.pid),
        }
    finally:
        netns.stop(process)


def run_exporter(addresses: list[str], workdir: Path, rounds: int = 4) -> dict:
    """The whole exporter on the same targets: CPU over several rounds, /metrics scrape latency."""
    import yaml

    inventory = {
        "version": 1,
        "defaults": {"icmp": {"interval": "5s", "timeout": f"{int(TIMEOUT * 1000)}ms", "count": COUNT}},
        "devices": [{"id": "bench-gw", "name": "Bench gateway", "kind": "router", "address": FAR_ADDRESS}],
        "opds": [
            {"id": f"opd-{i}", "name": f"OPD {i}", "kecamatan": "Bench", "address": a, "upstream": "bench-gw"}
            for i, a in enumerate(addresses)
        ],
    }
    path = workdir / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "exporter.cli",
            "--config.file",
            str(path),
            "--web.listen-address",
            f"127.0.0.1:{EXPORTER_PORT}",
            "--log.level",
            "warn",
        ],
        cwd=Path(__file__).resolve().parents[1],
    )
    url = f"http://127.0.0.1:{EXPORTER_PORT}/metrics"

    def scrape() -> tuple[float, str]:
        started = time.monotonic()
        with urllib.request.urlopen(url, timeout=30) as response:
            body = response.read().decode()
        return time.monotonic() - started, body

    def total(body: str, name: str) -> float:
        return sum(float(m) for m in re.findall(rf"^{name}\{{[^}}]*\}} (\S+)$", body, re.M))

    try:
        netns.wait_port("127.0.0.1", EXPORTER_PORT)
        deadline = time.monotonic() + 60
        while total(scrape()[1], "batiknet_icmp_requests_total") < len(addresses) * COUNT:
            if time.monotonic() > deadline:
                raise RuntimeError("the exporter never finished a round")
            time.sleep(0.2)
        time.sleep(1.0)  # let the first rendering finish
        _, body = scrape()
        requests0, responses0 = (
            total(body, "batiknet_icmp_requests_total"),
            total(body, "batiknet_icmp_responses_total"),
        )
        cpu0 = netns.process_cpu_seconds(process.pid)
        time.sleep(rounds * 5.0)
        cpu = netns.process_cpu_seconds(process.pid) - cpu0
        latencies = []
        for _ in range(5):
            latency, body = scrape()
            latencies.append(latency)
            time.sleep(0.3)
        requests = total(body, "batiknet_icmp_requests_total") - requests0
        responses = total(body, "batiknet_icmp_responses_total") - responses0
        cycle = float(
            re.search(r'^batiknet_exporter_cycle_duration_seconds\{module="icmp"\} (\S+)$', body, re.M)[1]
        )
        return {
            "cpu_per_echo": cpu / requests if requests else float("nan"),
            "requests": requests,
            "responses": responses,
            "scrape": statistics.median(latencies),
            "cycle": cycle,
            "rss": netns.process_peak_rss_mb(process.pid),
            "bytes": len(body),
        }
    finally:
        netns.stop(process)


def render_time(addresses: list[str]) -> float:
    """One cold rendering of /metrics for 2,000 targets (what the exporter does once per round)."""
    from prometheus_client import CollectorRegistry, generate_latest

    from batiknet.inventory import parse_inventory
    from exporter.collector import BatiknetCollector
    from exporter.probes.icmp import EchoResult
    from exporter.store import Store

    document = {
        "devices": [{"id": "gw", "name": "gw", "kind": "router", "address": FAR_ADDRESS}],
        "opds": [
            {"id": f"o{i}", "name": f"O {i}", "kecamatan": "B", "address": a, "upstream": "gw"}
            for i, a in enumerate(addresses)
        ],
    }
    inventory = parse_inventory(document, Path("bench.yml"))
    store = Store(inventory)
    store.record_icmp([EchoResult(t.id, t.address, 3, (0.0001, 0.0002, 0.0001)) for t in inventory.targets()])
    registry = CollectorRegistry(auto_describe=False)
    registry.register(BatiknetCollector(store))
    times = []
    for _ in range(3):
        started = time.perf_counter()
        generate_latest(registry)
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("needs root (namespaces, raw ICMP sockets)")
    addresses = targets()
    echoes = len(addresses) * COUNT
    alive = alive_set()
    print(f"# ICMP benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n# {netns.machine()}")
    dead = len(addresses) - len(alive)
    print(
        f"# {len(addresses)} targets ({len(alive)} alive, {dead} dead), {COUNT} echoes, timeout {TIMEOUT}s:"
    )
    print(f"# {echoes} echoes, {len(alive) * COUNT} answerable")
    with (
        netns.lab_lock(),
        tempfile.TemporaryDirectory() as tmp,
        netns.namespace(NAMESPACE, HOST_IF, HOST_ADDRESS, FAR_ADDRESS, ["198.19.0.0/20"]) as ns,
    ):
        netns.ip_batch([f"route add local {ALIVE_NET} dev lo", f"route add blackhole {DEAD_NET}"], ns)
        workdir = Path(tmp)
        path = workdir / "targets.txt"
        path.write_text("\n".join(addresses) + "\n")
        results = {
            "ours (engine, 1 round)": run_child("ours", str(path)),
            "fping -C 3 -i 0.1": run_fping(str(path)),
            "blackbox_exporter": run_blackbox(addresses, workdir),
            "icmplib async_multiping 2000 tasks": run_child("icmplib", str(path), "2000"),
            "icmplib async_multiping 50 tasks": run_child("icmplib", str(path), "50"),
        }
        exporter = run_exporter(addresses, workdir)
    render = render_time(addresses)

    fping_median = statistics.median(results["fping -C 3 -i 0.1"]["rtts"])
    print("\n| tool | wall s | CPU µs/echo | replies | median RTT ms | Δ median vs fping ms | peak RSS MB |")
    print("|---|---|---|---|---|---|---|")
    for name, r in results.items():
        median = statistics.median(r["rtts"]) if r["rtts"] else float("nan")
        cpu = r["cpu"] / echoes * 1e6
        print(
            f"| {name} | {r['wall']:.2f} | {cpu:.0f} | {r['replies']} of {len(alive) * COUNT} "
            f"| {median * 1000:.3f} | {(median - fping_median) * 1000:+.3f} | {r['rss']:.0f} |"
        )
    ours, fping, blackbox = (
        results[k] for k in ("ours (engine, 1 round)", "fping -C 3 -i 0.1", "blackbox_exporter")
    )
    print(
        f"\nratios, ours / fping: wall {ours['wall'] / fping['wall']:.2f}, "
        f"CPU {ours['cpu'] / fping['cpu']:.2f}"
    )
    print(
        f"ratios, ours / blackbox_exporter: wall {ours['wall'] / blackbox['wall']:.2f}, "
        f"CPU {ours['cpu'] / blackbox['cpu']:.2f}"
    )
    print(f"echo spacing used by the engine: {ours['spacing']:.2f}s")
    print("\nwhole batiknet-exporter, steady state over 4 rounds (probing, bookkeeping, /metrics rendering):")
    print(f"- CPU {exporter['cpu_per_echo'] * 1e6:.0f} µs/echo")
    print(f"- replies {exporter['responses']:.0f} of {exporter['requests']:.0f} echoes sent")
    print(f"- ICMP cycle {exporter['cycle']:.2f}s, peak RSS {exporter['rss']:.0f} MB")
    print(
        f"- /metrics scrape {exporter['scrape'] * 1000:.1f} ms "
        f"(median of 5, {exporter['bytes'] / 1e6:.1f} MB)"
    )
    print(
        f"- one cold rendering of /metrics {render * 1000:.0f} ms (done once per change, in a worker thread)"
    )


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        kind = sys.argv[2]
        result = child_ours(sys.argv[3]) if kind == "ours" else child_icmplib(sys.argv[3], int(sys.argv[4]))
        print(json.dumps(result))
    else:
        main()
