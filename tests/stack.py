"""The real stack for tests: exporter, case tracker, Prometheus and Alertmanager on free loopback ports.

Prometheus and Alertmanager run the distribution's binaries with configurations rendered from the
committed ``prometheus/prometheus.yml``, ``prometheus/rules/*.yml`` and ``alertmanager/alertmanager.yml``
(targets and webhook URLs rewritten to loopback, rule files kept; see :mod:`lab.stackconfig`). Each service
gets a temporary data directory and its log under ``<run_dir>/logs``; everything is stopped by PID.

Two ways to use it:

- the ``stack`` fixture (module scope, needs the ``lab`` fixture, so the exporter only ever probes lab
  namespaces behind the lab's blackhole route). Register it by importing it into your directory's
  ``conftest.py`` (as tests/integration/conftest.py does)::

      from tests.stack import stack  # noqa: F401  (a pytest fixture, registered by being imported here)

  and use it in a test::

      def test_something(lab, stack):
          stack.wait_until(lambda: stack.query("batiknet_target_up == 1"), timeout=60, what="an OPD up")

- :func:`start_stack` in your own fixture, e.g. with the committed timing (``timing=None``) or with
  ``Timing(duration_scale=0.1)`` to shorten ``for:``. Like the fixture, only while the lab is up (request
  the ``lab`` fixture): the exporter probes the inventory's addresses, which must lead into the lab.

The :class:`~lab.stackrun.Stack` it returns has ``url(service)``, ``query(promql)``,
``prometheus_alerts()``, ``alertmanager_alerts(**filters)``, ``cases()``, ``mails()``,
``telegram_messages()``, ``cases_command(*args)`` and ``wait_until(condition, timeout=, what=)``.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.stackrun import LAB_INVENTORY, Ports, Stack, StackError, Timing
from tests.support import require_binary, require_root

__all__ = ["FAST", "Ports", "Stack", "StackError", "Timing", "stack", "start_stack"]

# Scrapes and rule evaluations every 2 s, Alertmanager groups after 1 s; the rules' `for:` as committed.
FAST = Timing()


def start_stack(run_dir: Path, *, timing: Timing | None = FAST, inventory: Path = LAB_INVENTORY) -> Stack:
    """Start a stack in ``run_dir`` on free ports with a random API token; the caller stops it.

    Checks the prerequisites first (root for ICMP, the Prometheus and Alertmanager binaries): they skip,
    or fail under BATIKNET_REQUIRE_LAB=1.
    """
    require_root()
    for binary in ("prometheus", "prometheus-alertmanager"):
        require_binary(binary)
    stack = Stack(run_dir, api_token=secrets.token_urlsafe(24), inventory=inventory, timing=timing)
    return stack.start()


@pytest.fixture(scope="module")
def stack(lab: object, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A running stack with :data:`FAST` timing over the lab, shared by the tests of one module."""
    running = start_stack(tmp_path_factory.mktemp("stack"))
    try:
        yield running
    finally:
        running.stop()
