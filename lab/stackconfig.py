"""Prometheus and Alertmanager configuration for a stack on one machine, rendered from the committed files.

``prometheus/prometheus.yml``, ``prometheus/rules/`` and ``alertmanager/alertmanager.yml`` are written for
production. The demo and the integration tests run those same files on loopback; this module rewrites only
what must differ there and keeps everything else (rules, relabelling, routes, grouping, inhibition):

- addresses of the stack's own services. A committed target or URL is recognised by its port (the stack's
  default ports, :data:`DEFAULT_PORTS`) and pointed at the loopback port actually in use. Anything that is
  not one of the stack's services is refused, so a rendered configuration can never reach the network.
- secret files (``*_file`` keys) are pointed at files of the same name in a local secrets directory.
- e-mail goes to the local SMTP sink, Telegram to a local HTTP sink.
- timing, when a :class:`Timing` is given: scrape and evaluation intervals (rule groups lose their own
  ``interval``), Alertmanager's group timers and, only if asked (``duration_scale``), the rules'
  ``for``/``keep_firing_for`` scaled down by a factor. Tests
  that check the committed ``for:`` boundaries use promtool instead; see docs/architecture.md.

Everything here is a pure function from documents (parsed YAML) to documents.
"""

from __future__ import annotations

import copy
import ipaddress
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from batiknet.inventory import parse_duration

__all__ = [
    "DEFAULT_PORTS",
    "Endpoints",
    "StackConfigError",
    "Timing",
    "non_loopback_addresses",
    "render_alertmanager_config",
    "render_prometheus_config",
    "render_rules",
    "secret_file_names",
]

# The stack's services and the ports the committed configuration (and production) uses for them.
DEFAULT_PORTS: Mapping[str, int] = {
    "exporter": 9817,
    "cases": 8088,
    "prometheus": 9090,
    "alertmanager": 9093,
}
_SERVICE_BY_PORT = {port: service for service, port in DEFAULT_PORTS.items()}
LOOPBACK_NAMES = ("localhost",)


class StackConfigError(ValueError):
    """The committed configuration refers to something the local stack cannot provide."""


@dataclass(frozen=True)
class Endpoints:
    """Where each service of the local stack listens, as ``host:port`` on loopback."""

    exporter: str
    cases: str
    prometheus: str
    alertmanager: str
    smtp: str
    telegram: str

    def for_service(self, service: str) -> str:
        return getattr(self, service)


@dataclass(frozen=True)
class Timing:
    """Short timers so that a test sees an outage become a notification within seconds.

    ``duration_scale`` multiplies the rules' ``for`` and ``keep_firing_for`` (never below
    ``min_rule_duration``); ``None`` keeps the committed durations.
    """

    scrape_interval: str = "2s"
    evaluation_interval: str = "2s"
    group_wait: str = "1s"
    group_interval: str = "2s"
    duration_scale: float | None = None
    min_rule_duration: str = "6s"


def render_prometheus_config(
    committed: Mapping[str, Any],
    *,
    endpoints: Endpoints,
    rule_files: list[str],
    secrets_dir: str,
    timing: Timing | None = None,
) -> dict[str, Any]:
    """The committed ``prometheus.yml`` with loopback targets, the given rule files and local secrets."""
    config = copy.deepcopy(dict(committed))
    if timing is not None:
        config.setdefault("global", {})
        config["global"]["scrape_interval"] = timing.scrape_interval
        config["global"]["evaluation_interval"] = timing.evaluation_interval
        for job in config.get("scrape_configs", []):
            job.pop("scrape_interval", None)
            # A scrape may not take longer than its interval.
            job.pop("scrape_timeout", None)
    config["rule_files"] = list(rule_files)
    for job in config.get("scrape_configs", []):
        where = f"prometheus.yml: scrape_configs {job.get('job_name')!r}"
        _rewrite_static_targets(job, endpoints, where)
    for index, alertmanager in enumerate(config.get("alerting", {}).get("alertmanagers", [])):
        _rewrite_static_targets(alertmanager, endpoints, f"prometheus.yml: alerting.alertmanagers[{index}]")
    _rewrite_secret_files(config, secrets_dir)
    return config


def render_rules(committed: Mapping[str, Any], timing: Timing | None = None) -> dict[str, Any]:
    """A rule file; with a :class:`Timing`, every group evaluates at the global evaluation interval.

    If ``timing.duration_scale`` is set, ``for``/``keep_firing_for`` are also scaled by it.
    """
    rules = copy.deepcopy(dict(committed))
    if timing is None:
        return rules
    floor = parse_duration(timing.min_rule_duration)
    for group in rules.get("groups", []):
        group.pop("interval", None)
        if timing.duration_scale is None:
            continue
        for rule in group.get("rules", []):
            for key in ("for", "keep_firing_for"):
                if key in rule:
                    scaled = max(floor, parse_duration(rule[key]) * timing.duration_scale)
                    rule[key] = _format_duration(scaled)
    return rules


