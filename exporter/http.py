"""The HTTP side: ``/metrics``, ``/probe``, ``/-/reload``, ``/-/healthy`` and a small index page.

With ``basic_auth_users`` in the web configuration every path needs those credentials, like an exporter
built on exporter-toolkit; ``/-/reload`` also needs ``--web.enable-lifecycle``, like Prometheus'.
"""

from __future__ import annotations

import html
import ipaddress
import time

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from batiknet.inventory import DNSServer, ProbeSettings, Target
from exporter.collector import BatiknetCollector
from exporter.config import TooManyTargetsDropped
from exporter.probes.snmp import SNMPResult
from exporter.scheduler import dns_lookups, echo_spacing, icmp_round, snmp_walk
from exporter.service import ExporterService
from exporter.store import Store
from exporter.webconfig import BasicAuth

__all__ = ["make_app"]

SCRAPE_TIMEOUT_HEADER = "X-Prometheus-Scrape-Timeout-Seconds"
SCRAPE_TIMEOUT_OFFSET = 0.5  # leave Prometheus time to receive the answer, like blackbox_exporter
MODULES = ("icmp", "dns", "snmp")
UNLISTED_ICMP = ProbeSettings(interval=15.0, timeout=1.0, count=3)
SERVICE = web.AppKey("service", ExporterService)
AUTH = web.AppKey("basic_auth", BasicAuth)
CHALLENGE = {"WWW-Authenticate": 'Basic realm="batiknet-exporter", charset="UTF-8"'}
BOOLEANS = {"true": True, "1": True, "false": False, "0": False}


def make_app(service: ExporterService) -> web.Application:
    app = web.Application(middlewares=[require_credentials])
    app[SERVICE] = service
    app[AUTH] = BasicAuth()
    app.add_routes(
        [
            web.get("/", index),
            web.get("/metrics", metrics),
            web.get("/probe", probe),
            web.post("/-/reload", reload),
            web.put("/-/reload", reload),
            web.get("/-/healthy", healthy),
        ]
    )
    return app


@web.middleware
async def require_credentials(request: web.Request, handler) -> web.StreamResponse:
    users = request.app[SERVICE].config.web.users  # the latest (re)load's
    if users and not await request.app[AUTH].allows(request.headers.get("Authorization"), users):
        raise web.HTTPUnauthorized(text="Unauthorized\n", headers=CHALLENGE)
    return await handler(request)


