"""``--web.config.file``: TLS and basic authentication, in the format of Prometheus' exporter-toolkit.

The same file works for node_exporter, blackbox_exporter and this exporter::

    tls_server_config:
      cert_file: exporter.crt          # relative paths are relative to this file
      key_file: exporter.key
      client_auth_type: RequireAndVerifyClientCert   # optional; with client_ca_file
      client_ca_file: prometheus-ca.crt
      min_version: TLS12               # TLS12 (default) or TLS13
    basic_auth_users:                  # user: bcrypt hash (htpasswd -nBC 10 "" | tr -d ':\\n')
      prometheus: $2y$10$...

Without the file (or with neither section) the exporter serves plain HTTP to everyone, as exporters
do. exporter-toolkit keys this exporter does not implement (``http_server_config``, ``rate_limit``,
inline ``cert``/``key``, cipher and curve lists, ``client_allowed_sans``) are refused by name rather
than ignored: a file that asks for a protection must never run without it.

The file is read at start and again at every reload, with the inventory: a new certificate or user
list applies to new connections; switching TLS on or off, or its settings, needs a restart.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import re
import ssl
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bcrypt

from batiknet.yamlfile import YAMLFileError, load_yaml_file

__all__ = ["BasicAuth", "TLSSettings", "WebConfig", "WebConfigError", "load_web_config"]

TLS_KEYS = {"cert_file", "key_file", "client_auth_type", "client_ca_file", "min_version", "max_version"}
TOOLKIT_KEYS_NOT_IMPLEMENTED = {
    "http_server_config",
    "rate_limit",
    "cert",
    "key",
    "client_ca",
    "cipher_suites",
    "curve_preferences",
    "prefer_server_cipher_suites",
    "client_allowed_sans",
}
CLIENT_AUTH = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
BCRYPT_HASH = re.compile(r"^\$2[aby]\$(0[4-9]|[12][0-9]|3[01])\$[./A-Za-z0-9]{53}$")
# Checked when the user is unknown, so that a wrong user name costs the same time as a wrong password.
DECOY_HASH = b"$2b$10$dAeIwy5GvrlIgf3IA/4zvumWIqIi.Z0nxn6fm8TlOmPoU4sLJYGCG"
CACHED_VERDICTS = 256


class WebConfigError(ValueError):
    """The web configuration file cannot be used; ``str()`` says why."""


@dataclass(frozen=True)
class TLSSettings:
    cert_file: Path
    key_file: Path
    client_auth_type: str = "NoClientCert"
    client_ca_file: Path | None = None
    min_version: str = "TLS12"
    max_version: str = "TLS13"


@dataclass(frozen=True)
class WebConfig:
    tls: TLSSettings | None = None
    users: Mapping[str, bytes] = field(default_factory=dict)  # user name -> bcrypt hash
    # Built from ``tls`` when the file is read, so that a missing or mismatched certificate is refused then.
    ssl_context: ssl.SSLContext | None = field(default=None, compare=False)


def load_web_config(path: Path | None) -> WebConfig:
    """The web configuration, certificates loaded; without a file, plain HTTP without authentication."""
    if path is None:
        return WebConfig()
    try:
        document = load_yaml_file(path)
    except YAMLFileError as error:
        raise WebConfigError(str(error)) from None
    document = _mapping(document, path.name, "document")
    _known(document, {"tls_server_config", "basic_auth_users"}, path.name, "document")
    tls = _tls(_mapping(document.get("tls_server_config"), path.name, "tls_server_config"), path)
    users = _users(_mapping(document.get("basic_auth_users"), path.name, "basic_auth_users"), path.name)
    return WebConfig(tls=tls, users=users, ssl_context=None if tls is None else _ssl_context(tls, path.name))


def _mapping(value: Any, name: str, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise WebConfigError(f"{name}: {where}: must be a mapping")
    return value


def _known(section: dict[str, Any], allowed: set[str], name: str, where: str) -> None:
    for key in section:
        if key in TOOLKIT_KEYS_NOT_IMPLEMENTED:
            raise WebConfigError(f"{name}: {where}: {key} is not supported by batiknet-exporter")
        if key not in allowed:
            raise WebConfigError(f"{name}: {where}: unknown field {str(key)[:40]!r}")


def _tls(section: dict[str, Any], path: Path) -> TLSSettings | None:
    name = path.name
    _known(section, TLS_KEYS, name, "tls_server_config")
    if not section:
        return None
    for key, value in section.items():
        if not isinstance(value, str) or not value:
            raise WebConfigError(f"{name}: tls_server_config: {key} must be a non-empty string")
    for key in ("cert_file", "key_file"):
        if key not in section:
            raise WebConfigError(f"{name}: tls_server_config: {key} is required for TLS")
    client_auth = section.get("client_auth_type", "NoClientCert")
    if client_auth not in CLIENT_AUTH:
        raise WebConfigError(
            f"{name}: tls_server_config: client_auth_type must be one of {', '.join(CLIENT_AUTH)}"
        )
    if "client_ca_file" in section and client_auth == "NoClientCert":
        raise WebConfigError(f"{name}: tls_server_config: client_ca_file needs a client_auth_type")
    if client_auth != "NoClientCert" and "client_ca_file" not in section:
        raise WebConfigError(
            f"{name}: tls_server_config: client_auth_type {client_auth} needs client_ca_file"
        )
    versions = section.get("min_version", "TLS12"), section.get("max_version", "TLS13")
    if not set(versions) <= set(TLS_VERSIONS):
        raise WebConfigError(f"{name}: tls_server_config: min_version and max_version are TLS12 or TLS13")
    if TLS_VERSIONS[versions[0]] > TLS_VERSIONS[versions[1]]:
        raise WebConfigError(f"{name}: tls_server_config: min_version is above max_version")
    here = path.resolve().parent
    return TLSSettings(
        cert_file=here / section["cert_file"],
        key_file=here / section["key_file"],
        client_auth_type=client_auth,
        client_ca_file=here / section["client_ca_file"] if "client_ca_file" in section else None,
        min_version=versions[0],
        max_version=versions[1],
    )


def _users(section: dict[str, Any], name: str) -> dict[str, bytes]:
    users = {}
    for user, hashed in section.items():
        if not isinstance(user, str) or not user or ":" in user:
            raise WebConfigError(f"{name}: basic_auth_users: a user name is a non-empty string without ':'")
        if not isinstance(hashed, str) or not BCRYPT_HASH.match(hashed):
            raise WebConfigError(
                f"{name}: basic_auth_users: {user[:40]!r}: not a bcrypt hash (never a password in clear)"
            )
        users[user] = hashed.encode("ascii")
    return users


def _ssl_context(tls: TLSSettings, name: str) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = TLS_VERSIONS[tls.min_version]
    context.maximum_version = TLS_VERSIONS[tls.max_version]
    try:
        context.load_cert_chain(tls.cert_file, tls.key_file)
        if tls.client_ca_file is not None:
            context.load_verify_locations(tls.client_ca_file)
    except (OSError, ssl.SSLError, ValueError) as error:
        raise WebConfigError(
            f"{name}: tls_server_config: cannot load the certificate or key: {error}"
        ) from None
    context.verify_mode = CLIENT_AUTH[tls.client_auth_type]
    return context


def basic_credentials(header: str | None) -> tuple[str, bytes] | None:
    """User and password of an ``Authorization: Basic ...`` header, or None when there is none."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError):
        return None
    user, colon, password = decoded.partition(b":")
    if not colon:
        return None
    try:
        return user.decode("utf-8"), password
    except UnicodeDecodeError:
        return None


