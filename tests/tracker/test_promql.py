"""Every value the tracker puts into a PromQL query means exactly itself: checked against a real Prometheus.

A case's target comes from an alert's label, which anyone able to make Prometheus or Alertmanager carry a
label chooses. Prometheus scrapes a small exposition (written by ``prometheus_client``, not by the code
under test) whose ``batiknet_target_up`` series carry arbitrary ``target`` values; the queries built with
:func:`alert_webhook.promquery.quote` and :func:`~alert_webhook.promquery.any_of` must find exactly the
series of the value asked for, whatever it holds: quotes, backslashes, newlines, control characters,
U+FFFD (which Prometheus' lexer takes for broken UTF-8 unless it is escaped), or a PromQL expression.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily

from alert_webhook.core.workflow import Check
from alert_webhook.promquery import PrometheusClient, any_of, quote
from alert_webhook.services.evidence import check_evidence, target_series
from tests.tracker.prometheus import running_prometheus

INJECTION = 'x"} or count_values("u", up) or {__name__="y'
SCRAPE_MS = 200


class Exposition:
    """``batiknet_target_up{target=V} 1`` for every V added so far, served on a loopback port."""

    def __init__(self) -> None:
        self.targets: set[str] = set()
        self.lock = threading.Lock()
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily("batiknet_target_up", "Test targets.", labels=["target"])
        with self.lock:
            for target in sorted(self.targets):
                family.add_metric([target], 1)
        yield family

    def add(self, *targets: str) -> None:
        with self.lock:
            self.targets.update(targets)


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[PrometheusClient, Exposition]]:
    exposition = Exposition()
    threading.Thread(target=exposition.server.serve_forever, daemon=True).start()
    config = {
        "global": {"scrape_interval": f"{SCRAPE_MS}ms", "scrape_timeout": f"{SCRAPE_MS}ms"},
        "scrape_configs": [{"job_name": "labels", "static_configs": [{"targets": [exposition.address]}]}],
    }
    try:
        with running_prometheus(config, tmp_path_factory.mktemp("prometheus")) as url:
            yield PrometheusClient(url), exposition
    finally:
        exposition.server.shutdown()
        exposition.server.server_close()


def now() -> datetime:
    return datetime.now(UTC)


def scraped(client: PrometheusClient, exposition: Exposition, *targets: str) -> None:
    """Expose ``targets`` and wait until Prometheus has every series exposed so far."""
    exposition.add(*targets)
    expected = len(exposition.targets)
    deadline = time.monotonic() + 30
    while True:
        found = client.query("count(batiknet_target_up)", now())
        if found and int(float(found[0]["value"][1])) == expected:
            return
        assert time.monotonic() < deadline, f"Prometheus did not scrape {expected} series"
        time.sleep(SCRAPE_MS / 2000)


def targets_of(result: list[dict[str, Any]]) -> list[str]:
    # An empty label value is no label at all in Prometheus.
    return sorted(series["metric"].get("target", "") for series in result)


@pytest.mark.system  # the real Prometheus
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(values=st.lists(st.text(max_size=24), min_size=1, max_size=8, unique=True))
@example(values=[INJECTION, "x", "y"])
@example(values=["\ufffd", "a\ufffdb"])  # the lexer's "invalid UTF-8 rune" unless escaped
@example(values=["\\", '\\"', '"', "\n", "\\n", "\r\t\x00\x07", "\u2028", "\U0001f600", "\\u0041"])
@example(values=["a|b", ".*", "(", "[^]", "^$", " ", "$1", "\\\\."])  # regular expression syntax
def test_any_text_is_an_exact_match_label_value(prometheus: Any, values: list[str]) -> None:
    client, exposition = prometheus
    scraped(client, exposition, *values)
    at = now()
    for value in values:
        assert targets_of(client.query(f"batiknet_target_up{{target={quote(value)}}}", at)) == [value]
    chosen = values[: max(1, len(values) // 2)]
    assert targets_of(client.query(f"batiknet_target_up{{target=~{any_of(chosen)}}}", at)) == sorted(chosen)


@pytest.mark.system  # the real Prometheus
def test_the_injection_returns_only_the_intended_series(prometheus: Any) -> None:
    client, exposition = prometheus
    scraped(client, exposition, INJECTION, "x", "y")
    # Pasted as it was, the label would have been PromQL: series of everything Prometheus has.
    pasted = client.query(f'batiknet_target_up{{target="{INJECTION}"}}', now())
    assert any("target" not in series["metric"] for series in pasted)

    evidence = check_evidence(client, [INJECTION], [], now())
    assert evidence[Check.CONNECTIVITY]["up"] == {INJECTION: 1.0}
    assert "error" not in evidence[Check.MONITORING]
    series = target_series(client, INJECTION, now() - timedelta(minutes=1), now())
    assert series["up"] and all(value == 1.0 for _, value in series["up"])
    assert targets_of(client.query(f"batiknet_target_up{{target={quote(INJECTION)}}}", now())) == [INJECTION]


@pytest.mark.system  # the real Prometheus
def test_a_value_prometheus_cannot_hold_is_an_error_of_the_query_not_of_the_request(prometheus: Any) -> None:
    """A lone surrogate (JSON may carry one) is no Unicode character: Prometheus refuses the escape, and
    the tracker reports that instead of failing to encode the request."""
    client, _ = prometheus
    evidence = check_evidence(client, ["\ud800"], [], now())
    assert "invalid Unicode code point" in evidence[Check.CONNECTIVITY]["error"]


def test_quote_writes_the_readable_characters_as_they_are() -> None:
    assert quote("setda") == '"setda"'
    assert quote('a"b\\c\nd') == '"a\\"b\\\\c\\nd"'
    assert quote("Dinas Kominfo – Pekalongan") == '"Dinas Kominfo – Pekalongan"'
    assert quote("\ufffd\x00\u2028") == '"\\ufffd\\u0000\\u2028"'