def render_alertmanager_config(
    committed: Mapping[str, Any],
    *,
    endpoints: Endpoints,
    secrets_dir: str,
    timing: Timing | None = None,
) -> dict[str, Any]:
    """The committed ``alertmanager.yml`` delivering only to the local stack and its sinks."""
    config = copy.deepcopy(dict(committed))
    global_section = config.setdefault("global", {})
    if "smtp_smarthost" in global_section:
        global_section["smtp_smarthost"] = endpoints.smtp
    global_section["smtp_require_tls"] = False
    if "telegram_api_url" in global_section:
        global_section["telegram_api_url"] = f"http://{endpoints.telegram}"
    for receiver in config.get("receivers", []):
        where = f"alertmanager.yml: receiver {receiver.get('name')!r}"
        for webhook in receiver.get("webhook_configs", []):
            webhook["url"] = _rewrite_url(webhook["url"], endpoints, where)
        for email in receiver.get("email_configs", []):
            if "smarthost" in email:
                email["smarthost"] = endpoints.smtp
            email["require_tls"] = False
        for telegram in receiver.get("telegram_configs", []):
            telegram["api_url"] = f"http://{endpoints.telegram}"
    if timing is not None:
        # The root route always gets the short timers; a child route only where it sets its own.
        root = config.setdefault("route", {})
        for route in _routes(root):
            for key, value in (("group_wait", timing.group_wait), ("group_interval", timing.group_interval)):
                if route is root or key in route:
                    route[key] = value
    _rewrite_secret_files(config, secrets_dir)
    return config


def secret_file_names(document: Any) -> set[str]:
    """Base names of every secret file (``*_file`` value) a configuration refers to."""
    return {PurePosixPath(value).name for _, _, key, value in _walk(document) if _is_secret_file_key(key)}


def non_loopback_addresses(document: Any) -> list[str]:
    """Every URL host, target or smarthost in a rendered configuration that is not on loopback.

    The demo and the tests refuse to start a stack whose configuration has any: the network rule says
    they talk to this machine only.
    """
    found = []
    for path, _, key, value in _walk(document):
        if not isinstance(value, str):
            continue
        if isinstance(key, int):
            key = path[-2]
        if key in ("url", "api_url", "telegram_api_url", "slack_api_url") or value.startswith(
            ("http://", "https://")
        ):
            host = urlsplit(value).hostname or ""
        elif key in ("targets", "smarthost", "smtp_smarthost"):
            host = value.rsplit(":", 1)[0].strip("[]")
        else:
            continue
        if not _is_loopback(host):
            found.append(value)
    return found


def _rewrite_static_targets(section: dict[str, Any], endpoints: Endpoints, where: str) -> None:
    for static in section.get("static_configs", []):
        static["targets"] = [_local_address(target, endpoints, where) for target in static.get("targets", [])]


def _local_address(address: str, endpoints: Endpoints, where: str) -> str:
    _, _, port = address.rpartition(":")
    service = _SERVICE_BY_PORT.get(int(port)) if port.isdigit() else None
    if service is None:
        known = ", ".join(f"{name} :{number}" for name, number in DEFAULT_PORTS.items())
        raise StackConfigError(
            f"{where}: {address!r} is not one of the stack's services ({known}); the local stack cannot "
            "reach it"
        )
    return endpoints.for_service(service)


def _rewrite_url(url: str, endpoints: Endpoints, where: str) -> str:
    parts = urlsplit(url)
    netloc = _local_address(f"{parts.hostname}:{parts.port}", endpoints, where)
    return urlunsplit(("http", netloc, parts.path, parts.query, parts.fragment))


def _rewrite_secret_files(document: Any, secrets_dir: str) -> None:
    for _, container, key, value in list(_walk(document)):
        if _is_secret_file_key(key):
            container[key] = str(PurePosixPath(secrets_dir) / PurePosixPath(value).name)


def _is_secret_file_key(key: Any) -> bool:
    return isinstance(key, str) and key.endswith("_file") and key not in ("rule_files", "template_files")


def _walk(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any, Any, Any]]:
    """Every scalar below ``node`` as (path of keys to it, its container, its key, its value)."""
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        if isinstance(value, dict | list):
            yield from _walk(value, (*path, key))
        else:
            yield (*path, key), node, key, value


def _routes(route: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield route
    for child in route.get("routes", []):
        yield from _routes(child)


def _is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _format_duration(seconds: float) -> str:
    if seconds == int(seconds):
        return f"{int(seconds)}s"
    return f"{round(seconds * 1000)}ms"
