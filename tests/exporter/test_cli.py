"""The command itself: flags, start-up errors, SIGHUP reload, structured log lines."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from exporter.cli import LogfmtFormatter, parse_args
from tests.support import require_root

from .test_http import write_inventory


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_flags_and_defaults():
    args = parse_args(["--config.file", "inv.yml"])
    assert args.listen_address == "127.0.0.1:9817"  # loopback unless told otherwise
    assert args.log_level == "info"
    assert (args.enable_lifecycle, args.web_config_file, args.max_target_drop) == (False, None, 0.5)
    args = parse_args(
        [
            "--config.file",
            "inv.yml",
            "--web.listen-address",
            "[::]:1",
            "--log.level",
            "debug",
            "--web.enable-lifecycle",
            "--web.config.file",
            "web.yml",
            "--config.max-target-drop",
            "0.8",
        ]
    )
    assert (args.listen_address, args.log_level) == ("[::]:1", "debug")
    assert (args.enable_lifecycle, args.web_config_file, args.max_target_drop) == (True, Path("web.yml"), 0.8)


def exporter_command(config_file: Path, port: int, *flags: str) -> list[str]:
    """The exporter as a process on a loopback port (a free one from :func:`free_port`)."""
    return [
        sys.executable,
        "-m",
        "exporter.cli",
        "--config.file",
        str(config_file),
        "--web.listen-address",
        f"127.0.0.1:{port}",
        *flags,
    ]


def start(config_file: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """Start the exporter and wait for it to exit (a start that fails)."""
    return subprocess.run(
        exporter_command(config_file, free_port(), *flags), capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"version: 1\nnetwork: {name: \xff}\n", "not UTF-8"),
        (b"version: 1\nnetwork: " + b"[" * 3000 + b"]" * 3000, "nested deeper than 32 levels"),
        (b"version: 1\ndefaults: {icmp: {count: " + b"9" * 5000 + b"}}", "integer out of range"),
        (b'version: 1\nnetwork: {name: "\\ud800"}', "lone surrogate"),
        (b"version: 1\n", "lists no targets"),
    ],
    ids=["not UTF-8", "deep", "huge integer", "lone surrogate", "no targets"],
)
def test_a_file_that_cannot_be_loaded_stops_the_start_with_one_line(tmp_path, content, reason):
    bad = tmp_path / "inventory.yml"
    bad.write_bytes(content)
    done = start(bad)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert "cannot start" in lines[0] and "kind=InventoryInvalid" in lines[0] and reason in lines[0]


def test_a_target_drop_limit_out_of_range_is_a_bad_flag(tmp_path):
    done = start(tmp_path / "inventory.yml", "--config.max-target-drop", "1.5")
    assert done.returncode == 2
    assert "bad flag" in done.stderr and "from 0 to 1" in done.stderr


def test_log_lines_are_logfmt_with_the_call_extras():
    record = logging.LogRecord("batiknet.exporter", logging.INFO, __file__, 1, "reload failed", None, None)
    record.error = 'inventory.yml: opds[0] "x"'
    record.targets = 3
    line = LogfmtFormatter().format(record)
    assert "\n" not in line
    assert 'level=info msg="reload failed"' in line
    assert 'error="inventory.yml: opds[0] \\"x\\""' in line
    assert "targets=3" in line


def test_a_bad_inventory_stops_the_start_with_the_reason(tmp_path):
    bad = tmp_path / "inventory.yml"
    bad.write_text("opds: [{id: setda}]\n")
    done = start(bad)
    assert done.returncode == 1
    assert "cannot start" in done.stderr and "kind=InventoryInvalid" in done.stderr
    assert "opds[0] 'setda'" in done.stderr


@pytest.mark.root
def test_sighup_reload_keeps_the_old_configuration_on_a_bad_file(tmp_path):
    require_root()
    config_file = tmp_path / "inventory.yml"
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))
    write_inventory(config_file, silent.getsockname()[1])
    port = free_port()
    log_path = tmp_path / "exporter.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(exporter_command(config_file, port), stderr=log)
    try:

        def metrics() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                return response.read().decode()

        def wait_for(needle: str) -> str:
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline:
                try:
                    text = metrics()
                    if needle in text:
                        return text
                except OSError:
                    pass
                time.sleep(0.2)
            raise AssertionError(f"{needle!r} never appeared; log:\n{log_path.read_text()}")

        wait_for('batiknet_target_up{target="setda"} 1.0')
        config_file.write_text("version: 7\n")
        os.kill(process.pid, signal.SIGHUP)
        text = wait_for("batiknet_exporter_config_last_reload_successful 0.0")
        assert 'batiknet_target_up{target="setda"}' in text
        assert process.poll() is None
        assert "keeping the running configuration" in log_path.read_text()
    finally:
        process.terminate()
        process.wait(timeout=10)
        silent.close()
