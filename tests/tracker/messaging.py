"""Where the tracker's messages to people go in the tests: a real SMTP server (aiosmtpd) and the lab's fake
Telegram Bot API, both on loopback, each able to refuse on demand; and the outbox's dispatcher round as
the applier's thread runs it.

``MailSink`` keeps every message it accepts, parsed; ``refuse(n)`` makes it answer the next ``n``
deliveries with a temporary refusal (451), as a mail server that is full or greylisting does. With
``tls`` it speaks STARTTLS or implicit TLS (SMTPS) with a certificate of its own and asks for a password.
``FakeTelegram`` answers ``sendMessage`` like the Bot API (lab/stackrun.py's sink) and keeps each request;
``refuse(status, ...)`` answers the next requests with those statuses first.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import json
import socket
import ssl
import threading
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from alert_webhook.services import outbox
from lab.stackrun import TelegramSink
from tests.tracker.test_alerts_api import HEADERS

LOOPBACK = "127.0.0.1"
SMTP_USER, SMTP_PASSWORD = "noc@kominfo.example", "sandi-smtp-rahasia"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "mail.kominfo.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(LOOPBACK))]), False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class MailSink:
    """An SMTP server on a loopback port; ``tls`` is None, "starttls" or "implicit"."""

    def __init__(self, directory: Path, tls: str | None = None) -> None:
        self.port = free_port()
        self.messages: list[tuple[list[str], EmailMessage]] = []
        self.logins: list[tuple[str, str, bool]] = []  # user, password, over TLS
        self._refusals = 0
        self._lock = threading.Lock()
        self.running = False
        kwargs: dict[str, Any] = {}
        self.ca_file: Path | None = None
        if tls is not None:
            self.ca_file, key = certificate(directory)
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(self.ca_file, key)
            kwargs["authenticator"] = self._authenticate
            if tls == "starttls":
                kwargs.update(tls_context=context, require_starttls=True, auth_required=True)
            else:  # TLS from the first byte, which aiosmtpd's AUTH does not count as TLS (it means STARTTLS)
                kwargs.update(ssl_context=context, auth_require_tls=False)
        self._controller = Controller(self, hostname=LOOPBACK, port=self.port, **kwargs)

    def _authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        user, password = data.login.decode(), data.password.decode()
        self.logins.append((user, password, server.transport.get_extra_info("ssl_object") is not None))
        return AuthResult(success=(user, password) == (SMTP_USER, SMTP_PASSWORD), auth_data=data)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self._lock:
            if self._refusals:
                self._refusals -= 1
                return "451 4.3.0 Mailbox temporarily unavailable, try again later"
            message = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
            self.messages.append((list(envelope.rcpt_tos), message))  # type: ignore[arg-type]
        return "250 OK"

    def refuse(self, deliveries: int) -> None:
        with self._lock:
            self._refusals = deliveries

    def to(self, address: str) -> list[EmailMessage]:
        with self._lock:
            return [message for recipients, message in self.messages if address in recipients]

    def start(self) -> MailSink:
        self._controller.start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._controller.stop()


class FakeTelegram:
    """The Bot API's ``sendMessage`` on a loopback port (the lab's sink): ``messages`` holds the JSON body
    of each request it accepted, ``paths`` the path of every request."""

    def __init__(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.paths: list[str] = []
        self._refusals: list[int] = []
        paths = self.paths

        class Handler(TelegramSink):
            def do_POST(self) -> None:
                paths.append(self.path)
                super().do_POST()

        Handler.directory, Handler.refusals = directory, self._refusals
        self.directory = directory
        self._server = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.running = False
        self.url = f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def refuse(self, *statuses: int) -> None:
        """Answer the next requests with these HTTP statuses."""
        self._refusals.extend(statuses)

    @property
    def messages(self) -> list[dict[str, Any]]:
        return [json.loads(path.read_bytes()) for path in sorted(self.directory.glob("*.json"))]

    def start(self) -> FakeTelegram:
        threading.Thread(target=self._server.serve_forever, name="fake-telegram", daemon=True).start()
        self.running = True
        return self

    def stop(self) -> None:
        if self.running:
            self.running = False
            self._server.shutdown()
            self._server.server_close()


def text_of(message: EmailMessage) -> str:
    """The body as a reader sees it (lines end in CRLF on the wire)."""
    return message.get_content().replace("\r\n", "\n")


def timeline(client: Any, case_id: int) -> list[dict[str, Any]]:
    """A case's timeline as the API answers it."""
    return client.get(f"/api/v1/cases/{case_id}/timeline", headers=HEADERS).get_json()["events"]


def dispatch(tracker: Any) -> list[outbox.Dispatched]:
    """Every message due now, sent as the applier's dispatcher thread would."""
    done: list[outbox.Dispatched] = []
    while batch := outbox.dispatch_due(tracker):
        done += batch
    return done