class BasicAuth:
    """Checks basic-auth credentials against the bcrypt hashes of the web configuration.

    bcrypt is slow on purpose (some 60 ms at cost 10), so, like exporter-toolkit, each verdict is kept
    per (user, hash, password) — under a SHA-256, never the password itself — and one check runs at a
    time, off the event loop: a scrape every 15 s costs one bcrypt, not one each.
    """

    def __init__(self) -> None:
        self._verdicts: OrderedDict[bytes, bool] = OrderedDict()
        self._lock = asyncio.Lock()

    async def allows(self, header: str | None, users: Mapping[str, bytes]) -> bool:
        credentials = basic_credentials(header)
        if credentials is None:
            return False
        user, password = credentials
        hashed = users.get(user, DECOY_HASH)
        key = hashlib.sha256(b"\0".join((user.encode(), hashed, password))).digest()
        verdict = self._verdicts.get(key)
        if verdict is None:
            async with self._lock:
                verdict = await asyncio.get_running_loop().run_in_executor(
                    None, _bcrypt_matches, password, hashed
                )
            self._verdicts[key] = verdict
            if len(self._verdicts) > CACHED_VERDICTS:
                self._verdicts.popitem(last=False)
        return verdict and user in users


def _bcrypt_matches(password: bytes, hashed: bytes) -> bool:
    try:
        return bcrypt.checkpw(password, hashed)
    except ValueError:  # longer than bcrypt's 72 bytes: no hash can match it
        return False