async def index(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    inventory = service.config.inventory
    rows = "".join(
        f"<tr><td>{html.escape(t.id)}</td><td>{html.escape(t.name)}</td><td>{html.escape(t.kind)}</td>"
        f"<td>{html.escape(t.address)}</td></tr>"
        for t in inventory.targets()
    )
    body = f"""<!doctype html>
<html lang="id"><head><meta charset="utf-8"><title>Batik.Net exporter</title></head>
<body><h1>Batik.Net exporter</h1>
<p>Pemantauan ICMP, DNS dan SNMP untuk {html.escape(inventory.network_name)}.
<span lang="en">(ICMP, DNS and SNMP probing.)</span></p>
<ul><li><a href="metrics">/metrics</a></li><li>/probe?target=ID&amp;module=icmp|dns|snmp</li>
<li>POST /-/reload</li><li><a href="-/healthy">/-/healthy</a></li></ul>
<table><tr><th>id</th><th>nama / name</th><th>jenis / kind</th><th>alamat / address</th></tr>{rows}</table>
</body></html>"""
    return web.Response(text=body, content_type="text/html")


async def metrics(request: web.Request) -> web.Response:
    body = await request.app[SERVICE].metrics.body()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def healthy(request: web.Request) -> web.Response:
    return web.Response(text="Healthy\n")


async def reload(request: web.Request) -> web.Response:
    """Like Prometheus' own: only with --web.enable-lifecycle; 500 with the reason when the file fails,
    409 when it would remove most targets and ``allow_target_drop=true`` was not given."""
    service = request.app[SERVICE]
    if not service.settings.enable_lifecycle:
        raise web.HTTPForbidden(text="Lifecycle API is not enabled (start with --web.enable-lifecycle).\n")
    allow = request.query.get("allow_target_drop", "false").lower()
    if allow not in BOOLEANS:
        raise web.HTTPBadRequest(text=f"allow_target_drop must be true or false, not {allow[:20]!r}\n")
    outcome = await service.reload(allow_target_drop=BOOLEANS[allow])
    if outcome.error is None:
        status = 200
    elif isinstance(outcome.error, TooManyTargetsDropped):
        status = 409
    else:
        status = 500
    return web.Response(text=outcome.message + "\n", status=status)


class _ProbeCollector(Collector):
    """One synchronous probe: success, duration, and the module's usual families for that target."""

    def __init__(self, store: Store, module: str, success: bool, duration: float) -> None:
        self.store, self.module, self.success, self.duration = store, module, success, duration

    def collect(self):
        yield GaugeMetricFamily(
            "batiknet_probe_success", "1 when the probe succeeded.", value=int(self.success)
        )
        yield GaugeMetricFamily(
            "batiknet_probe_duration_seconds", "How long the probe took.", value=self.duration
        )
        yield from getattr(BatiknetCollector(self.store), self.module)()


def _budget(request: web.Request) -> float | None:
    header = request.headers.get(SCRAPE_TIMEOUT_HEADER)
    if header is None:
        return None
    try:
        return max(0.1, float(header) - SCRAPE_TIMEOUT_OFFSET)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{SCRAPE_TIMEOUT_HEADER} is not a number: {header!r}\n") from None


def _target(service: ExporterService, name: str, module: str) -> Target:
    inventory = service.config.inventory
    try:
        return inventory.target(name)
    except KeyError:
        pass
    if service.settings.probe_unlisted and module == "icmp":
        try:
            address = str(ipaddress.ip_address(name))
        except ValueError:
            pass
        else:
            return Target(
                id=address,
                name=address,
                address=address,
                upstream=None,
                kind="unlisted",
                probes={"icmp": UNLISTED_ICMP},
            )
    hint = "" if service.settings.probe_unlisted else " (probing addresses outside the inventory is off)"
    raise web.HTTPBadRequest(text=f"target {name!r} is not in the inventory{hint}\n")


async def probe(request: web.Request) -> web.Response:
    service = request.app[SERVICE]
    name = request.query.get("target", "")
    module = request.query.get("module", "icmp")
    if module not in MODULES:
        raise web.HTTPBadRequest(text=f"module must be one of {', '.join(MODULES)}\n")
    target = _target(service, name, module)
    settings = target.probes.get(module)
    if settings is None:
        raise web.HTTPBadRequest(text=f"target {name!r} has no {module} probe in the inventory\n")
    budget = _budget(request)
    timeout = settings.timeout if budget is None else min(settings.timeout, budget)
    store = Store(service.config.inventory)
    probes = service.probes
    started = time.monotonic()
    if module == "icmp":
        spacing = echo_spacing(settings)
        if budget is not None and settings.count > 1:
            spacing = min(spacing, max(0.0, budget - timeout) / (settings.count - 1))
        result = await icmp_round(probes, [target], settings, timeout=timeout, spacing=spacing)
        store.record_icmp(result.results)
        success = result.results[0].up
    elif module == "dns":
        assert isinstance(target, DNSServer)
        results = await dns_lookups(probes, target, timeout)
        store.record_dns(results)
        success = all(r.up for r in results)
    else:
        deadline = budget if budget is not None else settings.interval * 0.9
        walked: SNMPResult = await snmp_walk(probes, service.config, target, settings, deadline, None)
        store.record_snmp([walked])
        success = walked.up
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_ProbeCollector(store, module, success, time.monotonic() - started))
    return web.Response(body=generate_latest(registry), headers={"Content-Type": CONTENT_TYPE_LATEST})
