"""``--web.config.file`` (exporter-toolkit's format): basic authentication with bcrypt hashes, TLS, and
what is refused; the lifecycle flag; the loopback default. In process except the last test, which runs
the command itself with TLS and basic authentication on loopback."""

from __future__ import annotations

import asyncio
import base64
import datetime
import ipaddress
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import bcrypt
import pytest
import yaml
from aiohttp.test_utils import TestClient, TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from exporter.config import ExporterSettings
from exporter.http import make_app
from exporter.service import create
from exporter.webconfig import BasicAuth, WebConfigError, basic_credentials, load_web_config
from tests.support import require_binary, require_root

from .test_cli import exporter_command, free_port, start
from .test_http import write_inventory
from .test_reload import document, write

PASSWORD = "rahasia-prometheus"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(4)).decode()  # cost 4: fast tests, same code path


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def self_signed(directory: Path, name: str = "exporter") -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, written beside each other."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / f"{name}.crt", directory / f"{name}.key"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def web_config(tmp_path: Path, content: dict | str) -> Path:
    path = tmp_path / "web.yml"
    path.write_text(content if isinstance(content, str) else yaml.safe_dump(content))
    return path


# --- the file ----------------------------------------------------------------------------------------


def test_no_file_is_plain_http_for_everyone():
    config = load_web_config(None)
    assert (config.tls, dict(config.users), config.ssl_context) == (None, {}, None)


def test_users_and_tls_relative_to_the_file(tmp_path):
    self_signed(tmp_path)
    config = load_web_config(
        web_config(
            tmp_path,
            {
                "tls_server_config": {"cert_file": "exporter.crt", "key_file": "exporter.key"},
                "basic_auth_users": {"prometheus": HASH},
            },
        )
    )
    assert config.tls.cert_file == tmp_path / "exporter.crt"
    assert config.users == {"prometheus": HASH.encode()}
    assert config.ssl_context.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        ({"basic_auth_users": {"prometheus": "rahasia"}}, "not a bcrypt hash (never a password in clear)"),
        (
            {"http_server_config": {"http2": False}},
            "http_server_config is not supported by batiknet-exporter",
        ),
        ({"rate_limit": {"burst": 1}}, "rate_limit is not supported"),
        ({"tls_server_config": {"cert_file": "exporter.crt"}}, "key_file is required for TLS"),
        ({"tls_server_config": {"cert": "-----BEGIN", "key": "x"}}, "cert is not supported"),
        (
            {"tls_server_config": {"cert_file": "none.crt", "key_file": "none.key"}},
            "cannot load the certificate",
        ),
        (
            {
                "tls_server_config": {
                    "cert_file": "exporter.crt",
                    "key_file": "exporter.key",
                    "client_ca_file": "c",
                }
            },
            "client_ca_file needs a client_auth_type",
        ),
        (
            {
                "tls_server_config": {
                    "cert_file": "a",
                    "key_file": "b",
                    "client_auth_type": "RequireAnyClientCert",
                }
            },
            "client_auth_type must be one of",
        ),
        (
            {"tls_server_config": {"cert_file": "a", "key_file": "b", "min_version": "TLS10"}},
            "min_version and max_version are TLS12 or TLS13",
        ),
        (
            {
                "tls_server_config": {
                    "cert_file": "a",
                    "key_file": "b",
                    "min_version": "TLS13",
                    "max_version": "TLS12",
                }
            },
            "min_version is above max_version",
        ),
        ({"basic_auth_user": {}}, "unknown field 'basic_auth_user'"),
        ("basic_auth_users: {a: x, a: y}\n", "duplicate key 'a'"),
        ("basic_auth_users: [a]\n", "basic_auth_users: must be a mapping"),
    ],
)
def test_what_the_file_may_not_say(tmp_path, content, reason):
    self_signed(tmp_path)
    with pytest.raises(WebConfigError) as caught:
        load_web_config(web_config(tmp_path, content))
    assert reason in str(caught.value)
    assert str(caught.value).startswith("web.yml: ")


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic " + base64.b64encode(b"prometheus:a:b").decode(), ("prometheus", b"a:b")),
        ("basic " + base64.b64encode(b"u:").decode(), ("u", b"")),
        (None, None),
        ("Bearer abc", None),
        ("Basic !!!", None),
        ("Basic " + base64.b64encode(b"no colon").decode(), None),
        ("Basic " + base64.b64encode(b"\xff:x").decode(), None),
    ],
)
def test_basic_credentials(header, expected):
    assert basic_credentials(header) == expected


