"""Evidence from Prometheus: the snapshot kept with a check, and the chart of a case's target.

``check_prefill`` snapshots what the monitoring says at the moment the technicians check (SOP steps 5–7):
reachability and RTT of the case's targets, the DNS probes, and which alerts fire. The snapshot is kept
with the check, so the report shows what was seen then, not what Prometheus says later. ``case_chart``
gives the series the API answers and the case page draws, over one window
(:func:`..core.chart.window_around`).

Every value put into a query goes through :func:`..promquery.quote` (or :func:`..promquery.any_of`): a
case's target is an alert's label, chosen outside the tracker, and is never pasted into a query.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any

from ..core.chart import window_around
from ..core.workflow import Check, CheckResult
from ..promquery import PrometheusClient, PrometheusError, any_of, quote
from .cases import load_case
from .tracker import Tracker

__all__ = ["NOT_CONFIGURED", "ChartSeries", "case_chart", "check_prefill"]

NOT_CONFIGURED = "no Prometheus configured (BATIKNET_PROMETHEUS_URL)"
Sample = tuple[float, float]  # (unix seconds, value)


def _by_label(result: list[dict[str, Any]], label: str) -> dict[str, float]:
    return {r["metric"].get(label, ""): float(r["value"][1]) for r in result}


def check_evidence(
    client: PrometheusClient, targets: list[str], dns_servers: list[str], at: datetime
) -> dict[Check, dict[str, Any]]:
    """Pre-filled evidence for the monitored checks, each with a suggested result."""
    selector = f"target=~{any_of(targets)}"
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
            for r in client.query(f"batiknet_dns_up{{server=~{any_of(dns_servers)}}}", at)
        }
    except PrometheusError as error:
        failure = {"queried_at": at.isoformat(), "error": str(error)}
        return {check: failure for check in (Check.MONITORING, Check.DNS, Check.CONNECTIVITY)}
    down = sorted(t for t in targets if up.get(t) == 0)
    stamp = at.isoformat()
    return {
        Check.MONITORING: {
            "queried_at": stamp,
            "firing_alerts": alerts,
            "suggested": CheckResult.FAULT if alerts else CheckResult.OK,
        },
        Check.DNS: {
            "queried_at": stamp,
            "lookups": dns,
            "suggested": CheckResult.FAULT
            if any(v == 0 for v in dns.values())
            else (CheckResult.OK if dns else None),
        },
        Check.CONNECTIVITY: {
            "queried_at": stamp,
            "up": up,
            "rtt_seconds": rtt,
            "down": down,
            "suggested": CheckResult.FAULT if down else (CheckResult.OK if up else None),
        },
    }


def check_prefill(tracker: Tracker, case_id: int) -> dict[Check, dict[str, Any]]:
    """Evidence for the monitoring, DNS and connectivity checks of a case, from Prometheus right now."""
    with tracker.db.read() as session:
        targets = [t.target for t in load_case(session, case_id).targets]
    if tracker.prometheus is None:
        return {c: {"error": NOT_CONFIGURED} for c in (Check.MONITORING, Check.DNS, Check.CONNECTIVITY)}
    dns_ids = [d.id for d in tracker.inventory.dns_servers] if tracker.inventory is not None else []
    return check_evidence(tracker.prometheus, targets, dns_ids, tracker.now())


def target_series(
    client: PrometheusClient, target: str, start: datetime, end: datetime
) -> dict[str, list[Sample]]:
    """Reachability (0/1) and mean RTT in seconds of one target over ``[start, end]`` (about 200 points)."""
    step = max((end - start) / 200, timedelta(seconds=15)).total_seconds()
    selector = f"target={quote(target)}"
    rtt_expression = (
        f"rate(batiknet_icmp_rtt_seconds_sum{{{selector}}}[1m])"
        f" / rate(batiknet_icmp_rtt_seconds_count{{{selector}}}[1m])"
    )
    series = {}
    for name, expression in (("up", f"batiknet_target_up{{{selector}}}"), ("rtt", rtt_expression)):
        result = client.query_range(expression, start, end, step)
        series[name] = [(float(t), float(v)) for t, v in result[0]["values"]] if result else []
    return series


@dataclass(frozen=True)
class ChartSeries:
    """Reachability and RTT of a case's target around the disruption; ``error`` says why there are none."""

    target: str
    start: datetime
    end: datetime
    received_at: datetime
    restored_at: datetime | None  # as entered by the technicians, else as the alerts resolved
    up: list[Sample] = field(default_factory=list)
    rtt: list[Sample] = field(default_factory=list)
    error: str | None = None


def case_chart(tracker: Tracker, case_id: int) -> ChartSeries:
    """The chart of a case: the window of :func:`window_around` and the series Prometheus has for it."""
    with tracker.db.read() as session:
        case = load_case(session, case_id)
        target, received = case.target, case.received_at
        restored = case.restored_at or case.network_restored_at
    start, end = window_around(received, restored, tracker.now())
    chart = ChartSeries(target=target, start=start, end=end, received_at=received, restored_at=restored)
    if tracker.prometheus is None:
        return replace(chart, error=NOT_CONFIGURED)
    try:
        series = target_series(tracker.prometheus, target, start, end)
    except PrometheusError as error:
        return replace(chart, error=str(error))
    return replace(chart, up=series["up"], rtt=series["rtt"])
