"""SNMP benchmark: 20 devices, IF-MIB columns and scalars, ours vs snmp_exporter vs pysnmp used naively;
and a 1,317-port switch behind an agent answering in 30 ms: requests and time per round.

Ours and snmp_exporter walk once with v2c and once with v3 authPriv (SHA, AES-128).

One namespace (``bnb-snmp``) holds Debian's snmpd and 24 veth pairs (about 50 interfaces); the 20
"devices" are 20 addresses of that namespace, so every tool walks the same agent the same way. A round
walks all 20 devices at once. CPU is the client's only (our child process, or the snmp_exporter
process). Needs root; holds the lab lock.

The big switch is snmpsim serving a generated recording (tests/exporter/snmp_simulator.py) on loopback,
behind a relay that hands each answer back 30 ms late; our walker walks it round after round as the
scheduler does (cut at 0.9 × a 30 s interval).

    sudo .venv/bin/python bench/exporter_snmp.py
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import exporter_netns as netns

NAMESPACE, HOST_IF = "bnb-snmp", "bnb-snmp0"
HOST_ADDRESS, FAR_ADDRESS = "198.19.253.1", "198.19.253.2"
DEVICES = [f"198.19.252.{i}" for i in range(1, 21)]
VETH_PAIRS = 24
COMMUNITY = "bench-community"
V3_USER, V3_AUTH, V3_PRIV = "bench-user", "bench-auth-pass", "bench-priv-pass"
ROUNDS = 5
SNMP_EXPORTER_PORT = 19916
IF_COLUMNS = {
    "ifDescr": ("1.3.6.1.2.1.2.2.1.2", "DisplayString"),
    "ifAdminStatus": ("1.3.6.1.2.1.2.2.1.7", "gauge"),
    "ifOperStatus": ("1.3.6.1.2.1.2.2.1.8", "gauge"),
    "ifInErrors": ("1.3.6.1.2.1.2.2.1.14", "counter"),
    "ifOutErrors": ("1.3.6.1.2.1.2.2.1.20", "counter"),
    "ifName": ("1.3.6.1.2.1.31.1.1.1.1", "DisplayString"),
    "ifHCInOctets": ("1.3.6.1.2.1.31.1.1.1.6", "counter"),
    "ifHCOutOctets": ("1.3.6.1.2.1.31.1.1.1.10", "counter"),
    "ifHighSpeed": ("1.3.6.1.2.1.31.1.1.1.15", "gauge"),
    "ifAlias": ("1.3.6.1.2.1.31.1.1.1.18", "DisplayString"),
}
SCALARS = {
    "sysDescr": ("1.3.6.1.2.1.1.1", "DisplayString"),
    "sysUpTime": ("1.3.6.1.2.1.1.3", "gauge"),
    "sysName": ("1.3.6.1.2.1.1.5", "DisplayString"),
}


SNMP_EXPORTER_AUTH = {
    "2c": ["  version: 2", "  auth:", f"    community: {COMMUNITY}"],
    "3": [
        "  version: 3",
        "  auth:",
        f"    username: {V3_USER}",
        "    security_level: authPriv",
        f"    password: {V3_AUTH}",
        "    auth_protocol: SHA",
        "    priv_protocol: AES",
        f"    priv_password: {V3_PRIV}",
    ],
}


def snmp_exporter_config() -> str:
    """Modules walking the same 10 IF-MIB columns and 3 scalars (Debian's snmp.yml has no if_mib)."""
    return "".join(snmp_exporter_module(f"bench_if_v{version}", version) for version in SNMP_EXPORTER_AUTH)


def snmp_exporter_module(name: str, version: str) -> str:
    lines = [
        f"{name}:",
        *SNMP_EXPORTER_AUTH[version],
        "  max_repetitions: 25",
        "  retries: 0",
        "  timeout: 5s",
        "  walk:",
    ]
    lines += [f"  - {oid}" for oid, _ in IF_COLUMNS.values()]
    lines += ["  get:"] + [f"  - {oid}.0" for oid, _ in SCALARS.values()]
    lines += ["  metrics:"]
    for name, (oid, kind) in IF_COLUMNS.items():
        lines += [
            f"  - name: {name}",
            f"    oid: {oid}",
            f"    type: {kind}",
            "    help: bench",
            "    indexes:",
            "    - labelname: ifIndex",
            "      type: gauge",
        ]
    for name, (oid, kind) in SCALARS.items():
        lines += [f"  - name: {name}", f"    oid: {oid}", f"    type: {kind}", "    help: bench"]
    return "\n".join(lines) + "\n"


# --- children ------------------------------------------------------------------------------------------


def child_ours(version: str) -> dict:
    from batiknet.inventory import Device
    from exporter.probes.snmp import SNMPAuth, SNMPWalker

    auth = (
        SNMPAuth("2c", community=COMMUNITY)
        if version == "2c"
        else SNMPAuth(
            "3",
            username=V3_USER,
            auth_protocol="SHA",
            auth_password=V3_AUTH,
            priv_protocol="AES",
            priv_password=V3_PRIV,
        )
    )
    devices = [
        Device(id=f"sw{i}", name=f"sw{i}", address=a, upstream=None, kind="switch", probes={})
        for i, a in enumerate(DEVICES)
    ]
    walker = SNMPWalker()

    async def one_round():
        return await asyncio.gather(*(walker.walk(d, auth, 2.0, 0) for d in devices))

    async def main():
        rounds = []
        for number in range(ROUNDS + 1):
            cpu, started = time.process_time(), time.monotonic()
            results = await one_round()
            rounds.append(
                {
                    "cpu": time.process_time() - cpu,
                    "wall": time.monotonic() - started,
                    "oids": sum(r.varbinds for r in results),
                    "ok": sum(r.up for r in results),
                    "interfaces": sum(len(r.interfaces) for r in results),
                    "first": number == 0,
                }
            )
        return rounds

    return {"rounds": asyncio.run(main())}


def child_naive() -> dict:
    """pysnmp 7 as its documentation shows it: bulk_walk_cmd per column and per scalar, lookupMib=False."""
    from pysnmp.hlapi.v3arch.asyncio import (
        CommunityData,
        ContextData,
        ObjectIdentity,
        ObjectType,
        SnmpEngine,
        UdpTransportTarget,
        bulk_walk_cmd,
        get_cmd,
    )

    engine = SnmpEngine()

    async def device(address: str) -> int:
        transport = await UdpTransportTarget.create((address, 161), timeout=2, retries=0)
        count = 0
        _, _, _, values = await get_cmd(
            engine,
            CommunityData(COMMUNITY),
            transport,
            ContextData(),
            *(ObjectType(ObjectIdentity(oid + ".0")) for oid, _ in SCALARS.values()),
            lookupMib=False,
        )
        count += len(values)
        for oid, _ in IF_COLUMNS.values():
            async for _, _, _, rows in bulk_walk_cmd(
                engine,
                CommunityData(COMMUNITY),
                transport,
                ContextData(),
                0,
                25,
                ObjectType(ObjectIdentity(oid)),
                lookupMib=False,
                lexicographicMode=False,
            ):
                count += len(rows)
        return count

    async def main():
        rounds = []
        for _ in range(ROUNDS):
            cpu, started = time.process_time(), time.monotonic()
            counts = await asyncio.gather(*(device(a) for a in DEVICES))
            rounds.append(
                {"cpu": time.process_time() - cpu, "wall": time.monotonic() - started, "oids": sum(counts)}
            )
        return rounds

    return {"rounds": asyncio.run(main())}


BIG_PORTS, BIG_DELAY, BIG_INTERVAL, BIG_ROUNDS = 1317, 0.030, 30.0, 4


def child_big() -> dict:
    from batiknet.inventory import Device
    from exporter.probes.snmp import SNMPAuth, SNMPWalker
    from tests.exporter import snmp_simulator as simulator

    workdir = Path(tempfile.mkdtemp(prefix="bench-snmp-big-"))
    recording = simulator.big_chassis_recording(workdir / "big.snmprec", BIG_PORTS)
    simulated = simulator.Device("big", recording)
    device = Device(id="big", name="big", address="127.0.0.1", upstream=None, kind="switch", probes={})

    async def main(port: int) -> list[dict]:
        walker = SNMPWalker()
        auth = SNMPAuth("2c", port, community="big")
        rounds = []
        try:
            for number in range(BIG_ROUNDS):
                cpu, started = time.process_time(), time.monotonic()
                try:
                    result = await asyncio.wait_for(walker.walk(device, auth, 2.0, 1), 0.9 * BIG_INTERVAL)
                except TimeoutError:
                    result = None
                rounds.append(
                    {
                        "round": number,
                        "ok": result is not None and result.up,
                        "interfaces": len(result.interfaces) if result else 0,
                        "requests": result.requests if result else 0,
                        "oids": result.varbinds if result else 0,
                        "wall": time.monotonic() - started,
                        "cpu": time.process_time() - cpu,
                    }
                )
        finally:
            walker.close()
        return rounds

    try:
        with (
            simulator.simulated([simulated], workdir / "snmpsim"),
            simulator.SlowRelay(simulated.port, BIG_DELAY) as relay,
        ):
            return {"rounds": asyncio.run(main(relay.port))}
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_child(*arguments: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", *arguments], check=True, capture_output=True, text=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_snmp_exporter(workdir: Path, version: str) -> dict:
    import aiohttp

    config = workdir / "snmp.yml"
    config.write_text(snmp_exporter_config())
    process = subprocess.Popen(
        [
            "prometheus-snmp-exporter",
            f"--config.file={config}",
            f"--web.listen-address=127.0.0.1:{SNMP_EXPORTER_PORT}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    pdus = re.compile(r"^snmp_scrape_pdus_returned (\S+)$", re.M)
    try:
        netns.wait_port("127.0.0.1", SNMP_EXPORTER_PORT)

        async def one_round() -> int:
            async with aiohttp.ClientSession(f"http://127.0.0.1:{SNMP_EXPORTER_PORT}") as client:

                async def one(address: str) -> int:
                    params = {"module": f"bench_if_v{version}", "target": address}
                    async with client.get("/snmp", params=params) as response:
                        text = await response.text()
                    match = pdus.search(text)
                    if not match:
                        raise RuntimeError(f"snmp_exporter failed on {address}: {text[:300]}")
                    return int(float(match.group(1)))

                return sum(await asyncio.gather(*(one(a) for a in DEVICES)))

        asyncio.run(one_round())  # warm-up
        rounds = []
        for _ in range(ROUNDS):
            cpu, started = netns.process_cpu_seconds(process.pid), time.monotonic()
            oids = asyncio.run(one_round())
            rounds.append(
                {
                    "cpu": netns.process_cpu_seconds(process.pid) - cpu,
                    "wall": time.monotonic() - started,
                    "oids": oids,
                }
            )
        return {"rounds": rounds}
    finally:
        netns.stop(process)


def summary(rounds: list[dict]) -> dict:
    cpu = sum(r["cpu"] for r in rounds) / len(rounds)
    oids = sum(r["oids"] for r in rounds) / len(rounds)
    wall = sum(r["wall"] for r in rounds) / len(rounds)
    return {"cpu": cpu, "oids": oids, "wall": wall, "per_oid": cpu / oids if oids else float("nan")}


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("needs root (namespaces)")
    print(f"# SNMP benchmark, {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}\n# {netns.machine()}")
    with (
        netns.lab_lock(),
        tempfile.TemporaryDirectory() as tmp,
        netns.namespace(NAMESPACE, HOST_IF, HOST_ADDRESS, FAR_ADDRESS, ["198.19.252.0/24"]) as ns,
    ):
        workdir = Path(tmp)
        lines = [f"addr add {a}/32 dev lo" for a in DEVICES]
        for i in range(VETH_PAIRS):
            lines += [
                f"link add bv{i}a type veth peer name bv{i}b",
                f"link set bv{i}a up",
                f"link set bv{i}b up",
                f"link set bv{i}a alias 'bench port {i}'",
            ]
        netns.ip_batch(lines, ns)
        conf = workdir / "snmpd.conf"
        conf.write_text(
            f"agentAddress udp:161\nrocommunity {COMMUNITY}\n"
            f"createUser {V3_USER} SHA {V3_AUTH} AES {V3_PRIV}\nrouser {V3_USER} priv\n"
        )
        env = {**os.environ, "MIBS": "", "SNMP_PERSISTENT_DIR": str(workdir / "persist")}
        snmpd = subprocess.Popen(
            netns.in_namespace(
                ns,
                "/usr/sbin/snmpd",
                "-f",
                "-Lf",
                str(workdir / "snmpd.log"),
                "-C",
                "-c",
                str(conf),
                "-p",
                str(workdir / "snmpd.pid"),
            ),
            env=env,
        )
        try:
            time.sleep(1.0)
            ours = {version: run_child("ours", version) for version in ("2c", "3")}
            big = run_child("big")
            naive = run_child("naive")
            exporter = {version: run_snmp_exporter(workdir, version) for version in ("2c", "3")}
        finally:
            netns.stop(snmpd)
    rows = {}
    for version, label in (("2c", "v2c"), ("3", "v3 authPriv")):
        rounds = ours[version]["rounds"]
        rows[f"ours {label}, steady round (names cached)"] = summary([r for r in rounds if not r["first"]])
        rows[f"ours {label}, first round (names too)"] = summary([r for r in rounds if r["first"]])
        rows[f"snmp_exporter 0.21 {label} (10 columns + 3 scalars)"] = summary(exporter[version]["rounds"])
    rows["pysnmp 7 naive v2c (bulk_walk_cmd per column)"] = summary(naive["rounds"])
    interfaces = ours["2c"]["rounds"][-1]["interfaces"] // len(DEVICES)
    print(f"# {len(DEVICES)} devices x {interfaces} interfaces, {ROUNDS} rounds averaged\n")
    print("| client | CPU s/round | OIDs/round | CPU µs/OID | wall s/round |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(f"| {name} | {r['cpu']:.3f} | {r['oids']:.0f} | {r['per_oid'] * 1e6:.0f} | {r['wall']:.3f} |")
    print()
    for label in ("v2c", "v3 authPriv"):
        reference = rows[f"snmp_exporter 0.21 {label} (10 columns + 3 scalars)"]
        steady = rows[f"ours {label}, steady round (names cached)"]
        first = rows[f"ours {label}, first round (names too)"]
        print(
            f"ratios vs snmp_exporter, {label}: CPU per OID {steady['per_oid'] / reference['per_oid']:.1f}x "
            f"(steady), {first['per_oid'] / reference['per_oid']:.1f}x (first); "
            f"CPU per round {steady['cpu'] / reference['cpu']:.1f}x"
        )

    print(
        f"\n# {BIG_PORTS}-port switch, agent answering in {BIG_DELAY * 1000:g} ms"
        f" (snmpsim, 64 varbinds an answer), walks cut at {0.9 * BIG_INTERVAL:g} s\n"
    )
    print("| round | walked | interfaces | requests | OIDs | wall s | our CPU s |")
    print("|---|---|---|---|---|---|---|")
    for r in big["rounds"]:
        kind = "first (names too)" if r["round"] == 0 else "steady"
        print(
            f"| {r['round'] + 1}, {kind} | {'yes' if r['ok'] else 'no'} | {r['interfaces']} | {r['requests']}"
            f" | {r['oids']} | {r['wall']:.2f} | {r['cpu']:.2f} |"
        )


CHILDREN = {"ours": lambda: child_ours(sys.argv[3]), "naive": child_naive, "big": child_big}

if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        print(json.dumps(CHILDREN[sys.argv[2]]()))
    else:
        main()
