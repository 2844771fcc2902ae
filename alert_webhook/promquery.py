"""A thin client of Prometheus' HTTP API, for check evidence and the case page's chart.

``check_evidence`` snapshots what the monitoring says at the moment the technicians check (SOP steps
5–7): reachability and RTT of the case's targets, the DNS probes, and which alerts fire. The snapshot is
kept with the check, so the report shows what was seen then, not what Prometheus says later.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import requests

__all__ = ["PrometheusClient", "PrometheusError", "check_evidence", "target_series"]


class PrometheusError(RuntimeError):
    pass


@dataclass
class PrometheusClient:
    base_url: str
    timeout: float = 5.0

    def _get(self, path: str, params: dict[str, Any]) -> Any:
        try:
            response = requests.get(self.base_url.rstrip("/") + path, params=params, timeout=self.timeout)
            document = response.json()
        except (requests.RequestException, ValueError) as error:
            raise PrometheusError(f"Prometheus at {self.base_url} cannot be queried: {error}") from error
        if document.get("status") != "success":
            raise PrometheusError(
                f"Prometheus refused the query: {document.get('error', response.status_code)}"
            )
        return document["data"]["result"]

    def query(self, expression: str, at: datetime) -> list[dict[str, Any]]:
        return self._get("/api/v1/query", {"query": expression, "time": at.timestamp()})

    def query_range(
        self, expression: str, start: datetime, end: datetime, step: float
    ) -> list[dict[str, Any]]:
        params = {"query": expression, "start": start.timestamp(), "end": end.timestamp(), "step": step}
        return self._get("/api/v1/query_range", params)


def _label_regex(values: list[str]) -> str:
    # Target ids are [a-z0-9-] (the inventory enforces it), so they need no escaping in a regex.
    return "|".join(values) or "^$"


def _by_label(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def check_evidence(
    client: PrometheusClient, targets: list[str], dns_servers: list[str], at: datetime
) -> dict[str, dict[str, Any]]:
    """Pre-filled evidence for the monitoring, DNS and connectivity checks, each with a suggested result."""
    selector = f'target=~"{_label_regex(targets)}"'
    try:
        up = _by_label(client.query(f"batiknet_target_up{{{selector}}}", at), "target")
        rtt = _by_label(
            client.query(
                f"rate(batiknet_icmp_rtt_seconds_sum{{{selector}}}[5m])"
                f" / rate(batiknet_icmp_rtt_seconds_count{{{selector}}}[5m])",
                at,
            ),
            "target",
        )
        alerts = sorted(
            {
                r["metric"].get("alertname", "")
                for r in client.query(f'ALERTS{{alertstate="firing",{selector}}}', at)
            }
        )
        dns = {
            f"{r['metric'].get('server', '')} {r['metric'].get('name', '')}": float(r["value"][1])
            for r in client.query(f'batiknet_dns_up{{server=~"{_label_regex(dns_servers)}"}}', at)
        }
    except PrometheusError as error:
        failure = {"queried_at": at.isoformat(), "error": str(error)}
        return {"monitoring": failure, "dns": failure, "connectivity": failure}
    down = sorted(t for t in targets if up.get(t) == 0)
    stamp = at.isoformat()
    return {
        "monitoring": {
            "queried_at": stamp,
            "firing_alerts": alerts,
            "suggested": "fault" if alerts else "ok",
        },
        "dns": {
            "queried_at": stamp,
            "lookups": dns,
            "suggested": "fault" if any(v == 0 for v in dns.values()) else ("ok" if dns else None),
        },
        "connectivity": {
            "queried_at": stamp,
            "up": up,
            "rtt_seconds": rtt,
            "down": down,
            "suggested": "fault" if down else ("ok" if up else None),
        },
    }


def target_series(
    client: PrometheusClient, target: str, start: datetime, end: datetime
) -> dict[str, list[tuple[float, float]]]:
    """Reachability (0/1) and mean RTT in seconds of one target over ``[start, end]`` (about 200 points)."""
    step = max((end - start) / 200, timedelta(seconds=15)).total_seconds()
    selector = f'target="{target}"'
    rtt_expression = (
        f"rate(batiknet_icmp_rtt_seconds_sum{{{selector}}}[1m])"
        f" / rate(batiknet_icmp_rtt_seconds_count{{{selector}}}[1m])"
    )
    series = {}
    for name, expression in (("up", f"batiknet_target_up{{{selector}}}"), ("rtt", rtt_expression)):
        result = client.query_range(expression, start, end, step)
        series[name] = [(float(t), float(v)) for t, v in result[0]["values"]] if result else []
    return series
