"""DNS benchmark: 1,000 A queries to dnsmasq in a namespace, ours vs dnspython vs blackbox_exporter.

dnsmasq answers ``pekalongankota.go.id`` from its own ``address=`` line (no upstream), so the agent
costs the same for every client. CPU is measured on the client side only (our child process, or the
blackbox_exporter process). Needs root; holds the lab lock.

    sudo .venv/bin/python bench/exporter_dns.py
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import exporter_netns as netns

NAMESPACE, HOST_IF = "bnb-dns", "bnb-dns0"
HOST_ADDRESS, SERVER = "198.19.254.5", "198.19.254.6"
NAME, ANSWER = "pekalongankota.go.id", "198.19.2.80"
QUERIES, CONCURRENCY = 1000, 20
BLACKBOX_PORT = 19925


def child(kind: str) -> dict:
    import dns.asyncquery
    import dns.message

    from batiknet.inventory import DNSCheck
    from exporter.probes.dns import lookup

    check = DNSCheck(NAME, "A", (ANSWER,))

    async def ours() -> int:
        result = await lookup("bench", SERVER, 53, check, 1.0)
        return int(result.up)

    async def plain() -> int:
        response = await dns.asyncquery.udp(dns.message.make_query(NAME, "A"), SERVER, timeout=1.0)
        return int(any(rdata.to_text() == ANSWER for rrset in response.answer for rdata in rrset))

    one = ours if kind == "ours" else plain

    async def main() -> int:
        semaphore = asyncio.Semaphore(CONCURRENCY)

        async def bounded() -> int:
            async with semaphore:
                return await one()

        await asyncio.gather(*(bounded() for _ in range(20)))  # warm-up
        return sum(await asyncio.gather(*(bounded() for _ in range(QUERIES))))

    started, cpu = time.monotonic(), time.process_time()
    good = asyncio.run(main())
    return {"wall": time.monotonic() - started, "cpu": time.process_time() - cpu, "good": good}


def run_child(kind: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_blackbox(workdir: Path) -> dict:
    import aiohttp

    config = workdir / "blackbox.yml"
    config.write_text(f"""modules:
  dns:
    prober: dns
    timeout: 1s
    dns:
      query_name: {NAME}
      query_type: A
      preferred_ip_protocol: ip4
      ip_protocol_fallback: false
      validate_answer_rrs:
        fail_if_none_matches_regexp: ['.*\\t{ANSWER.replace(".", "[.]")}$']
""")
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

        async def drive(count: int) -> int:
            semaphore = asyncio.Semaphore(CONCURRENCY)
            async with aiohttp.ClientSession(f"http://127.0.0.1:{BLACKBOX_PORT}") as client:

                async def one() -> int:
                    params = {"module": "dns", "target": f"{SERVER}:53"}
                    async with semaphore, client.get("/probe", params=params) as response:
                        return int("probe_success 1" in await response.text())

                return sum(await asyncio.gather(*(one() for _ in range(count))))

        asyncio.run(drive(20))
        cpu, started = netns.process_cpu_seconds(process.pid), time.monotonic()
        good = asyncio.run(drive(QUERIES))
        return {
            "wall": time.monotonic() - started,
            "cpu": netns.process_cpu_seconds(process.pid) - cpu,
            "good": good,
        }
    finally:
        netns.stop(process)


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("needs root (namespaces)")
    print(f"# DNS benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n# {netns.machine()}")
    print(f"# {QUERIES} A queries for {NAME}, {CONCURRENCY} at a time, dnsmasq in a namespace")
    with (
        netns.lab_lock(),
        tempfile.TemporaryDirectory() as tmp,
        netns.namespace(NAMESPACE, HOST_IF, HOST_ADDRESS, SERVER, []) as ns,
    ):
        workdir = Path(tmp)
        dnsmasq = subprocess.Popen(
            netns.in_namespace(
                ns,
                "dnsmasq",
                "--keep-in-foreground",
                "--conf-file=/dev/null",
                "--no-resolv",
                "--no-hosts",
                f"--listen-address={SERVER}",
                "--bind-interfaces",
                f"--address=/{NAME}/{ANSWER}",
                f"--pid-file={workdir / 'dnsmasq.pid'}",
                "--cache-size=1000",
            )
        )
        try:
            time.sleep(0.5)
            results = {
                "ours (exporter.probes.dns.lookup)": run_child("ours"),
                "dnspython asyncquery.udp": run_child("plain"),
                "blackbox_exporter dns": run_blackbox(workdir),
            }
        finally:
            netns.stop(dnsmasq)
    print("\n| client | wall s | CPU µs/query | good answers |")
    print("|---|---|---|---|")
    for name, r in results.items():
        print(f"| {name} | {r['wall']:.2f} | {r['cpu'] / QUERIES * 1e6:.0f} | {r['good']} of {QUERIES} |")
    ours, blackbox = results["ours (exporter.probes.dns.lookup)"], results["blackbox_exporter dns"]
    print(f"\nratio CPU ours / blackbox_exporter: {ours['cpu'] / blackbox['cpu']:.2f}")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(child(sys.argv[2])))
    else:
        main()
