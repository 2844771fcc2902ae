"""Fixtures shared by the whole suite. Importable without root: the lab is only built when a test asks."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from batiknet import yamlfile
from lab.network import Lab, exclusive_lock
from tests.support import require_binary, require_root

LAB_BINARIES = ("ip", "sysctl", "snmpd", "dnsmasq", "fping")
BROWSER_TESTS = Path(__file__).resolve().parent / "browser"
LAB_LOCK_TIMEOUT = 1800.0  # others may be running their own suites against the one shared lab


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The simulated Batik.Net (lab/inventory.yml), up for the whole session under the machine-wide lab
    lock, and always taken down at the end. A test that cuts or fails something restores it in a
    ``finally``."""
    require_root()
    for binary in LAB_BINARIES:
        require_binary(binary)
    with exclusive_lock(timeout=LAB_LOCK_TIMEOUT):
        the_lab = Lab()
        the_lab.down()  # leftovers of a crashed run: holding the lock, nobody else is using the lab
        the_lab.up()
        try:
            yield the_lab
        finally:
            the_lab.down()


@pytest.fixture(params=["libyaml", "python"])
def yaml_parser(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test twice: YAML files parsed by libyaml (as PyYAML's wheels allow), and by PyYAML's own
    parser in Python (as where PyYAML was built without libyaml)."""
    if request.param == "python":
        monkeypatch.setattr(yamlfile, "LIBYAML_LOADER", None)
    return request.param


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test that uses the lab carries the ``lab`` marker and every test of tests/browser the
    ``browser`` marker, so that ``make check`` (``-m 'not lab and ...'``) leaves them out and ``make test``
    runs the lab's tests in a process of their own beside the rest (see the Makefile)."""
    for item in items:
        if "lab" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.lab)
        if BROWSER_TESTS in item.path.parents:
            item.add_marker(pytest.mark.browser)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """What tests tell of their own times (``record_property("timings", ...)``), printed at the end with
    the slowest tests rather than lost among the dots."""
    reports = [*terminalreporter.stats.get("passed", []), *terminalreporter.stats.get("failed", [])]
    lines = [
        f"{report.nodeid.split('::')[-1]}: {value}"
        for report in reports
        if report.when == "call"
        for name, value in report.user_properties
        if name == "timings"
    ]
    if lines:
        terminalreporter.write_sep("=", "timings the tests report")
        for line in lines:
            terminalreporter.write_line(line)
