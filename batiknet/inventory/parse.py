"""The inventory's parser: a YAML document (plain data) to the model, or one :class:`InventoryError`.

Every error names the file, the entry and the field (``inventory.yml: devices[2] 'core': kind ...``), so
an operator can mend the file from the message alone. Cross-references (``upstream``, ``isp``) are
checked once every entry is read: unique ids, known parents, no cycles.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from batiknet.inventory.model import (
    DEVICE_KINDS,
    DNS_RECORD_TYPES,
    MODULES,
    OPD,
    SNMP_AUTH_PROTOCOLS,
    SNMP_PRIV_PROTOCOLS,
    SNMP_PROFILES,
    Contact,
    Device,
    DNSCheck,
    DNSServer,
    InterfaceSelection,
    Inventory,
    ISPUplink,
    ProbeSettings,
    SecretRef,
    SNMPCredentials,
)

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
DURATION_PATTERN = re.compile(r"^(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+)s)?(?:(\d+)ms)?$")
SNMP_CONTEXT_PATTERN = re.compile(r"^[\x21-\x7e]{1,32}$")  # contextName: SnmpAdminString (SIZE (0..32))
LONGEST_INTERVAL = 24 * 3600.0  # seconds; beyond a day a probe is no monitoring (and asyncio overflows)
SHOWN_VALUE = 40  # characters of an offending value quoted in an error message


class InventoryError(ValueError):
    """The inventory file cannot be used. ``str()`` is a message fit for an operator."""


def parse_duration(text: str | int | float) -> float:
    """Prometheus-style duration (``1h2m3s``, ``500ms``, ``15s``) or a plain number of seconds."""
    if isinstance(text, bool):
        raise ValueError(f"not a duration: {shown(text)}")
    if isinstance(text, int | float):
        if text <= 0:
            raise ValueError(f"duration must be positive: {shown(text)}")
        return float(text)
    match = DURATION_PATTERN.match(str(text).strip())
    if not match or not any(match.groups()):
        raise ValueError(f"not a duration: {shown(text)} (use e.g. 500ms, 15s, 2m, 1h)")
    hours, minutes, seconds, millis = (int(g) if g else 0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds + millis / 1000
    if total <= 0:
        raise ValueError(f"duration must be positive: {shown(text)}")
    return float(total)


def shown(value: Any) -> str:
    """An offending value for an error message: a scalar's repr, cut short; a container by its kind."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    text = repr(value)
    return text if len(text) <= SHOWN_VALUE else text[: SHOWN_VALUE - 3] + "..."


def parse_inventory(document: Any, path: Path) -> Inventory:
    """The model of a document already read as plain data; ``path`` names the file in the errors, and
    secret files are found relative to it."""
    return _Parser(path).inventory(document)