def test_basic_auth_checks_bcrypt_and_keeps_its_verdicts():
    users = {"prometheus": HASH.encode()}
    auth = BasicAuth()

    async def scenario():
        assert await auth.allows(basic("prometheus", PASSWORD)["Authorization"], users)
        assert not await auth.allows(basic("prometheus", "salah")["Authorization"], users)
        assert not await auth.allows(basic("nobody", PASSWORD)["Authorization"], users)
        assert not await auth.allows(basic("prometheus", "x" * 100)["Authorization"], users)
        assert not await auth.allows(None, users)
        assert await auth.allows(basic("prometheus", PASSWORD)["Authorization"], users)

    asyncio.run(scenario())
    assert len(auth._verdicts) == 4  # the repeated right password was not hashed again
    assert not any(PASSWORD.encode() in key for key in auth._verdicts)


# --- the endpoints ------------------------------------------------------------------------------------


def test_every_path_needs_the_credentials_when_users_are_configured(tmp_path):
    settings = ExporterSettings(
        enable_lifecycle=True,
        web_config_file=web_config(tmp_path, {"basic_auth_users": {"prometheus": HASH}}),
    )
    config_file = tmp_path / "inventory.yml"
    write(config_file, document())

    async def scenario():
        service = create(config_file, settings)
        async with TestClient(TestServer(make_app(service), host="127.0.0.1")) as client:
            for method, path in [
                ("GET", "/metrics"),
                ("GET", "/"),
                ("GET", "/-/healthy"),
                ("POST", "/-/reload"),
            ]:
                for headers in ({}, basic("prometheus", "salah"), basic("root", PASSWORD)):
                    response = await client.request(method, path, headers=headers)
                    assert response.status == 401, (method, path, headers)
                    assert response.headers["WWW-Authenticate"].startswith("Basic ")
            response = await client.get("/metrics", headers=basic("prometheus", PASSWORD))
            assert response.status == 200
            assert "batiknet_target_info" in await response.text()
            response = await client.post("/-/reload", headers=basic("prometheus", PASSWORD))
            assert response.status == 200

    asyncio.run(scenario())


def test_a_reload_may_not_switch_tls_on(tmp_path):
    config_file, web_file = tmp_path / "inventory.yml", web_config(tmp_path, {})
    write(config_file, document())

    async def scenario():
        service = create(config_file, ExporterSettings(web_config_file=web_file))
        self_signed(tmp_path)
        web_config(tmp_path, {"tls_server_config": {"cert_file": "exporter.crt", "key_file": "exporter.key"}})
        outcome = await service.reload()
        assert outcome.error is not None and "restart the exporter" in outcome.message
        assert service.config.web.tls is None

    asyncio.run(scenario())


# --- the command ---------------------------------------------------------------------------------------


def test_a_bad_web_config_stops_the_start(tmp_path):
    config_file = tmp_path / "inventory.yml"
    write(config_file, document())
    bad = web_config(tmp_path, {"basic_auth_users": {"prometheus": "rahasia"}})
    done = start(config_file, "--web.config.file", str(bad))
    assert done.returncode == 1
    assert "kind=WebConfigInvalid" in done.stderr and "not a bcrypt hash" in done.stderr
    assert len(done.stderr.splitlines()) == 1


