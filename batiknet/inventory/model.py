"""The inventory's model: what a valid inventory is, as frozen dataclasses, and the words it allows.

Everything here is already validated: :mod:`batiknet.inventory.parse` builds these from a YAML document
and refuses what does not fit. Secrets (SNMP communities and passwords) are never held inline: they are
references to an environment variable or a file, resolved only by the program that needs them
(:meth:`SecretRef.resolve`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

DEVICE_KINDS = ("router", "switch")
DNS_RECORD_TYPES = ("A", "AAAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT")
SNMP_AUTH_PROTOCOLS = ("MD5", "SHA", "SHA224", "SHA256", "SHA384", "SHA512")
SNMP_PRIV_PROTOCOLS = ("DES", "AES", "AES192", "AES256")
# The exporter's device profiles (exporter/probes/snmp_profiles.py; a test keeps the two lists equal).
SNMP_PROFILES = (
    "standard",
    "cisco",
    "huawei",
    "h3c",
    "juniper",
    "fortinet",
    "mikrotik",
    "ruijie",
    "zte",
    "dlink",
)
MODULES = ("icmp", "dns", "snmp")


class SecretUnavailable(RuntimeError):
    """A secret reference points at an environment variable or file that is not there."""


@dataclass(frozen=True)
class SecretRef:
    """A secret kept outside the inventory: ``{env: NAME}`` or ``{file: path}``."""

    env: str | None = None
    file: Path | None = None

    def resolve(self, environ: Mapping[str, str] | None = None) -> str:
        environ = os.environ if environ is None else environ
        if self.env is not None:
            if self.env not in environ:
                raise SecretUnavailable(f"environment variable {self.env} is not set")
            return environ[self.env]
        assert self.file is not None
        try:
            return self.file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise SecretUnavailable(f"cannot read secret file {self.file}: {error.strerror}") from error

    def describe(self) -> str:
        return f"env:{self.env}" if self.env is not None else f"file:{self.file}"


@dataclass(frozen=True)
class SNMPCredentials:
    version: str  # "2c" or "3"
    community: SecretRef | None = None
    username: str | None = None
    security_level: str | None = None  # noAuthNoPriv, authNoPriv, authPriv
    auth_protocol: str | None = None
    auth_password: SecretRef | None = None
    priv_protocol: str | None = None
    priv_password: SecretRef | None = None
    port: int = 161
    context: str = ""  # v3 contextName (a VLAN or VRF view of the agent); empty: the default context
    profile: str | None = None  # forces one of SNMP_PROFILES; None: chosen by the device's sysObjectID


@dataclass(frozen=True)
class ProbeSettings:
    """How often and how patiently one module probes one target."""

    interval: float
    timeout: float
    count: int = 1  # ICMP echoes per round
    retries: int = 0  # SNMP retries


@dataclass(frozen=True)
class InterfaceSelection:
    """Which interfaces of a device are exported: regular expressions on ifName."""

    include: tuple[str, ...] = (".*",)
    exclude: tuple[str, ...] = ()

    def selects(self, name: str) -> bool:
        return any(re.search(p, name) for p in self.include) and not any(
            re.search(p, name) for p in self.exclude
        )


@dataclass(frozen=True)
class Target:
    """Anything with an address that sits in the topology tree."""

    id: str
    name: str
    address: str
    upstream: str | None
    kind: str  # opd, router, switch, isp, dns
    probes: Mapping[str, ProbeSettings]


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str
    email: str | None = None


@dataclass(frozen=True)
class OPD(Target):
    kecamatan: str = ""
    street_address: str = ""
    isp: str | None = None
    contact: Contact | None = None


@dataclass(frozen=True)
class Device(Target):
    snmp: SNMPCredentials | None = None
    interfaces: InterfaceSelection = field(default_factory=InterfaceSelection)


@dataclass(frozen=True)
class ISPUplink(Target):
    provider: str = ""
    circuit_id: str = ""
    support_phone: str = ""
    support_email: str = ""


@dataclass(frozen=True)
class DNSCheck:
    name: str
    type: str = "A"
    expect: tuple[str, ...] = ()


@dataclass(frozen=True)
class DNSServer(Target):
    port: int = 53
    checks: tuple[DNSCheck, ...] = ()


@dataclass(frozen=True)
class Inventory:
    path: Path
    network_name: str
    organisation: str
    timezone: str
    opds: tuple[OPD, ...]
    devices: tuple[Device, ...]
    dns_servers: tuple[DNSServer, ...]
    isps: tuple[ISPUplink, ...]

    def targets(self) -> Iterator[Target]:
        """Every probed entry, in a stable order: ISP uplinks, devices, DNS servers, OPDs."""
        yield from self.isps
        yield from self.devices
        yield from self.dns_servers
        yield from self.opds

    def target(self, target_id: str) -> Target:
        for target in self.targets():
            if target.id == target_id:
                return target
        raise KeyError(target_id)

    def ancestors(self, target_id: str) -> tuple[str, ...]:
        """The ids upstream of a target, nearest first (its parent, then the parent's parent, ...)."""
        by_id = {t.id: t for t in self.targets()}
        chain: list[str] = []
        current = by_id[target_id].upstream
        while current is not None:
            chain.append(current)
            current = by_id[current].upstream
        return tuple(chain)

    def behind(self, target_id: str) -> tuple[str, ...]:
        """Every target whose path goes through ``target_id`` (its whole subtree, itself excluded)."""
        return tuple(t.id for t in self.targets() if target_id in self.ancestors(t.id))

    def children(self, target_id: str) -> tuple[str, ...]:
        return tuple(t.id for t in self.targets() if t.upstream == target_id)
