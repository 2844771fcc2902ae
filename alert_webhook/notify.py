"""The two ways the tracker reaches people, as thin senders of the outbox's messages: e-mail over SMTP and
Telegram's Bot API. Each takes one :class:`~.core.outbox.Message` and delivers it or raises
:class:`~.core.outbox.DeliveryError` (``permanent`` when retrying cannot help); what happens next is the
outbox's rule (:func:`..core.outbox.deliver`), what the messages say is ``services.notices``.

E-mail is built as an :class:`email.message.EmailMessage` under the SMTP policy: every header value is first
made one line (a case title from an alert summary or a letter number may hold CR/LF, which would end the
header and start another), and the policy refuses whatever newline would still reach a header. Its
``Message-ID`` is the outbox row's, so a retry after a lost answer is the same message to the reader's
mail program. The password never travels in clear: the settings refuse SMTP authentication without
STARTTLS or implicit TLS unless ``BATIKNET_SMTP_ALLOW_PLAINTEXT_AUTH`` says otherwise, and the server's
certificate is verified (against ``BATIKNET_SMTP_CA_FILE`` when set).
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import formatdate, parseaddr
from pathlib import Path

import requests

from .core.outbox import Channel, DeliveryError, Message, Send, one_line
from .settings import Settings

__all__ = ["Mailer", "TelegramBot", "email_message", "senders_from_settings"]

TIMEOUT_SECONDS = 10
# SMTP's line ending, and folding only where RFC 5322 requires it: folded at 78, a subject began on the line
# after "Subject:", which some mail programs show with a leading space.
EMAIL_POLICY = SMTP.clone(max_line_length=998)
# Telegram refuses longer texts.
TELEGRAM_MAX_CHARS = 4096


def email_message(sender: str, message: Message) -> EmailMessage:
    """The e-mail of an outbox message; raises an error for an address no header can carry."""
    email = EmailMessage(policy=EMAIL_POLICY)
    email["From"] = one_line(sender)
    email["To"] = Address(
        display_name=one_line(message.recipient_name), addr_spec=one_line(message.recipient)
    )
    email["Subject"] = one_line(message.subject)
    email["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(one_line(sender))[1].rpartition("@")[2] or "localhost"
    email["Message-ID"] = f"<batiknet-outbox-{message.id}@{domain}>"
    email.set_content(message.body)
    return email


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    sender: str
    user: str | None
    password_file: Path | None
    starttls: bool
    implicit_tls: bool  # SMTPS: TLS from the first byte (port 465)
    ca_file: Path | None  # verifies the server's certificate; None: the system's trusted CAs

    @classmethod
    def from_settings(cls, settings: Settings) -> Mailer | None:
        if not settings.smtp_host:
            return None
        return cls(
            host=settings.smtp_host,
            port=settings.smtp_port,
            sender=settings.smtp_from,
            user=settings.smtp_user,
            password_file=settings.smtp_password_file,
            starttls=settings.smtp_starttls,
            implicit_tls=settings.smtp_tls,
            ca_file=settings.smtp_ca_file,
        )

    def send(self, message: Message) -> None:
        email = email_message(self.sender, message)
        try:
            with self._connect() as smtp:
                if self.user:
                    smtp.login(self.user, self._password())
                smtp.send_message(email)
        except smtplib.SMTPRecipientsRefused as error:
            [(code, reply)] = [answer for answer in error.recipients.values()]
            raise DeliveryError(_reply("recipient refused", code, reply), permanent=code >= 500) from None
        except smtplib.SMTPResponseException as error:
            reason = _reply("refused", error.smtp_code, error.smtp_error)
            raise DeliveryError(reason, permanent=error.smtp_code >= 500) from None
        except OSError as error:  # unreachable, timed out, TLS failed, disconnected
            raise DeliveryError(f"{self.host}:{self.port}: {type(error).__name__}: {error}") from None

    def _connect(self) -> smtplib.SMTP:
        context = ssl.create_default_context(cafile=str(self.ca_file) if self.ca_file else None)
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=TIMEOUT_SECONDS, context=context)
        smtp = smtplib.SMTP(self.host, self.port, timeout=TIMEOUT_SECONDS)
        try:
            if self.starttls:
                smtp.starttls(context=context)
        except BaseException:
            smtp.close()
            raise
        return smtp

    def _password(self) -> str:
        if self.password_file is None:
            return ""
        try:
            return self.password_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise DeliveryError(f"cannot read BATIKNET_SMTP_PASSWORD_FILE: {error.strerror}") from None


def _reply(what: str, code: int, reply: bytes | str) -> str:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return f"{what}: {code} {text}"


@dataclass(frozen=True)
class TelegramBot:
    """``sendMessage`` of the Bot API at ``api_url`` (Telegram's, or a local fake in the tests)."""

    api_url: str
    token_file: Path

    def send(self, message: Message) -> None:
        token = self._token()
        try:
            answer = requests.post(
                f"{self.api_url.rstrip('/')}/bot{token}/sendMessage",
                json={
                    "chat_id": message.recipient,
                    "text": message.body[:TELEGRAM_MAX_CHARS],
                    "link_preview_options": {"is_disabled": True},
                },
                timeout=TIMEOUT_SECONDS,
            )
        except requests.RequestException as error:
            # The token is part of the URL, which the error repeats: it must never reach a log or a page.
            raise DeliveryError(
                f"Telegram: {type(error).__name__}: {error}".replace(token, "<token>")
            ) from None
        try:
            result = answer.json()
        except ValueError:
            result = {}
        if answer.ok and result.get("ok") is True:
            return
        description = str(result.get("description") or answer.reason).replace(token, "<token>")
        # 400 (no such chat), 401 (wrong token) and 403 (the bot was removed) stay so until someone acts.
        permanent = answer.status_code in (400, 401, 403)
        raise DeliveryError(f"Telegram: {answer.status_code} {description}", permanent=permanent)

    def _token(self) -> str:
        try:
            return self.token_file.read_text(encoding="utf-8").strip()
        except OSError as error:
            raise DeliveryError(f"cannot read BATIKNET_TELEGRAM_BOT_TOKEN_FILE: {error.strerror}") from None


def senders_from_settings(settings: Settings) -> dict[Channel, Send]:
    """The configured channels and their senders (none: nobody is told anything)."""
    senders: dict[Channel, Send] = {}
    mailer = Mailer.from_settings(settings)
    if mailer is not None:
        senders[Channel.EMAIL] = mailer.send
    if settings.telegram_chat_ids:
        assert settings.telegram_bot_token_file is not None  # the settings require it with chat ids
        senders[Channel.TELEGRAM] = TelegramBot(
            settings.telegram_api_url, settings.telegram_bot_token_file
        ).send
    return senders
