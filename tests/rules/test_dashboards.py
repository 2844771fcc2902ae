"""The Grafana dashboards: generated code equals the committed JSON (no drift), and every dashboard follows
the conventions the NOC relies on (stable uids, the pinned datasource through a variable,
$__rate_interval as the only range, unique panel ids, panels that do not overlap, Indonesian titles)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
GRAFANA = REPO / "grafana"
DASHBOARD_FILES = sorted((GRAFANA / "dashboards").glob("*.json"))
EXPECTED_UIDS = {
    "noc-overview.json": "batiknet-noc",
    "opd-detail.json": "batiknet-opd",
    "core-devices.json": "batiknet-core",
    "service-level.json": "batiknet-service-level",
}
# English words that have no place in an Indonesian title or label (words shared by both languages, such
# as "status", "port" or "server", are fine).
ENGLISH_WORDS = {
    "availability", "case", "cases", "closed", "current", "device", "devices", "down", "errors", "latency",
    "level", "loss", "memory", "open", "opened", "overdue", "overview", "packet", "restore", "service",
    "technician", "traffic", "up", "uptime", "interface", "interfaces", "time",
}  # fmt: skip
RANGE_SELECTOR = re.compile(r"\[([^\]]+)\]")


def load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def panels(board: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in board["panels"] if panel["type"] != "row"]


def texts(board: dict[str, Any]) -> list[str]:
    """Every piece of text a viewer reads: titles, legends, column headings, value mappings, variables."""
    found = [board["title"]]
    for panel in board["panels"]:
        found.append(panel["title"])
        found += [target.get("legendFormat", "") for target in panel.get("targets", [])]
        for transformation in panel.get("transformations", []):
            found += list(transformation.get("options", {}).get("renameByName", {}).values())
        for mapping in panel.get("fieldConfig", {}).get("defaults", {}).get("mappings", []):
            found += [result.get("text", "") for result in mapping.get("options", {}).values()]
    found += [variable.get("label", "") for variable in board["templating"]["list"]]
    return found


def test_committed_dashboards_equal_the_generated_ones(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, str(GRAFANA / "generate.py"), "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    generated = sorted(path.name for path in tmp_path.glob("*.json"))
    assert generated == [path.name for path in DASHBOARD_FILES]
    for committed in DASHBOARD_FILES:
        assert (tmp_path / committed.name).read_text(encoding="utf-8") == committed.read_text(
            encoding="utf-8"
        ), f"{committed.name} drifted: run .venv/bin/python grafana/generate.py and commit"


def test_uids_are_the_stable_ones() -> None:
    assert {path.name: load(path)["uid"] for path in DASHBOARD_FILES} == EXPECTED_UIDS


def test_provisioning_pins_the_datasource_and_locks_the_dashboards() -> None:
    datasources = yaml.safe_load((GRAFANA / "provisioning/datasources/prometheus.yml").read_text())
    [datasource] = datasources["datasources"]
    assert (datasource["uid"], datasource["type"]) == ("batiknet-prometheus", "prometheus")
    providers = yaml.safe_load((GRAFANA / "provisioning/dashboards/batiknet.yml").read_text())
    [provider] = providers["providers"]
    assert provider["allowUiUpdates"] is False
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.name)
def test_datasource_variable_defaults_to_the_provisioned_datasource(path: Path) -> None:
    board = load(path)
    [variable] = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert (variable["name"], variable["query"]) == ("datasource", "prometheus")
    assert variable["current"]["value"] == "batiknet-prometheus"
    for panel in board["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel["title"]
    for variable in board["templating"]["list"]:
        if variable["type"] == "query":
            assert variable["datasource"]["uid"] == "${datasource}"


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.name)
def test_every_range_is_the_rate_interval(path: Path) -> None:
    """Rates and increases over $__rate_interval; whole-period figures use `offset $__range`, not ranges."""
    for panel in panels(load(path)):
        assert panel.get("targets"), f"{panel['title']}: no query"
        for target in panel["targets"]:
            windows = set(RANGE_SELECTOR.findall(target["expr"]))
            assert windows <= {"$__rate_interval"}, f"{panel['title']}: {target['expr']}"
            if re.search(r"\b(rate|irate|increase)\(", target["expr"]):
                assert windows == {"$__rate_interval"}, panel["title"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.name)
def test_panel_ids_are_unique_and_panels_do_not_overlap(path: Path) -> None:
    board = load(path)
    ids = [panel["id"] for panel in board["panels"]]
    assert len(ids) == len(set(ids))
    taken: dict[tuple[int, int], str] = {}
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in taken, f"{panel['title']} overlaps {taken[(x, y)]}"
                taken[(x, y)] = panel["title"]


@pytest.mark.parametrize("path", DASHBOARD_FILES, ids=lambda path: path.name)
def test_titles_and_labels_are_indonesian(path: Path) -> None:
    for text in texts(load(path)):
        words = set(re.findall(r"[a-z]+", re.sub(r"\{\{[^}]*\}\}", "", text).lower()))
        assert not words & ENGLISH_WORDS, f"English in {text!r}"
