"""Helpers shared by the test suite."""

from __future__ import annotations

import contextlib
import os
import shutil
import struct
import zlib
from pathlib import Path

import pytest

REQUIRE_LAB = os.environ.get("BATIKNET_REQUIRE_LAB") == "1"


def require(condition: bool, reason: str) -> None:
    """Skip when a prerequisite is missing; under BATIKNET_REQUIRE_LAB=1 (CI), fail instead.

    A skip must never hide a missing feature: CI sets the variable so that an integration test which
    cannot get root, a binary or a namespace turns red.
    """
    if condition:
        return
    if REQUIRE_LAB:
        pytest.fail(f"prerequisite missing under BATIKNET_REQUIRE_LAB=1: {reason}")
    pytest.skip(reason)


def require_root() -> None:
    require(os.geteuid() == 0, "needs root (network namespaces, raw sockets)")


def require_binary(name: str) -> str:
    path = shutil.which(name) or (f"/usr/sbin/{name}" if os.path.exists(f"/usr/sbin/{name}") else None)
    require(path is not None, f"binary {name!r} is not installed (make install)")
    return path  # type: ignore[return-value]


def applier_pids(server_pid: int) -> list[int]:
    """The tracker's applier processes under a ``batiknet-cases serve`` master: its children running at
    the applier's nice value (the HTTP workers run at the master's)."""
    from alert_webhook.applier import NICENESS

    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):  # gone meanwhile
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == server_pid and int(fields[16]) == NICENESS:
                    found.append(int(entry.name))
    return found


def png_image(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid PNG of one colour, made in the test so that no binary file sits in the repository."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + bytes(rgb) * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunks = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + chunks
