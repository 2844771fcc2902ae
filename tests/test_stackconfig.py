"""Rendering of the committed Prometheus/Alertmanager configuration for a stack on loopback."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from lab.stackconfig import (
    Endpoints,
    StackConfigError,
    Timing,
    non_loopback_addresses,
    render_alertmanager_config,
    render_prometheus_config,
    render_rules,
    secret_file_names,
)
from lab.stackrun import API_TOKEN_SECRET, METRICS_TOKEN_SECRET, SINK_SECRETS

REPO = Path(__file__).resolve().parent.parent
ENDPOINTS = Endpoints(
    exporter="127.0.0.1:41001",
    cases="127.0.0.1:41002",
    prometheus="127.0.0.1:41003",
    alertmanager="127.0.0.1:41004",
    smtp="127.0.0.1:41005",
    telegram="127.0.0.1:41006",
)

PROMETHEUS = {
    "global": {"scrape_interval": "15s", "evaluation_interval": "15s", "external_labels": {"network": "x"}},
    "rule_files": ["rules/*.yml"],
    "alerting": {"alertmanagers": [{"static_configs": [{"targets": ["alertmanager:9093"]}]}]},
    "scrape_configs": [
        {"job_name": "exporter", "scrape_timeout": "10s", "static_configs": [{"targets": ["exporter:9817"]}]},
        {
            "job_name": "cases",
            "authorization": {"credentials_file": "/run/secrets/batiknet_api_token"},
            "static_configs": [{"targets": ["cases:8088"]}],
        },
        {"job_name": "prometheus", "static_configs": [{"targets": ["localhost:9090"]}]},
    ],
}

ALERTMANAGER = {
    "global": {"smtp_smarthost": "mail.example.org:587", "smtp_auth_password_file": "/etc/batiknet/smtp"},
    "route": {
        "receiver": "cases",
        "group_wait": "30s",
        "routes": [{"receiver": "mail", "group_interval": "5m"}, {"receiver": "cases"}],
    },
    "receivers": [
        {
            "name": "cases",
            "webhook_configs": [
                {
                    "url": "http://cases:8088/api/v1/alerts",
                    "http_config": {"authorization": {"credentials_file": "/run/secrets/batiknet_api_token"}},
                }
            ],
        },
        {"name": "mail", "email_configs": [{"to": "noc@example.org", "smarthost": "mail.example.org:25"}]},
        {"name": "chat", "telegram_configs": [{"chat_id": 1, "bot_token": "x"}]},
    ],
}


def test_prometheus_targets_point_at_the_local_services_by_port() -> None:
    rendered = render_prometheus_config(
        PROMETHEUS, endpoints=ENDPOINTS, rule_files=["/run/x/rules/a.yml"], secrets_dir="/run/x/secrets"
    )
    targets = {job["job_name"]: job["static_configs"][0]["targets"] for job in rendered["scrape_configs"]}
    assert targets == {
        "exporter": ["127.0.0.1:41001"],
        "cases": ["127.0.0.1:41002"],
        "prometheus": ["127.0.0.1:41003"],
    }
    assert rendered["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["127.0.0.1:41004"]
    assert rendered["rule_files"] == ["/run/x/rules/a.yml"]
    assert (
        rendered["scrape_configs"][1]["authorization"]["credentials_file"]
        == "/run/x/secrets/batiknet_api_token"
    )
    assert rendered["global"]["external_labels"] == {"network": "x"}
    # Without a Timing the committed intervals stay.
    assert rendered["global"]["scrape_interval"] == "15s"
    assert PROMETHEUS["scrape_configs"][0]["static_configs"][0]["targets"] == ["exporter:9817"], (
        "input untouched"
    )


def test_timing_shortens_intervals_and_drops_per_job_timeouts() -> None:
    rendered = render_prometheus_config(
        PROMETHEUS, endpoints=ENDPOINTS, rule_files=[], secrets_dir="/s", timing=Timing(scrape_interval="2s")
    )
    assert rendered["global"]["scrape_interval"] == "2s"
    assert rendered["global"]["evaluation_interval"] == "2s"
    assert "scrape_timeout" not in rendered["scrape_configs"][0]


def test_a_target_outside_the_stack_is_refused() -> None:
    foreign = {"scrape_configs": [{"job_name": "snmp", "static_configs": [{"targets": ["203.0.113.7:161"]}]}]}
    with pytest.raises(StackConfigError, match=r"scrape_configs 'snmp': '203.0.113.7:161' is not one"):
        render_prometheus_config(foreign, endpoints=ENDPOINTS, rule_files=[], secrets_dir="/s")


def test_alertmanager_delivers_only_to_the_local_stack_and_sinks() -> None:
    rendered = render_alertmanager_config(
        ALERTMANAGER, endpoints=ENDPOINTS, secrets_dir="/s", timing=Timing()
    )
    webhook = rendered["receivers"][0]["webhook_configs"][0]
    assert webhook["url"] == "http://127.0.0.1:41002/api/v1/alerts"
    assert webhook["http_config"]["authorization"]["credentials_file"] == "/s/batiknet_api_token"
    assert rendered["global"]["smtp_smarthost"] == "127.0.0.1:41005"
    assert rendered["global"]["smtp_auth_password_file"] == "/s/smtp"
    assert rendered["receivers"][1]["email_configs"][0]["smarthost"] == "127.0.0.1:41005"
    assert rendered["receivers"][2]["telegram_configs"][0]["api_url"] == "http://127.0.0.1:41006"
    assert non_loopback_addresses(rendered) == []
    assert secret_file_names(rendered) == {"batiknet_api_token", "smtp"}


def test_alertmanager_timers_shorten_where_set_and_at_the_root() -> None:
    rendered = render_alertmanager_config(
        ALERTMANAGER,
        endpoints=ENDPOINTS,
        secrets_dir="/s",
        timing=Timing(group_wait="1s", group_interval="2s"),
    )
    route = rendered["route"]
    assert (route["group_wait"], route["group_interval"]) == ("1s", "2s")
    assert route["routes"][0] == {"receiver": "mail", "group_interval": "2s"}
    assert route["routes"][1] == {"receiver": "cases"}


def test_rule_durations_scale_only_when_asked() -> None:
    rules = {
        "groups": [
            {
                "name": "g",
                "interval": "1m",
                "rules": [{"alert": "A", "expr": "up == 0", "for": "2m", "keep_firing_for": "30s"}],
            }
        ]
    }
    assert render_rules(rules) == rules
    kept = render_rules(rules, Timing())
    assert "interval" not in kept["groups"][0]
    assert kept["groups"][0]["rules"][0]["for"] == "2m"
    scaled = render_rules(rules, Timing(duration_scale=0.1, min_rule_duration="6s"))
    assert scaled["groups"][0]["rules"][0]["for"] == "12s"
    assert scaled["groups"][0]["rules"][0]["keep_firing_for"] == "6s", "never below the floor"


def test_non_loopback_addresses_are_found() -> None:
    document = {
        "receivers": [{"webhook_configs": [{"url": "http://198.51.100.7/hook"}]}],
        "global": {"smtp_smarthost": "localhost:25"},
        "scrape_configs": [{"static_configs": [{"targets": ["127.0.0.1:1", "exporter:9817"]}]}],
    }
    assert non_loopback_addresses(document) == ["http://198.51.100.7/hook", "exporter:9817"]


def test_the_committed_configuration_renders_onto_loopback() -> None:
    """The real files: every target and URL they name is one of the stack's services."""
    prometheus = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text())
    rendered = render_prometheus_config(prometheus, endpoints=ENDPOINTS, rule_files=[], secrets_dir="/s")
    assert non_loopback_addresses(rendered) == []
    # Prometheus scrapes the case tracker with the metrics token, which the stack provides.
    assert secret_file_names(rendered) == {METRICS_TOKEN_SECRET}
    alertmanager = yaml.safe_load((REPO / "alertmanager" / "alertmanager.yml").read_text())
    rendered = render_alertmanager_config(alertmanager, endpoints=ENDPOINTS, secrets_dir="/s")
    assert non_loopback_addresses(rendered) == []
    assert secret_file_names(rendered) <= {API_TOKEN_SECRET, *SINK_SECRETS}, "secrets the stack provides"
