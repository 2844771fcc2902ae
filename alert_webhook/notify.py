"""E-mail to the technicians assigned to a case (SOP step 2: the disposition reaches the staff).

The :class:`Mailer` is the tracker's notifier (``Tracker.notifier``); without ``BATIKNET_SMTP_HOST``
there is none and nobody is mailed.
"""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING

from .settings import Settings
from .store.models import User

if TYPE_CHECKING:
    from .services.views import CaseSummary

SMTP_TIMEOUT_SECONDS = 10


@dataclass(frozen=True)
class Mailer:
    host: str
    port: int
    sender: str
    user: str | None
    password_file: Path | None
    starttls: bool
    public_url: str  # the pages' address, for the link to the case

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
            public_url=settings.public_url,
        )

    def send_assignment(self, case: CaseSummary, users: Sequence[User]) -> list[str]:
        """Send the assignment e-mail; returns the addresses it went to (users without e-mail are skipped).

        Raises OSError (smtplib's errors are OSErrors too) when the mail server cannot take it.
        """
        recipients = [u.email for u in users if u.email]
        if not recipients:
            return []
        message = assignment_message(self.sender, case, users, self.public_url)
        with smtplib.SMTP(self.host, self.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
            if self.starttls:
                smtp.starttls()
            if self.user:
                password = (
                    self.password_file.read_text(encoding="utf-8").strip() if self.password_file else ""
                )
                smtp.login(self.user, password)
            smtp.send_message(message)
        return recipients


def assignment_message(
    sender: str, case: CaseSummary, users: Sequence[User], public_url: str
) -> EmailMessage:
    """The message (Bahasa Indonesia first, English below) telling technicians a case is theirs."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(u.email for u in users if u.email)
    message["Subject"] = f"[Batik.Net] Disposisi kasus #{case.id}: {case.title}"
    link = f"{public_url.rstrip('/')}/cases/{case.id}"
    received, target, maximum = (
        case.received_at.isoformat(),
        case.target_deadline.isoformat(),
        case.maximum_deadline.isoformat(),
    )
    message.set_content(
        f"Anda ditugaskan menangani kasus #{case.id} ({case.target_name}).\n"
        f"Diterima: {received}\n"
        f"Target selesai: {target}\n"
        f"Batas maksimum: {maximum}\n"
        f"{link}\n\n"
        f"You have been assigned case #{case.id} ({case.target_name}).\n"
        f"Target: {target}, maximum: {maximum}.\n"
    )
    return message
