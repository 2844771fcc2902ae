"""Reloads through the HTTP endpoint under fuzzed inventories (hypothesis, bounded): every answer is the
exporter's own (200, 409 or 500 with the reason, never a crash), a failure keeps the running configuration
and reports it, a success runs exactly the new file, and /metrics renders after each."""

from __future__ import annotations

import asyncio

from aiohttp.test_utils import TestClient, TestServer
from hypothesis import event, given
from hypothesis import strategies as st

from batiknet.inventory import load_inventory
from exporter.config import ExporterSettings
from exporter.http import make_app
from exporter.service import create
from tests.fuzzing import FUZZ, VALID, dumped, inventory_files

FAILED = "reload failed, the running configuration stays: "


@FUZZ
@given(contents=st.lists(inventory_files(), min_size=1, max_size=3), allow_drop=st.booleans())
def test_reload_keeps_the_running_configuration_on_every_failure(tmp_path, monkeypatch, contents, allow_drop):
    monkeypatch.setenv("C", "community")  # the SNMP secret of the valid inventory
    config_file = tmp_path / "inventory.yml"
    config_file.write_bytes(dumped(VALID))

    async def scenario():
        service = create(config_file, ExporterSettings(enable_lifecycle=True))
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            for content in contents:
                running = service.config
                config_file.write_bytes(content)
                query = {"allow_target_drop": "true"} if allow_drop else {}
                response = await client.post("/-/reload", params=query)
                body = await response.text()
                event(f"HTTP {response.status}")
                await service.metrics.refresh()  # raises if the configuration cannot be exposed
                metrics = await (await client.get("/metrics")).text()
                if response.status == 200:
                    assert body == f"reloaded: {service.config.target_count} targets\n"
                    expected = [t.id for t in load_inventory(config_file).targets()]
                    assert [t.id for t in service.config.inventory.targets()] == expected
                    assert "batiknet_exporter_config_last_reload_successful 1.0" in metrics
                else:
                    assert response.status in (409, 500), (response.status, body)
                    assert response.status == 500 or not allow_drop
                    assert body.startswith(FAILED) and body.endswith("\n") and body.count("\n") == 1, body
                    assert service.config is running
                    assert "batiknet_exporter_config_last_reload_successful 0.0" in metrics
                for target in running.inventory.targets() if response.status != 200 else ():
                    assert f'target="{target.id}"' in metrics  # still exposed

    asyncio.run(scenario())
