"""What the tracker shows to whom, beyond the pages' roles: ``/metrics`` only to Prometheus' token (and the
committed prometheus.yml scraping the real server with it), nothing stored by caches, and no link from
outside that is not http(s)."""

from __future__ import annotations

import copy
import json
import time
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml

from alert_webhook import create_app
from alert_webhook.extension import tracker_of
from alert_webhook.services import notifications
from lab.stackconfig import Endpoints, Timing, render_prometheus_config
from tests.tracker.conftest import API_TOKEN, METRICS_TOKEN
from tests.tracker.prometheus import free_port, running_prometheus
from tests.tracker.test_cli import Server, env  # noqa: F401  (env: a fixture)

REPO = Path(__file__).resolve().parents[2]
PAYLOADS = Path(__file__).with_name("payloads")
SCRAPER = {"Authorization": f"Bearer {METRICS_TOKEN}"}
PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


# --- /metrics ------------------------------------------------------------------------------------------


def test_metrics_answer_only_prometheus_token(client, make_user, login, shared_headers):
    admin = make_user("admin")
    refused = {
        "nothing": {},
        "a wrong token": {"Authorization": "Bearer not-the-metrics-token"},
        "the shared API token": shared_headers,
        "a personal token": admin.headers,
        "basic authentication": {"Authorization": "Basic cHJvbWV0aGV1czp4"},
    }
    for what, headers in refused.items():
        answer = client.get("/metrics", headers=headers)
        assert answer.status_code == 401, what
        assert answer.headers["WWW-Authenticate"].startswith("Bearer"), what
        assert "batiknet_" not in answer.get_data(as_text=True), what
    login(admin)
    assert client.get("/metrics").status_code == 401, "nor a signed-in admin's cookie"
    answer = client.get("/metrics", headers=SCRAPER)
    assert answer.status_code == 200 and "batiknet_cases_restored_total" in answer.get_data(as_text=True)


def test_without_a_metrics_token_configured_no_one_reads_the_metrics(app_config):
    app = create_app({**app_config, "BATIKNET_METRICS_TOKEN": None})
    try:
        client = app.test_client()
        for headers in ({}, SCRAPER, {"Authorization": "Bearer "}, {"Authorization": f"Bearer {API_TOKEN}"}):
            assert client.get("/metrics", headers=headers).status_code == 401
    finally:
        tracker_of(app).db.dispose()


def rendered_prometheus_config(tracker_address: str, secrets: Path) -> dict[str, Any]:
    """The committed prometheus.yml as the local stack renders it: the tracker at ``tracker_address``,
    the other services on ports nobody listens on, scraping every second, no rules."""
    committed = yaml.safe_load((REPO / "prometheus" / "prometheus.yml").read_text(encoding="utf-8"))
    unused = {name: f"127.0.0.1:{free_port()}" for name in ("exporter", "prometheus", "alertmanager", "smtp")}
    endpoints = Endpoints(cases=tracker_address, telegram=unused["smtp"], **unused)
    timing = Timing(scrape_interval="1s", evaluation_interval="1s")
    return render_prometheus_config(
        committed, endpoints=endpoints, rule_files=[], secrets_dir=str(secrets), timing=timing
    )


def scrape_health(prometheus: str, job: str) -> tuple[str, str]:
    """(health, last error) of the first target of ``job`` in Prometheus' own view."""
    answer = requests.get(f"{prometheus}/api/v1/targets", params={"state": "active"}, timeout=10).json()
    for target in answer["data"]["activeTargets"]:
        if target["labels"]["job"] == job:
            return target["health"], target["lastError"]
    return "unknown", ""


