"""The committed Prometheus configuration and rules, checked and unit-tested with the real promtool."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import require_binary

pytestmark = pytest.mark.system

REPO = Path(__file__).resolve().parents[2]
PROMETHEUS_DIR = REPO / "prometheus"
RULE_FILES = sorted((PROMETHEUS_DIR / "rules").glob("*.yml"))
RULE_TEST_FILES = sorted((PROMETHEUS_DIR / "tests").glob("*.yml"))


def promtool(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    binary = require_binary("promtool")
    return subprocess.run([binary, *args], cwd=cwd, capture_output=True, text=True, check=False)


def test_prometheus_config_is_valid(tmp_path: Path) -> None:
    # The secret files it names (the case tracker's metrics token) exist only on a server, and promtool
    # checks that they do: they are pointed here, beside the committed rules.
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    committed = (PROMETHEUS_DIR / "prometheus.yml").read_text(encoding="utf-8")
    for name in re.findall(r"/run/secrets/(\w+)", committed):
        (secrets / name).write_text("x\n")
    (tmp_path / "rules").symlink_to(PROMETHEUS_DIR / "rules")
    config = tmp_path / "prometheus.yml"
    config.write_text(committed.replace("/run/secrets/", f"{secrets}/"), encoding="utf-8")
    result = promtool("check", "config", str(config))
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(RULE_FILES)} rule files found" in result.stdout, "the rules were checked too"


@pytest.mark.parametrize("rule_file", RULE_FILES, ids=lambda path: path.name)
def test_rule_file_is_valid(rule_file: Path) -> None:
    result = promtool("check", "rules", str(rule_file))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("test_file", RULE_TEST_FILES, ids=lambda path: path.name)
def test_rule_unit_tests_pass(test_file: Path) -> None:
    result = promtool("test", "rules", test_file.name, cwd=test_file.parent)
    assert result.returncode == 0, result.stdout + result.stderr


def _rules(kind: str) -> list[dict]:
    return [
        rule
        for path in RULE_FILES
        for group in yaml.safe_load(path.read_text(encoding="utf-8"))["groups"]
        for rule in group["rules"]
        if kind in rule
    ]


def _tested_expressions() -> set[str]:
    """Every expression some promql_expr_test of the rule test files evaluates."""
    return {
        case["expr"]
        for path in RULE_TEST_FILES
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]
        for case in test.get("promql_expr_test", [])
    }


def test_every_rule_file_is_unit_tested() -> None:
    tested_files = {
        (test_file.parent / rule_file).resolve()
        for test_file in RULE_TEST_FILES
        for rule_file in yaml.safe_load(test_file.read_text(encoding="utf-8"))["rule_files"]
    }
    assert set(RULE_FILES) <= tested_files


def test_every_alert_has_a_firing_case_and_a_silent_case() -> None:
    firing, silent = set(), set()
    for path in RULE_TEST_FILES:
        for test in yaml.safe_load(path.read_text(encoding="utf-8"))["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else silent).add(case["alertname"])
    alerts = {rule["alert"] for rule in _rules("alert")}
    assert alerts - firing == set(), "alerts never shown firing"
    assert alerts - silent - {"Watchdog"} == set(), "alerts never shown silent before their `for`"


def test_every_recording_rule_is_unit_tested() -> None:
    expressions = " ".join(_tested_expressions())
    missing = {
        rule["record"]
        for rule in _rules("record")
        if not re.search(rf"(?<![\w:]){re.escape(rule['record'])}(?![\w:])", expressions)
    }
    assert missing == set()


def test_every_alert_is_documented_and_labelled() -> None:
    runbooks = (REPO / "docs" / "runbooks.md").read_text(encoding="utf-8")
    for rule in _rules("alert"):
        name = rule["alert"]
        assert rule["labels"]["severity"] in ("critical", "warning", "info"), name
        annotations = rule["annotations"]
        assert {"summary", "description", "runbook_url"} <= set(annotations), name
        anchor = name.lower()
        assert annotations["runbook_url"].endswith(f"docs/runbooks.md#{anchor}"), name
        assert f"\n## {name}\n" in runbooks, f"docs/runbooks.md has no section '## {name}'"
