"""The real stack for tests: exporter, case tracker, Prometheus and Alertmanager on free loopback ports.

Prometheus and Alertmanager run the distribution's binaries with configurations rendered from the
committed ``prometheus/prometheus.yml``, ``prometheus/rules/*.yml`` and ``alertmanager/alertmanager.yml``
(targets and webhook URLs rewritten to loopback, rule files kept; see :mod:`lab.stackconfig`). Each service
gets a temporary data directory and its log under ``<run_dir>/logs``; everything is stopped by PID.

Call :func:`start_stack` in your own fixture, only while the lab is up (request the ``lab`` fixture): the
exporter probes the inventory's addresses, which must lead into the lab's namespaces behind its blackhole
route. ``Timing()`` scrapes and evaluates every 2 s and lets Alertmanager group after 1 s;
``Timing(duration_scale=0.05)`` shortens the rules' ``for:`` too (tests/rules/test_expressions.py);
``timing=None`` keeps the committed intervals. The journey with the committed ``for:`` runs through the
demo itself (tests/integration/test_demo.py).

The :class:`~lab.stackrun.Stack` it returns has ``url(service)``, ``query(promql)``,
``prometheus_alerts()``, ``alertmanager_alerts(**filters)``, ``cases()``, ``mails()``,
``telegram_messages()``, ``cases_command(*args)`` and ``wait_until(condition, timeout=, what=)``.
"""

from __future__ import annotations

import secrets
from pathlib import Path

from lab.stackrun import LAB_INVENTORY, Stack, Timing
from tests.support import require_binary, require_root

__all__ = ["Stack", "Timing", "start_stack"]


def start_stack(run_dir: Path, *, timing: Timing | None, inventory: Path = LAB_INVENTORY) -> Stack:
    """Start a stack in ``run_dir`` on free ports with a random API token; the caller stops it.

    Checks the prerequisites first (root for ICMP, the Prometheus and Alertmanager binaries): they skip,
    or fail under BATIKNET_REQUIRE_LAB=1.
    """
    require_root()
    for binary in ("prometheus", "prometheus-alertmanager"):
        require_binary(binary)
    stack = Stack(run_dir, api_token=secrets.token_urlsafe(24), inventory=inventory, timing=timing)
    return stack.start()
