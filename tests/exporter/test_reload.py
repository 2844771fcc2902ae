"""Reloading the inventory: every failure keeps the running configuration and says so (HTTP answer,
``batiknet_exporter_config_last_reload_successful 0``, a log line), and a reload that would drop most
targets needs to be asked for explicitly. In process, without probing (no root needed)."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer

from exporter import service as service_module
from exporter.config import ExporterSettings, TooManyTargetsDropped, check_target_drop, target_drop
from exporter.http import make_app
from exporter.service import ExporterService, create

from .fakes import inventory as fake_inventory

LIFECYCLE = ExporterSettings(enable_lifecycle=True)
RELOAD_SUCCESSFUL = "batiknet_exporter_config_last_reload_successful"


def document(opds: int = 4) -> dict:
    return {
        "version": 1,
        "devices": [{"id": "core", "name": "Core", "kind": "router", "address": "127.0.1.1"}],
        "opds": [
            {
                "id": f"opd-{i}",
                "name": f"OPD {i}",
                "kecamatan": "Pekalongan Barat",
                "address": f"127.0.1.{i + 2}",
                "upstream": "core",
            }
            for i in range(opds)
        ],
    }


def write(path: Path, content: dict | str | bytes) -> None:
    if isinstance(content, dict):
        content = yaml.safe_dump(content)
    if isinstance(content, str):
        content = content.encode("utf-8", "surrogatepass")
    path.write_bytes(content)


@asynccontextmanager
async def exporter(tmp_path: Path, settings: ExporterSettings = LIFECYCLE):
    config_file = tmp_path / "inventory.yml"
    write(config_file, document())
    service = create(config_file, settings)  # not started: reload needs no probing
    async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
        yield service, client, config_file


async def reload_successful(service: ExporterService, client: TestClient) -> float:
    """The value of batiknet_exporter_config_last_reload_successful as /metrics shows it."""
    await service.metrics.refresh()  # what the started exporter does every second
    text = await (await client.get("/metrics")).text()
    line = next(line for line in text.splitlines() if line.startswith(RELOAD_SUCCESSFUL + " "))
    return float(line.split()[1])


BOMB = (
    "version: 1\nnetwork: {name: &a [" + ",".join(["x"] * 50) + "], x: [" + ",".join(["*a"] * 5000) + "]}\n"
)

UNLOADABLE = {
    "empty": ("", "lists no targets"),
    "no targets": ("version: 1\nopds: []\n", "lists no targets"),
    "not UTF-8": (b"version: 1\nnetwork: {name: \xff}\n", "not UTF-8"),
    "deep": ("version: 1\nnetwork: " + "[" * 3000 + "]" * 3000 + "\n", "nested deeper"),
    "huge integer": ("version: 1\ndefaults: {icmp: {count: " + "9" * 5000 + "}}\n", "integer out of range"),
    "lone surrogate": (
        'version: 1\ndevices: [{id: core, name: "Core\\udc80", kind: router, address: 127.0.1.1}]\n',
        "lone surrogate U+DC80",
    ),
    "alias bomb": (BOMB, "with its aliases expanded"),
    "duplicate key": (
        "version: 1\ndevices: [{id: core, id: core2, name: C, kind: router, address: 127.0.1.1}]\n",
        "duplicate key 'id'",
    ),
    "boolean port": (
        "version: 1\ndns_servers: [{id: d, name: D, address: 127.0.1.1, port: true, checks: [{name: x}]}]\n",
        "port must be a whole number",
    ),
    "not YAML": ("opds: [this is: not, valid", "not valid YAML"),
    "missing": (None, "cannot read"),
}


@pytest.mark.parametrize(("content", "reason"), UNLOADABLE.values(), ids=UNLOADABLE.keys())
def test_every_failed_reload_keeps_the_running_configuration_and_says_why(tmp_path, caplog, content, reason):
    async def scenario():
        async with exporter(tmp_path) as (service, client, config_file):
            running = service.config
            if content is None:
                config_file.unlink()
            else:
                write(config_file, content)
            with caplog.at_level(logging.ERROR, logger="batiknet.exporter"):
                response = await client.post("/-/reload")
            body = await response.text()
            assert response.status == 500
            assert body.startswith("reload failed, the running configuration stays: ")
            assert reason in body and body.count("\n") == 1
            assert service.config is running
            assert await reload_successful(service, client) == 0
            assert any(reason in getattr(r, "error", "") for r in caplog.records), caplog.text

            write(config_file, document())
            response = await client.post("/-/reload")
            assert response.status == 200, await response.text()
            assert await reload_successful(service, client) == 1

    asyncio.run(scenario())


def test_an_unexpected_error_while_reloading_is_a_failed_reload_too(tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    async def scenario():
        async with exporter(tmp_path) as (service, client, _):
            running = service.config
            monkeypatch.setattr(service_module, "load_config", broken)
            response = await client.post("/-/reload")
            assert response.status == 500
            assert "RuntimeError: a bug" in await response.text()
            assert service.config is running
            assert await reload_successful(service, client) == 0

    asyncio.run(scenario())


def test_a_reload_that_drops_most_targets_is_refused_unless_asked_for(tmp_path):
    async def scenario():
        async with exporter(tmp_path) as (service, client, config_file):
            write(config_file, document(opds=1))  # 5 targets -> 2: three dropped, more than half
            response = await client.post("/-/reload")
            body = await response.text()
            assert response.status == 409
            assert "would remove 3 of the 5 running targets" in body
            assert "allow_target_drop=true" in body
            assert service.config.target_count == 5
            assert await reload_successful(service, client) == 0

            response = await client.post("/-/reload", params={"allow_target_drop": "true"})
            assert response.status == 200
            assert await response.text() == "reloaded: 2 targets\n"
            assert service.config.target_count == 2
            assert await reload_successful(service, client) == 1

            bad = await client.post("/-/reload", params={"allow_target_drop": "maybe"})
            assert bad.status == 400

    asyncio.run(scenario())


def test_the_drop_limit_is_a_flag(tmp_path):
    async def scenario():
        settings = ExporterSettings(enable_lifecycle=True, max_target_drop=1.0)
        async with exporter(tmp_path, settings) as (service, client, config_file):
            write(config_file, document(opds=0))
            response = await client.post("/-/reload")
            assert response.status == 200
            assert service.config.target_count == 1

    asyncio.run(scenario())


def test_sighup_reloads_obey_the_same_limit(tmp_path):
    async def scenario():
        async with exporter(tmp_path) as (service, _, config_file):
            write(config_file, document(opds=0))
            outcome = await service.reload()  # what SIGHUP calls
            assert isinstance(outcome.error, TooManyTargetsDropped)
            assert service.config.target_count == 5

    asyncio.run(scenario())


def test_more_than_the_limit_is_refused_and_the_limit_itself_is_not():
    running = fake_inventory()  # 7 targets: an ISP uplink, 2 devices, a DNS server, 3 OPDs
    assert target_drop(running, running) == 0
    without_opds = dataclasses.replace(running, opds=())
    assert target_drop(running, without_opds) == 3
    check_target_drop(running, without_opds, 0.5)  # 3 of 7: not more than half
    without_dns = dataclasses.replace(without_opds, dns_servers=())
    with pytest.raises(TooManyTargetsDropped, match="would remove 4 of the 7 running targets"):
        check_target_drop(running, without_dns, 0.5)
    check_target_drop(running, without_dns, 4 / 7)
    check_target_drop(running, dataclasses.replace(without_dns, isps=()), 1.0)


def test_the_reload_endpoint_needs_the_lifecycle_flag(tmp_path):
    async def scenario():
        async with exporter(tmp_path, ExporterSettings()) as (service, client, config_file):
            running = service.config
            write(config_file, document(opds=3))
            for method in (client.post, client.put):
                response = await method("/-/reload")
                assert response.status == 403
                assert "--web.enable-lifecycle" in await response.text()
            assert service.config is running
            assert await reload_successful(service, client) == 1
            assert (await service.reload()).error is None  # SIGHUP still reloads
            assert service.config.target_count == 4

    asyncio.run(scenario())


def test_metrics_that_cannot_be_rendered_are_an_error_not_a_frozen_page(tmp_path, monkeypatch):
    """A rendering failure must not leave the last good page served for ever (it looks healthy):
    /metrics answers 500, Prometheus sees the exporter down and BatiknetProbesStale fires."""

    def broken() -> bytes:
        raise UnicodeEncodeError("utf-8", "\udc80", 0, 1, "surrogates not allowed")

    async def scenario():
        async with exporter(tmp_path) as (service, client, _):
            assert (await client.get("/metrics")).status == 200
            monkeypatch.setattr(service.metrics, "_render", broken)
            service.store.record_reload(True, 0.0)  # a change, so the page is rendered again
            keeping_fresh = asyncio.create_task(service.metrics.keep_fresh())
            await asyncio.sleep(0.2)
            try:
                assert (await client.get("/metrics")).status == 500
            finally:
                keeping_fresh.cancel()

    asyncio.run(scenario())
