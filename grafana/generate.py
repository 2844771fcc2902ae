"""The Batik.Net Grafana dashboards, kept as code.

Run ``.venv/bin/python grafana/generate.py`` (``make dashboards``) after a change and commit the JSON it
writes to ``grafana/dashboards/``; a test regenerates them and fails on any difference (drift), and
another runs every expression of every panel against a real Prometheus scraping the lab.

The dashboards are built in ``grafana/boards/``: one module per dashboard (``noc_overview.py``,
``opd_detail.py``, ``core_devices.py``, ``service_level.py``) and the layout, panel builders and PromQL
they share (``builders.py``).

Conventions every dashboard follows (checked by tests/rules/test_dashboards.py):
- a stable ``uid`` per dashboard and stable panel ids (assigned in order of appearance);
- a ``datasource`` variable whose default is the provisioned datasource (uid ``batiknet-prometheus``);
  every panel queries ``${datasource}``;
- every range selector is ``[$__rate_interval]`` (rates and increases in time series); figures for the
  whole chosen period are differences over ``offset $__range`` (see ``in_period`` in
  ``boards/service_level.py``);
- titles and labels in Bahasa Indonesia: the NOC wall screen and the technicians read them.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path

from boards import DASHBOARDS  # grafana/boards/, beside this script
from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

DASHBOARDS_DIR = Path(__file__).resolve().parent / "dashboards"


def render(build: Callable[[], dashboard.Dashboard]) -> str:
    """The dashboard as the JSON text that is committed (stable key order, trailing newline)."""
    return JSONEncoder(sort_keys=True, indent=2, ensure_ascii=False).encode(build().build()) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=DASHBOARDS_DIR)
    args = parser.parse_args(argv)
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        (args.output_dir / name).write_text(render(build), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
