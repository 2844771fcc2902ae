"""Helpers shared by the test suite."""

from __future__ import annotations

import os
import shutil

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
