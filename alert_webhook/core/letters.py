"""The scanned letter of an OPD: which files are accepted, recognised by their content alone.

A file's name and the type a browser claims for it are only claims; its first bytes say what it is. The
API and the letter form both ask :func:`scan_type`, and the services refuse anything it does not know.
"""

from __future__ import annotations

__all__ = ["SCAN_TYPES", "scan_type"]

# Leading bytes ("magic numbers") → media type.
SCAN_TYPES = {b"%PDF-": "application/pdf", b"\x89PNG\r\n\x1a\n": "image/png", b"\xff\xd8\xff": "image/jpeg"}


def scan_type(data: bytes) -> str | None:
    """The media type of a scanned letter (PDF, PNG or JPEG), or None for anything else."""
    return next((mime for magic, mime in SCAN_TYPES.items() if data.startswith(magic)), None)
