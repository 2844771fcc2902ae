"""E-mail to the technicians assigned to a case (SOP step 2: the disposition reaches the staff)."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from .config import SMTPSettings
from .models import User

SMTP_TIMEOUT_SECONDS = 10


def assignment_message(
    sender: str, case: dict[str, Any], users: Sequence[User], public_url: str
) -> EmailMessage:
    """The message (Bahasa Indonesia first, English below) telling technicians a case is theirs."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(u.email for u in users if u.email)
    message["Subject"] = f"[Batik.Net] Disposisi kasus #{case['id']}: {case['title']}"
    link = f"{public_url.rstrip('/')}/cases/{case['id']}"
    message.set_content(
        f"Anda ditugaskan menangani kasus #{case['id']} ({case['target_name']}).\n"
        f"Diterima: {case['received_at']}\n"
        f"Target selesai: {case['target_deadline']}\n"
        f"Batas maksimum: {case['maximum_deadline']}\n"
        f"{link}\n\n"
        f"You have been assigned case #{case['id']} ({case['target_name']}).\n"
        f"Target: {case['target_deadline']}, maximum: {case['maximum_deadline']}.\n"
    )
    return message


def send_assignment(
    settings: SMTPSettings, case: dict[str, Any], users: Sequence[User], public_url: str
) -> list[str]:
    """Send the assignment e-mail; returns the addresses it went to (users without e-mail are skipped)."""
    recipients = [u.email for u in users if u.email]
    if not recipients:
        return []
    message = assignment_message(settings.sender, case, users, public_url)
    with smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS) as smtp:
        if settings.starttls:
            smtp.starttls()
        if settings.user:
            password = (
                Path(settings.password_file).read_text(encoding="utf-8").strip()
                if settings.password_file
                else ""
            )
            smtp.login(settings.user, password)
        smtp.send_message(message)
    return recipients