@pytest.mark.system  # the real tracker under gunicorn, scraped by the real Prometheus
def test_the_committed_prometheus_config_scrapes_the_real_tracker_with_its_token(
    env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "batiknet_metrics_token").write_text(METRICS_TOKEN + "\n")
    (secrets / "wrong_token").write_text("not-the-metrics-token\n")
    with Server(env, workers=1) as server:
        config = rendered_prometheus_config(server.base.removeprefix("http://"), secrets)
        [tracker_job] = [job for job in config["scrape_configs"] if job["job_name"] == "batiknet-cases"]
        assert tracker_job["authorization"]["credentials_file"] == str(secrets / "batiknet_metrics_token")
        wrong = copy.deepcopy(tracker_job) | {"job_name": "wrong-token"}
        wrong["authorization"]["credentials_file"] = str(secrets / "wrong_token")
        anonymous = {k: v for k, v in tracker_job.items() if k != "authorization"} | {"job_name": "no-token"}
        config["scrape_configs"] += [wrong, anonymous]
        with running_prometheus(config, tmp_path / "prometheus") as prometheus:
            deadline = time.monotonic() + 60
            while {
                job: scrape_health(prometheus, job)[0]
                for job in ("batiknet-cases", "wrong-token", "no-token")
            } != {
                "batiknet-cases": "up",
                "wrong-token": "down",
                "no-token": "down",
            }:
                assert time.monotonic() < deadline, "the scrapes did not settle"
                time.sleep(0.5)
            assert "401" in scrape_health(prometheus, "no-token")[1]
            found = requests.get(
                f"{prometheus}/api/v1/query",
                params={"query": 'batiknet_cases{job="batiknet-cases"}'},
                timeout=10,
            ).json()["data"]["result"]
            assert found, "the tracker's series reached Prometheus"


# --- caches --------------------------------------------------------------------------------------------


def not_stored(answer: Any) -> bool:
    return answer.headers.get("Cache-Control") == "no-store" and "Cookie" in answer.headers.get("Vary", "")


def test_no_page_or_api_answer_is_kept_by_a_cache(client, make_user, login, shared_headers):
    technician = make_user("technician")
    letter = {"opd": "setda", "letter_number": "005/12/2026", "letter_date": "2026-11-30",
              "reporter": "Ibu Sari", "description": "Internet mati"}  # fmt: skip
    created = client.post("/api/v1/letters", data={**letter, "file": (BytesIO(PDF), "surat.pdf")},
                          headers=technician.headers, content_type="multipart/form-data")  # fmt: skip
    assert created.status_code == 201
    case_id, scan = created.get_json()["id"], created.get_json()["letters"][0]["file_url"]
    assert not_stored(client.get("/login"))
    api = client.get(f"/api/v1/cases/{case_id}", headers=shared_headers)
    assert api.status_code == 200 and not_stored(api)
    assert not_stored(client.get(scan, headers=shared_headers))
    login(make_user("admin"))
    pages = ["/cases", f"/cases/{case_id}", "/noc", "/complaints", "/evaluation", "/admin/users",
             f"/cases/{case_id}/report", "/letters/new", "/cases/999999"]  # fmt: skip
    for path in [*pages, scan, "/api/v1/cases"]:
        answer = client.get(path)
        assert not_stored(answer), (path, answer.status_code, answer.headers.get("Cache-Control"))
    style = client.get("/static/tracker.css")
    assert style.status_code == 200 and style.headers.get("Cache-Control") != "no-store"


# --- links from outside ---------------------------------------------------------------------------------

HOSTILE_URLS = [
    "javascript:alert(document.cookie)",
    " JaVaScRiPt:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/",
    "/cases",
    "http:///no-host",
]


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_an_alert_link_that_is_not_http_is_no_link(client, make_user, login, shared_headers, url):
    body = json.loads((PAYLOADS / "firing.json").read_text())
    body["alerts"][0]["generatorURL"] = url
    assert client.post("/api/v1/alerts", json=body, headers=shared_headers).status_code == 200
    notifications.apply_pending(tracker_of(client.application))
    login(make_user("technician"))
    page = client.get("/cases/1").get_data(as_text=True)
    assert "BatiknetOPDUnreachable" in page
    assert "script:" not in page.lower() and "data:text" not in page
    assert "Prometheus</a>" not in page  # the link's text, shown only with an http(s) link


def test_http_links_from_alerts_and_to_grafana_are_links(app_config, request, shared_headers):
    app_config["BATIKNET_GRAFANA_URL"] = "https://grafana.kominfo.example"
    client = request.getfixturevalue("client")
    body = json.loads((PAYLOADS / "firing.json").read_text())
    assert client.post("/api/v1/alerts", json=body, headers=shared_headers).status_code == 200
    notifications.apply_pending(tracker_of(client.application))
    request.getfixturevalue("login")(request.getfixturevalue("make_user")("technician"))
    page = client.get("/cases/1").get_data(as_text=True)
    assert 'href="http://prometheus.example:9090/graph?g0.expr=batiknet_target_up+%3D%3D+0"' in page
    assert 'href="https://grafana.kominfo.example/d/batiknet-opd?var-opd=setda&amp;from=' in page
