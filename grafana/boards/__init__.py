"""The Batik.Net dashboards, one module each, built from the shared :mod:`boards.builders`;
``grafana/generate.py`` writes them to JSON."""

from __future__ import annotations

from collections.abc import Callable

from grafana_foundation_sdk.builders import dashboard

from .core_devices import core_devices
from .noc_overview import noc_overview
from .opd_detail import opd_detail
from .service_level import service_level

DASHBOARDS: dict[str, Callable[[], dashboard.Dashboard]] = {
    "noc-overview.json": noc_overview,
    "opd-detail.json": opd_detail,
    "core-devices.json": core_devices,
    "service-level.json": service_level,
}
