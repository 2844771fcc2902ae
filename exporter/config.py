"""The exporter's configuration: the inventory plus the exporter's own settings, typed and validated.

:func:`load_config` either returns a complete :class:`ExporterConfig` (inventory parsed, every SNMP
secret resolved, settings in range, enough file descriptors) or raises exactly one :class:`ConfigError`
subclass that says what is wrong. A running exporter keeps its old configuration when a reload fails,
and when the new inventory would remove more than ``max_target_drop`` of the running targets
(:func:`check_target_drop`) unless that reload is explicitly allowed to.
"""

from __future__ import annotations

import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from batiknet.inventory import Inventory, InventoryError, SecretRef, SecretUnavailable, load_inventory
from exporter.probes.snmp import SNMPAuth
from exporter.webconfig import WebConfig, WebConfigError, load_web_config

__all__ = [
    "ConfigError",
    "ExporterConfig",
    "ExporterSettings",
    "InventoryInvalid",
    "OpenFileLimitTooLow",
    "SecretMissing",
    "SettingInvalid",
    "TooManyTargetsDropped",
    "UnexpectedLoadError",
    "WebConfigInvalid",
    "check_reload",
    "check_target_drop",
    "ensure_open_files",
    "load_config",
    "required_open_files",
    "target_drop",
]

RESERVED_FILES = 64  # HTTP clients, log files, the ICMP sockets, the interpreter's own


class ConfigError(Exception):
    """The configuration cannot be used; ``str()`` says why, for an operator."""


class InventoryInvalid(ConfigError):
    """The inventory file is missing, not YAML, or fails validation."""


class SecretMissing(ConfigError):
    """A device's SNMP secret points at an environment variable or file that is not there."""


class SettingInvalid(ConfigError):
    """An exporter setting (command-line flag) is out of range."""


class OpenFileLimitTooLow(ConfigError):
    """The hard open-file limit cannot hold a socket per concurrent probe."""


class WebConfigInvalid(ConfigError):
    """The web configuration file (TLS, basic authentication) is missing, not YAML, or wrong."""


class TooManyTargetsDropped(ConfigError):
    """A reload would remove most running targets: a truncated or wrong file, until someone says so."""


class UnexpectedLoadError(ConfigError):
    """Loading raised something no other class describes: a bug, reported like any failed load."""


@dataclass(frozen=True)
class ExporterSettings:
    """Settings that are the exporter's, not the network's (they come from command-line flags)."""

    concurrency: int = 64  # DNS lookups and SNMP walks in flight at once, over all modules
    icmp_rate: float = 10_000.0  # echoes per second over all rounds, like fping -i 0.1
    icmp_mode: str = "auto"  # auto, datagram or raw
    probe_unlisted: bool = False  # /probe may target addresses outside the inventory
    enable_lifecycle: bool = False  # POST /-/reload is served (SIGHUP always reloads)
    max_target_drop: float = 0.5  # share of the running targets a reload may remove without being told to
    web_config_file: Path | None = None  # TLS and basic authentication, exporter-toolkit's format

    def validate(self) -> None:
        if not 1 <= self.concurrency <= 10_000:
            raise SettingInvalid(f"concurrency must be from 1 to 10000, not {self.concurrency}")
        if not 1 <= self.icmp_rate <= 1_000_000:
            raise SettingInvalid(
                f"ICMP rate must be from 1 to 1000000 echoes a second, not {self.icmp_rate:g}"
            )
        if self.icmp_mode not in ("auto", "datagram", "raw"):
            raise SettingInvalid(f"ICMP mode must be auto, datagram or raw, not {self.icmp_mode!r}")
        if not 0 <= self.max_target_drop <= 1:
            raise SettingInvalid(f"the target drop limit must be from 0 to 1, not {self.max_target_drop:g}")


@dataclass(frozen=True)
class ExporterConfig:
    inventory: Inventory
    settings: ExporterSettings
    snmp_auth: Mapping[str, SNMPAuth] = field(default_factory=dict)  # device id -> resolved credentials
    web: WebConfig = field(default_factory=WebConfig)

    @property
    def target_count(self) -> int:
        return sum(1 for _ in self.inventory.targets())


def _resolve(secret: SecretRef | None, environ: Mapping[str, str] | None) -> str | None:
    return secret.resolve(environ) if secret is not None else None


def resolve_snmp(inventory: Inventory, environ: Mapping[str, str] | None = None) -> dict[str, SNMPAuth]:
    result = {}
    for device in inventory.devices:
        credentials = device.snmp
        if credentials is None:
            continue
        try:
            result[device.id] = SNMPAuth(
                version=credentials.version,
                port=credentials.port,
                community=_resolve(credentials.community, environ),
                username=credentials.username,
                auth_protocol=credentials.auth_protocol,
                auth_password=_resolve(credentials.auth_password, environ),
                priv_protocol=credentials.priv_protocol,
                priv_password=_resolve(credentials.priv_password, environ),
            )
        except SecretUnavailable as error:
            raise SecretMissing(f"{inventory.path.name}: device {device.id!r}: snmp: {error}") from error
    return result


def required_open_files(target_count: int, concurrency: int) -> int:
    """Descriptors needed: one socket per concurrent probe (never more than there are targets)."""
    return min(target_count, concurrency) + RESERVED_FILES


def ensure_open_files(needed: int) -> int:
    """Raise the soft open-file limit to ``needed`` if it is lower; fail if the hard limit is lower."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return soft
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise OpenFileLimitTooLow(
            f"open-file limit {hard} is below the {needed} this configuration needs; raise it "
            "(ulimit -n, LimitNOFILE=) or lower --probe.concurrency"
        )
    resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
    return needed


def target_drop(running: Inventory, new: Inventory) -> int:
    """How many running targets the new inventory no longer has (their series would disappear)."""
    kept = {t.id for t in new.targets()}
    return sum(1 for t in running.targets() if t.id not in kept)


def check_target_drop(running: Inventory, new: Inventory, max_share: float) -> None:
    """Refuse a new inventory that removes more than ``max_share`` of the running targets."""
    dropped, count = target_drop(running, new), sum(1 for _ in running.targets())
    if dropped > max_share * count:
        raise TooManyTargetsDropped(
            f"{new.path.name}: would remove {dropped} of the {count} running targets (more than "
            f"{max_share:.0%}); to accept it: POST /-/reload?allow_target_drop=true, or restart the exporter"
        )


def check_reload(running: ExporterConfig, new: ExporterConfig, allow_target_drop: bool) -> None:
    """What a reload may not change: most of the targets (unless allowed), and the listener's TLS."""
    if not allow_target_drop:
        check_target_drop(running.inventory, new.inventory, running.settings.max_target_drop)
    if new.web.tls != running.web.tls:
        raise WebConfigInvalid(
            "tls_server_config changed: restart the exporter to switch TLS on or off or change its settings "
            "(a reload renews the certificate and key files only)"
        )


def load_config(
    path: str | os.PathLike[str],
    settings: ExporterSettings | None = None,
    environ: Mapping[str, str] | None = None,
) -> ExporterConfig:
    settings = settings or ExporterSettings()
    settings.validate()
    try:
        inventory = load_inventory(Path(path))
    except InventoryError as error:
        raise InventoryInvalid(str(error)) from error
    try:
        web = load_web_config(settings.web_config_file)
    except WebConfigError as error:
        raise WebConfigInvalid(str(error)) from error
    config = ExporterConfig(inventory, settings, resolve_snmp(inventory, environ), web)
    ensure_open_files(required_open_files(config.target_count, settings.concurrency))
    return config
