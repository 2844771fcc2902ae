"""The HTTP endpoints through a real server on a loopback port, with the fake ICMP engine (no root) and DNS
sent only to a silent loopback socket."""

from __future__ import annotations

import asyncio
import socket
import time
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import yaml
from aiohttp import web

from exporter.config import ExporterSettings
from exporter.http import make_app
from exporter.service import create

from .fakes import FakeICMP

LOOPBACK_INVENTORY = {
    "version": 1,
    "defaults": {
        "icmp": {"interval": "1s", "timeout": "300ms", "count": 2},
        "dns": {"interval": "1s", "timeout": "500ms"},
    },
    "devices": [{"id": "core", "name": "Core", "kind": "router", "address": "127.0.0.1"}],
    "dns_servers": [
        {
            "id": "dns1",
            "name": "Silent DNS",
            "address": "127.0.0.1",
            "port": 0,
            "upstream": "core",
            "dns": {"timeout": "2s", "interval": "10s"},
            "checks": [{"name": "pekalongankota.go.id"}],
        }
    ],
    "opds": [
        {
            "id": "setda",
            "name": "Sekretariat Daerah",
            "kecamatan": "Pekalongan Barat",
            "address": "127.0.0.2",
            "upstream": "core",
        }
    ],
}


def write_inventory(path: Path, silent_dns_port: int, opds: int = 1) -> None:
    document = yaml.safe_load(yaml.safe_dump(LOOPBACK_INVENTORY))
    document["dns_servers"][0]["port"] = silent_dns_port
    document["opds"] = [
        {**document["opds"][0], "id": f"opd-{i}" if i else "setda", "address": f"127.0.1.{i + 1}"}
        for i in range(opds)
    ]
    path.write_text(yaml.safe_dump(document))


@asynccontextmanager
async def running_exporter(tmp_path: Path, settings: ExporterSettings | None = None):
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # a "DNS server" that never answers
    silent.bind(("127.0.0.1", 0))
    config_file = tmp_path / "inventory.yml"
    write_inventory(config_file, silent.getsockname()[1])
    service = create(config_file, settings or ExporterSettings())
    await service.start(FakeICMP())
    runner = web.AppRunner(make_app(service))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as client:
            yield service, client, config_file
    finally:
        await runner.cleanup()
        await service.stop()
        silent.close()


async def wait_for_metric(client: aiohttp.ClientSession, needle: str, deadline: float = 10.0) -> str:
    end = time.monotonic() + deadline
    while True:
        text = await (await client.get("/metrics")).text()
        if needle in text or time.monotonic() > end:
            return text
        await asyncio.sleep(0.2)


def test_metrics_healthy_index_and_probe(tmp_path):
    async def scenario():
        async with running_exporter(tmp_path) as (_, client, _):
            text = await wait_for_metric(client, 'batiknet_target_up{target="setda"} 1.0')
            assert 'batiknet_target_up{target="setda"} 1.0' in text
            assert 'batiknet_target_status{status="up",target="core"} 1.0' in text
            assert 'batiknet_exporter_cycle_duration_seconds{module="icmp"}' in text
            healthy = await client.get("/-/healthy")
            assert healthy.status == 200
            index = await (await client.get("/")).text()
            assert "Sekretariat Daerah" in index and "/metrics" in index
            probe = await client.get("/probe", params={"target": "setda", "module": "icmp"})
            body = await probe.text()
            assert probe.status == 200
            assert "batiknet_probe_success 1.0" in body
            assert 'batiknet_icmp_responses_total{target="setda"} 2.0' in body
            unknown = await client.get("/probe", params={"target": "198.51.100.7", "module": "icmp"})
            assert unknown.status == 400
            assert "not in the inventory" in await unknown.text()

    asyncio.run(scenario())


def test_probe_honours_the_scrape_timeout_header(tmp_path):
    async def scenario():
        async with running_exporter(tmp_path) as (_, client, _):
            started = time.monotonic()
            response = await client.get(
                "/probe",
                params={"target": "dns1", "module": "dns"},
                headers={"X-Prometheus-Scrape-Timeout-Seconds": "1"},
            )
            took = time.monotonic() - started
            body = await response.text()
            assert "batiknet_probe_success 0.0" in body
            assert 'batiknet_dns_failures_total{reason="timeout",server="dns1"} 1.0' in body
            assert took < 1.0  # the server's own timeout is 2 s: the header's 1 s minus 0.5 s won

    asyncio.run(scenario())


def test_reload_keeps_the_old_configuration_when_the_new_file_is_bad(tmp_path):
    async def scenario():
        lifecycle = ExporterSettings(enable_lifecycle=True)
        async with running_exporter(tmp_path, lifecycle) as (service, client, config_file):
            good = config_file.read_text()
            config_file.write_text("opds: [this is: not, valid")
            response = await client.post("/-/reload")
            assert response.status == 500
            assert "not valid YAML" in await response.text()
            text = await wait_for_metric(client, "batiknet_exporter_config_last_reload_successful 0.0")
            assert "batiknet_exporter_config_last_reload_successful 0.0" in text
            assert service.config.inventory.target("setda").name == "Sekretariat Daerah"
            assert 'batiknet_target_info{address="127.0.1.1"' in text  # still probing the old targets

            document = yaml.safe_load(good)
            document["opds"].append(
                {**document["opds"][0], "id": "dinkes", "name": "Dinas Kesehatan", "address": "127.0.1.2"}
            )
            config_file.write_text(yaml.safe_dump(document))
            response = await client.post("/-/reload")
            assert response.status == 200
            text = await wait_for_metric(client, 'batiknet_target_up{target="dinkes"} 1.0')
            assert 'batiknet_target_up{target="dinkes"} 1.0' in text
            assert "batiknet_exporter_config_last_reload_successful 1.0" in text

    asyncio.run(scenario())


def test_probe_of_an_unlisted_address_only_when_allowed(tmp_path):
    async def scenario():
        async with running_exporter(tmp_path, ExporterSettings(probe_unlisted=True)) as (_, client, _):
            response = await client.get("/probe", params={"target": "127.0.0.5", "module": "icmp"})
            assert response.status == 200
            assert "batiknet_probe_success 1.0" in await response.text()
            refused = await client.get("/probe", params={"target": "127.0.0.5", "module": "dns"})
            assert refused.status == 400  # only ICMP may go to an address outside the inventory

    asyncio.run(scenario())
