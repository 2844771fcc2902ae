"""batiknet-lab's command line without root: it says it needs root and exits non-zero."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from lab import cli
from tests.support import require_binary


def as_unprivileged(argv: list[str]) -> list[str]:
    """Run as nobody when the suite runs as root; a non-root run is unprivileged already.

    A new user namespace maps nobody (65534) onto root outside: the program sees itself as nobody and holds
    no privilege over the machine's network, yet can still read a checkout that only root may read (a
    clone in root's 0700 home), which a plain ``setpriv --reuid=65534`` could not even open.
    """
    if os.geteuid() != 0:
        return argv
    return [require_binary("unshare"), "--user", "--map-user=65534", "--map-group=65534", "--", *argv]


@pytest.mark.parametrize("command", [["up"], ["down"], ["status", "--json"], ["cut", "setda"]])
def test_cli_without_root_says_so_and_fails(command: list[str]) -> None:
    result = subprocess.run(
        as_unprivileged([sys.executable, "-m", "lab.cli", *command]),
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "batiknet-lab: needs root" in result.stderr
    assert result.stdout == ""


def test_main_checks_root_before_touching_anything(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setattr(cli, "Lab", lambda *args: pytest.fail("Lab built without root"))
    assert cli.main(["up"]) == 1
    assert "needs root" in capsys.readouterr().err


def test_unknown_target_is_refused_before_anything_happens(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path
) -> None:
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert cli.main(["--run-dir", str(tmp_path / "run"), "cut", "no-such-opd"]) == 1
    assert "'no-such-opd' is not a target of inventory.yml" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