class _Parser:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.base_dir = path.resolve().parent

    def fail(self, where: str, message: str) -> InventoryError:
        return InventoryError(f"{self.path.name}: {where}: {message}")

    # --- helpers for one mapping -------------------------------------------------------------------

    def mapping(self, value: Any, where: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self.fail(where, f"must be a mapping, not {type(value).__name__}")
        return value

    def no_unknown(self, entry: dict[str, Any], allowed: set[str], where: str) -> None:
        unknown = sorted(set(entry) - allowed, key=repr)  # keys may be null, numbers or booleans too
        if unknown:
            raise self.fail(
                where, f"unknown field {shown(unknown[0])} (allowed: {', '.join(sorted(allowed))})"
            )

    def string(self, entry: dict[str, Any], key: str, where: str, required: bool = True) -> str | None:
        value = entry.get(key)
        if value is None or value == "":
            if required:
                raise self.fail(where, f"{key} is required")
            return None
        if not isinstance(value, str | int) or isinstance(value, bool):
            raise self.fail(where, f"{key} must be a string")
        return str(value)

    def whole_number(
        self, entry: dict[str, Any], key: str, where: str, default: int, low: int, high: int
    ) -> int:
        """An integer field: YAML's ``true`` is no number, though Python's bool is an int."""
        value = entry.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
            raise self.fail(where, f"{key} must be a whole number from {low} to {high}, not {shown(value)}")
        return value

    def address(self, entry: dict[str, Any], key: str, where: str) -> str:
        value = self.string(entry, key, where)
        try:
            return str(ipaddress.ip_address(value))
        except ValueError:
            raise self.fail(where, f"{key} {shown(value)} is not an IP address") from None

    def secret(self, value: Any, where: str, key: str) -> SecretRef:
        if isinstance(value, str):
            raise self.fail(where, f"{key} must not be written inline: use {{env: NAME}} or {{file: PATH}}")
        value = self.mapping(value, f"{where}: {key}")
        if set(value) == {"env"} and isinstance(value["env"], str) and value["env"]:
            return SecretRef(env=value["env"])
        if set(value) == {"file"} and isinstance(value["file"], str) and value["file"]:
            file = Path(value["file"])
            return SecretRef(file=file if file.is_absolute() else self.base_dir / file)
        raise self.fail(where, f"{key} must be exactly one of {{env: NAME}} or {{file: PATH}}")

    # --- sections --------------------------------------------------------------------------------

    def inventory(self, document: Any) -> Inventory:
        top = self.mapping(document, "document")
        self.no_unknown(
            top, {"version", "network", "defaults", "isps", "devices", "dns_servers", "opds"}, "document"
        )
        version = top.get("version", 1)
        if type(version) is not int or version != 1:
            raise self.fail("version", f"unsupported version {shown(version)} (this program reads 1)")
        network = self.mapping(top.get("network"), "network")
        self.no_unknown(network, {"name", "organisation", "timezone"}, "network")
        defaults = self.defaults(self.mapping(top.get("defaults"), "defaults"))

        isps = tuple(self.isp(e, i, defaults) for i, e in enumerate(self.entries(top, "isps")))
        devices = tuple(self.device(e, i, defaults) for i, e in enumerate(self.entries(top, "devices")))
        dns_servers = tuple(
            self.dns_server(e, i, defaults) for i, e in enumerate(self.entries(top, "dns_servers"))
        )
        opds = tuple(self.opd(e, i, defaults) for i, e in enumerate(self.entries(top, "opds")))
        if not (isps or devices or dns_servers or opds):
            # Every program would run blind: the exporter would drop every series, the lab build nothing.
            raise self.fail(
                "document", "lists no targets (isps, devices, dns_servers and opds are all empty)"
            )
        inventory = Inventory(
            path=self.path,
            network_name=self.string(network, "name", "network", required=False) or "Batik.Net",
            organisation=self.string(network, "organisation", "network", required=False) or "",
            timezone=self.string(network, "timezone", "network", required=False) or "Asia/Jakarta",
            opds=opds,
            devices=devices,
            dns_servers=dns_servers,
            isps=isps,
        )
        self.check_references(inventory)
        return inventory

    def entries(self, top: dict[str, Any], section: str) -> list[Any]:
        value = top.get(section)
        if value is None:
            return []
        if not isinstance(value, list):
            raise self.fail(section, "must be a list")
        return value

    def defaults(self, section: dict[str, Any]) -> dict[str, ProbeSettings]:
        self.no_unknown(section, set(MODULES), "defaults")
        builtin = {
            "icmp": ProbeSettings(interval=15.0, timeout=1.0, count=3),
            "dns": ProbeSettings(interval=30.0, timeout=2.0),
            "snmp": ProbeSettings(interval=60.0, timeout=2.0, retries=1),
        }
        return {m: self.probe_settings(section.get(m), f"defaults: {m}", builtin[m]) for m in MODULES}

    def probe_settings(self, value: Any, where: str, base: ProbeSettings) -> ProbeSettings:
        value = self.mapping(value, where)
        self.no_unknown(value, {"interval", "timeout", "count", "retries"}, where)
        try:
            interval = parse_duration(value["interval"]) if "interval" in value else base.interval
            timeout = parse_duration(value["timeout"]) if "timeout" in value else base.timeout
        except ValueError as error:
            raise self.fail(where, str(error)) from None
        count = self.whole_number(value, "count", where, base.count, 1, 100)
        retries = self.whole_number(value, "retries", where, base.retries, 0, 10)
        if interval > LONGEST_INTERVAL:
            raise self.fail(where, f"interval must be at most 24h, not {interval:g}s")
        if timeout > interval:
            raise self.fail(where, f"timeout ({timeout:g}s) must not exceed interval ({interval:g}s)")
        return ProbeSettings(interval=interval, timeout=timeout, count=count, retries=retries)

    def common(self, entry: Any, section: str, index: int) -> tuple[dict[str, Any], str]:
        if not isinstance(entry, dict):
            raise self.fail(f"{section}[{index}]", "must be a mapping")
        raw_id = entry.get("id")
        where = f"{section}[{index}] {shown(raw_id)}" if raw_id is not None else f"{section}[{index}]"
        if not isinstance(raw_id, str) or not ID_PATTERN.match(raw_id):
            raise self.fail(where, "id is required: lower-case letters, digits and '-', at most 63")
        return entry, where

    def probes(
        self, entry: dict[str, Any], where: str, defaults: dict[str, ProbeSettings], modules: tuple[str, ...]
    ) -> dict[str, ProbeSettings]:
        return {m: self.probe_settings(entry.get(m), f"{where}: {m}", defaults[m]) for m in modules}

    def isp(self, entry: Any, index: int, defaults: dict[str, ProbeSettings]) -> ISPUplink:
        entry, where = self.common(entry, "isps", index)
        self.no_unknown(
            entry, {"id", "name", "provider", "address", "upstream", "circuit_id", "support", "icmp"}, where
        )
        support = self.mapping(entry.get("support"), f"{where}: support")
        self.no_unknown(support, {"phone", "email"}, f"{where}: support")
        return ISPUplink(
            id=entry["id"],
            name=self.string(entry, "name", where),
            address=self.address(entry, "address", where),
            upstream=self.string(entry, "upstream", where, required=False),
            kind="isp",
            probes=self.probes(entry, where, defaults, ("icmp",)),
            provider=self.string(entry, "provider", where, required=False) or entry["name"],
            circuit_id=self.string(entry, "circuit_id", where, required=False) or "",
            support_phone=self.string(support, "phone", f"{where}: support", required=False) or "",
            support_email=self.string(support, "email", f"{where}: support", required=False) or "",
        )

    def device(self, entry: Any, index: int, defaults: dict[str, ProbeSettings]) -> Device:
        entry, where = self.common(entry, "devices", index)
        self.no_unknown(
            entry, {"id", "name", "kind", "address", "upstream", "snmp", "interfaces", "icmp"}, where
        )
        kind = self.string(entry, "kind", where)
        if kind not in DEVICE_KINDS:
            raise self.fail(where, f"kind {shown(kind)} is not one of {', '.join(DEVICE_KINDS)}")
        snmp_entry = entry.get("snmp")
        probes = self.probes(entry, where, defaults, ("icmp",))
        snmp = None
        if snmp_entry is not None:
            snmp_where = f"{where}: snmp"
            snmp_map = self.mapping(snmp_entry, snmp_where)
            probe_keys = {"interval", "timeout", "retries"}
            snmp = self.snmp({k: v for k, v in snmp_map.items() if k not in probe_keys}, snmp_where)
            probes["snmp"] = self.probe_settings(
                {k: v for k, v in snmp_map.items() if k in probe_keys}, snmp_where, defaults["snmp"]
            )
        return Device(
            id=entry["id"],
            name=self.string(entry, "name", where),
            address=self.address(entry, "address", where),
            upstream=self.string(entry, "upstream", where, required=False),
            kind=kind,
            probes=probes,
            snmp=snmp,
            interfaces=self.interfaces(entry.get("interfaces"), f"{where}: interfaces"),
        )

    def interfaces(self, value: Any, where: str) -> InterfaceSelection:
        value = self.mapping(value, where)
        self.no_unknown(value, {"include", "exclude"}, where)
        patterns: dict[str, tuple[str, ...]] = {}
        for key in ("include", "exclude"):
            items = value.get(key)
            if items is None:
                continue
            if not isinstance(items, list) or not all(isinstance(p, str) for p in items):
                raise self.fail(where, f"{key} must be a list of regular expressions")
            for pattern in items:
                try:
                    re.compile(pattern)
                except re.error as error:
                    raise self.fail(where, f"{key} pattern {shown(pattern)} is invalid: {error}") from None
            patterns[key] = tuple(items)
        return InterfaceSelection(**patterns)

    def snmp(self, entry: dict[str, Any], where: str) -> SNMPCredentials:
        self.no_unknown(
            entry,
            {
                "version",
                "community",
                "username",
                "security_level",
                "auth_protocol",
                "auth_password",
                "priv_protocol",
                "priv_password",
                "port",
                "context",
                "profile",
            },
            where,
        )
        version = str(entry.get("version", "2c"))
        port = self.whole_number(entry, "port", where, 161, 1, 65535)
        profile = entry.get("profile")
        if profile is not None and profile not in SNMP_PROFILES:
            raise self.fail(where, f"profile {profile!r} is not one of {', '.join(SNMP_PROFILES)}")
        if version == "2c":
            if "community" not in entry:
                raise self.fail(where, "community is required for SNMP v2c")
            if "context" in entry:
                raise self.fail(
                    where,
                    "context is SNMP v3 only; a v2c agent's context goes in its community "
                    "(Cisco: community@vlan)",
                )
            return SNMPCredentials(
                version="2c",
                community=self.secret(entry["community"], where, "community"),
                port=port,
                profile=profile,
            )
        if version != "3":
            raise self.fail(where, f"version {version!r} is not 2c or 3")
        context = entry.get("context", "")
        if context != "" and (not isinstance(context, str) or not SNMP_CONTEXT_PATTERN.match(context)):
            raise self.fail(
                where, f"context {context!r} must be 1 to 32 printable ASCII characters without spaces"
            )
        username = self.string(entry, "username", where)
        level = entry.get("security_level", "authPriv")
        if level not in ("noAuthNoPriv", "authNoPriv", "authPriv"):
            raise self.fail(where, f"security_level {level!r} is not noAuthNoPriv, authNoPriv or authPriv")
        auth_protocol = auth_password = priv_protocol = priv_password = None
        if level in ("authNoPriv", "authPriv"):
            auth_protocol = str(entry.get("auth_protocol", "SHA")).upper()
            if auth_protocol not in SNMP_AUTH_PROTOCOLS:
                raise self.fail(
                    where, f"auth_protocol {auth_protocol!r} is not one of {', '.join(SNMP_AUTH_PROTOCOLS)}"
                )
            if "auth_password" not in entry:
                raise self.fail(where, f"auth_password is required for {level}")
            auth_password = self.secret(entry["auth_password"], where, "auth_password")
        if level == "authPriv":
            priv_protocol = str(entry.get("priv_protocol", "AES")).upper()
            if priv_protocol not in SNMP_PRIV_PROTOCOLS:
                raise self.fail(
                    where, f"priv_protocol {priv_protocol!r} is not one of {', '.join(SNMP_PRIV_PROTOCOLS)}"
                )
            if "priv_password" not in entry:
                raise self.fail(where, "priv_password is required for authPriv")
            priv_password = self.secret(entry["priv_password"], where, "priv_password")
        return SNMPCredentials(
            version="3",
            username=username,
            security_level=level,
            auth_protocol=auth_protocol,
            auth_password=auth_password,
            priv_protocol=priv_protocol,
            priv_password=priv_password,
            port=port,
            context=context,
            profile=profile,
        )

    def dns_server(self, entry: Any, index: int, defaults: dict[str, ProbeSettings]) -> DNSServer:
        entry, where = self.common(entry, "dns_servers", index)
        self.no_unknown(entry, {"id", "name", "address", "port", "upstream", "checks", "icmp", "dns"}, where)
        checks_raw = entry.get("checks")
        if not isinstance(checks_raw, list) or not checks_raw:
            raise self.fail(where, "checks is required: a list of names to look up")
        checks = []
        for number, check in enumerate(checks_raw):
            check_where = f"{where}: checks[{number}]"
            check = self.mapping(check, check_where)
            self.no_unknown(check, {"name", "type", "expect"}, check_where)
            record_type = str(check.get("type", "A")).upper()
            if record_type not in DNS_RECORD_TYPES:
                raise self.fail(
                    check_where,
                    f"type {shown(record_type)} is not one of {', '.join(DNS_RECORD_TYPES)} "
                    "(ANY is never used)",
                )
            expect = check.get("expect") or []
            if not isinstance(expect, list):
                raise self.fail(check_where, "expect must be a list of answers")
            checks.append(
                DNSCheck(
                    name=self.string(check, "name", check_where),
                    type=record_type,
                    expect=tuple(str(e) for e in expect),
                )
            )
        port = self.whole_number(entry, "port", where, 53, 1, 65535)
        return DNSServer(
            id=entry["id"],
            name=self.string(entry, "name", where),
            address=self.address(entry, "address", where),
            upstream=self.string(entry, "upstream", where, required=False),
            kind="dns",
            probes=self.probes(entry, where, defaults, ("icmp", "dns")),
            port=port,
            checks=tuple(checks),
        )

    def opd(self, entry: Any, index: int, defaults: dict[str, ProbeSettings]) -> OPD:
        entry, where = self.common(entry, "opds", index)
        self.no_unknown(
            entry,
            {"id", "name", "kecamatan", "street_address", "address", "upstream", "isp", "contact", "icmp"},
            where,
        )
        contact = None
        if entry.get("contact") is not None:
            contact_where = f"{where}: contact"
            contact_map = self.mapping(entry["contact"], contact_where)
            self.no_unknown(contact_map, {"name", "phone", "email"}, contact_where)
            contact = Contact(
                name=self.string(contact_map, "name", contact_where),
                phone=self.string(contact_map, "phone", contact_where),
                email=self.string(contact_map, "email", contact_where, required=False),
            )
        return OPD(
            id=entry["id"],
            name=self.string(entry, "name", where),
            address=self.address(entry, "address", where),
            upstream=self.string(entry, "upstream", where),
            kind="opd",
            probes=self.probes(entry, where, defaults, ("icmp",)),
            kecamatan=self.string(entry, "kecamatan", where),
            street_address=self.string(entry, "street_address", where, required=False) or "",
            isp=self.string(entry, "isp", where, required=False),
            contact=contact,
        )

    # --- cross-references ------------------------------------------------------------------------

    def check_references(self, inventory: Inventory) -> None:
        where_of: dict[str, str] = {}
        sections = (
            ("isps", inventory.isps),
            ("devices", inventory.devices),
            ("dns_servers", inventory.dns_servers),
            ("opds", inventory.opds),
        )
        for section, entries in sections:
            for index, target in enumerate(entries):
                where = f"{section}[{index}] {target.id!r}"
                if target.id in where_of:
                    raise self.fail(where, f"id is already used by {where_of[target.id]}")
                where_of[target.id] = where
        parents = {t.id for t in (*inventory.devices, *inventory.isps)}
        isp_ids = {t.id for t in inventory.isps}
        by_id = {t.id: t for t in inventory.targets()}
        for target in inventory.targets():
            where = where_of[target.id]
            if target.upstream is not None and target.upstream not in parents:
                raise self.fail(
                    where, f"upstream {shown(target.upstream)} is not a known device or ISP uplink"
                )
            if isinstance(target, OPD) and target.isp is not None and target.isp not in isp_ids:
                raise self.fail(where, f"isp {shown(target.isp)} is not a known ISP uplink")
        for target in inventory.targets():
            seen = [target.id]
            current = target.upstream
            while current is not None:
                if current in seen:
                    cycle = " -> ".join([*seen, current])
                    raise self.fail(where_of[target.id], f"upstream forms a cycle: {cycle}")
                seen.append(current)
                current = by_id[current].upstream
