import resource

import pytest
import yaml

from exporter import config
from exporter.config import (
    ExporterSettings,
    InventoryInvalid,
    OpenFileLimitTooLow,
    SecretMissing,
    SettingInvalid,
    load_config,
    required_open_files,
)

from .fakes import DOCUMENT


@pytest.fixture
def inventory_file(tmp_path):
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(DOCUMENT))
    return path


def test_a_good_file_loads_with_resolved_secrets(inventory_file):
    loaded = load_config(inventory_file, environ={"TEST_COMMUNITY": "s3cret"})
    assert loaded.snmp_auth["core"].community == "s3cret"
    assert loaded.snmp_auth["core"].version == "2c"
    assert "dist" not in loaded.snmp_auth  # no snmp section: not walked
    assert loaded.target_count == 7


def test_an_invalid_inventory_names_file_entry_and_field(tmp_path):
    document = {**DOCUMENT, "opds": [{**DOCUMENT["opds"][0], "upstream": "core-9"}]}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(InventoryInvalid, match=r"inventory.yml: opds\[0\] 'setda': upstream 'core-9'"):
        load_config(path, environ={"TEST_COMMUNITY": "x"})


def test_a_missing_file_is_an_invalid_inventory(tmp_path):
    with pytest.raises(InventoryInvalid, match="cannot read"):
        load_config(tmp_path / "nope.yml")


def test_a_missing_secret_names_the_device(inventory_file):
    with pytest.raises(SecretMissing, match=r"device 'core'.*TEST_COMMUNITY"):
        load_config(inventory_file, environ={})


@pytest.mark.parametrize(
    "settings",
    [ExporterSettings(concurrency=0), ExporterSettings(icmp_rate=0), ExporterSettings(icmp_mode="magic")],
)
def test_settings_out_of_range(inventory_file, settings):
    with pytest.raises(SettingInvalid):
        load_config(inventory_file, settings, environ={"TEST_COMMUNITY": "x"})


def test_open_files_needed_follow_the_targets_up_to_the_concurrency():
    assert required_open_files(10, 64) == 10 + config.RESERVED_FILES
    assert required_open_files(2000, 64) == 64 + config.RESERVED_FILES


def test_a_hard_open_file_limit_below_the_need_is_refused(inventory_file, monkeypatch):
    monkeypatch.setattr(resource, "getrlimit", lambda _: (20, 40))
    with pytest.raises(OpenFileLimitTooLow, match="open-file limit 40"):
        load_config(inventory_file, environ={"TEST_COMMUNITY": "x"})


def test_a_low_soft_limit_is_raised(monkeypatch):
    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda _: (20, 4096))
    monkeypatch.setattr(resource, "setrlimit", lambda kind, limits: calls.append(limits))
    assert config.ensure_open_files(500) == 500
    assert calls == [(500, 4096)]