@contextmanager
def exporter_with_tls_and_basic_auth(tmp_path: Path):
    """The command on a loopback port with TLS and basic authentication: (port, certificate, log)."""
    cert_file, _ = self_signed(tmp_path)
    web_file = web_config(
        tmp_path,
        {
            "tls_server_config": {"cert_file": "exporter.crt", "key_file": "exporter.key"},
            "basic_auth_users": {"prometheus": HASH},
        },
    )
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    config_file = tmp_path / "inventory.yml"
    write_inventory(config_file, silent.getsockname()[1])
    port = free_port()
    log_path = tmp_path / "exporter.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            exporter_command(config_file, port, "--web.config.file", str(web_file)), stderr=log
        )
    try:
        deadline = time.monotonic() + 20
        while "listening" not in log_path.read_text():
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError(log_path.read_text())
            time.sleep(0.1)
        yield port, cert_file, log_path, process
    finally:
        process.terminate()
        process.wait(timeout=10)
        silent.close()


def fetch(port: int, path: str, ca_file: Path, headers: dict[str, str]) -> tuple[int, str]:
    context = ssl.create_default_context(cafile=str(ca_file))
    request = urllib.request.Request(f"https://127.0.0.1:{port}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, ""


@pytest.mark.root
def test_tls_and_basic_auth_end_to_end_and_a_renewed_certificate_on_sighup(tmp_path):
    require_root()
    with exporter_with_tls_and_basic_auth(tmp_path) as (port, cert_file, log_path, process):
        status, body = fetch(port, "/metrics", cert_file, basic("prometheus", PASSWORD))
        assert status == 200 and "batiknet_target_info" in body
        assert fetch(port, "/metrics", cert_file, {})[0] == 401
        assert fetch(port, "/-/reload", cert_file, basic("prometheus", PASSWORD))[0] == 405  # a GET
        with pytest.raises((urllib.error.URLError, ConnectionError)):  # plain HTTP is not served
            urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
        log_text = log_path.read_text()
        assert "tls=True" in log_text and "basic_auth=True" in log_text and "lifecycle=False" in log_text

        renewed_dir = tmp_path / "renewed"
        renewed_dir.mkdir()
        renewed_cert, renewed_key = self_signed(renewed_dir, "renewed")
        os.replace(renewed_cert, cert_file)
        os.replace(renewed_key, tmp_path / "exporter.key")
        os.kill(process.pid, signal.SIGHUP)
        deadline = time.monotonic() + 20
        while "configuration reloaded" not in log_path.read_text():
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        # Verified against the renewed certificate only: the old one would fail the handshake.
        assert fetch(port, "/metrics", cert_file, basic("prometheus", PASSWORD))[0] == 200


@pytest.mark.root
@pytest.mark.system
def test_prometheus_scrapes_with_the_credentials_of_docs_deploy(tmp_path):
    """The scrape job of docs/deploy.md, run by the real Prometheus: up with the credentials, down without."""
    require_root()
    prometheus = require_binary("prometheus")
    with exporter_with_tls_and_basic_auth(tmp_path) as (port, cert_file, _, _):
        password_file = tmp_path / "exporter-password"
        password_file.write_text(PASSWORD + "\n")
        target = {"targets": [f"127.0.0.1:{port}"]}
        tls = {"ca_file": str(cert_file)}
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {
                    "job_name": "batiknet-exporter",
                    "scheme": "https",
                    "tls_config": tls,
                    "basic_auth": {"username": "prometheus", "password_file": str(password_file)},
                    "static_configs": [target],
                },
                {
                    "job_name": "without-credentials",
                    "scheme": "https",
                    "tls_config": tls,
                    "static_configs": [target],
                },
            ],
        }
        config_file = tmp_path / "prometheus.yml"
        config_file.write_text(yaml.safe_dump(config))
        web_port = free_port()
        server = subprocess.Popen(
            [
                prometheus,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{web_port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            up: dict[str, str] = {}
            deadline = time.monotonic() + 60
            while len(up) < 2 and time.monotonic() < deadline:
                time.sleep(1)
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{web_port}/api/v1/query?query=up", timeout=5
                    ) as response:
                        result = json.load(response)["data"]["result"]
                except OSError:
                    continue
                up = {sample["metric"]["job"]: sample["value"][1] for sample in result}
            assert up == {"batiknet-exporter": "1", "without-credentials": "0"}
        finally:
            server.terminate()
            server.wait(timeout=20)
